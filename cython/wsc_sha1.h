/* wsc_sha1.h - SHA-1 (FIPS 180-4), portable scalar compression and the padding around any
 * compression kernel (the table's, which is SHA-NI where the CPU has it: kernels/sha1_sha.c).
 *
 * SHA-1 is broken for collision resistance; RFC 6455 uses it as a fixed transform of the key, not
 * for security, so a small self-contained implementation is all that is needed (no OpenSSL).
 */
#ifndef WSC_SHA1_H
#define WSC_SHA1_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

static inline uint32_t wsc_sha1_rol(uint32_t x, unsigned n)
{
    return (x << n) | (x >> (32 - n));
}

static inline uint32_t wsc_sha1_be32(const unsigned char *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | (uint32_t)p[3];
}

/* Fully unrolled: the round function and constant are fixed per round, the five working variables
 * change roles instead of moving (round t computes the new `a` into the variable that held `e`),
 * and the schedule keeps the last 16 words in a ring:
 * w[t] = rol1(w[t-3] ^ w[t-8] ^ w[t-14] ^ w[t-16]), t-3 = t+13, t-8 = t+8, t-14 = t+2 (mod 16). */
#define WSC_SHA1_W(t)                                                                                   \
    ((t) < 16 ? w[(t)&15]                                                                               \
              : (w[(t)&15] = wsc_sha1_rol(w[((t) + 13) & 15] ^ w[((t) + 8) & 15] ^ w[((t) + 2) & 15] ^ w[(t)&15], 1)))
#define WSC_SHA1_F1(b, c, d) ((d) ^ ((b) & ((c) ^ (d))))
#define WSC_SHA1_F2(b, c, d) ((b) ^ (c) ^ (d))
#define WSC_SHA1_F3(b, c, d) (((b) & (c)) | ((d) & ((b) | (c))))
#define WSC_SHA1_R(f, k, a, b, c, d, e, t)                                 \
    do {                                                                   \
        e += wsc_sha1_rol(a, 5) + f(b, c, d) + (k) + WSC_SHA1_W(t);        \
        b = wsc_sha1_rol(b, 30);                                           \
    } while (0)
/* five rounds, after which the variables are back in their roles */
#define WSC_SHA1_5(f, k, t)                     \
    WSC_SHA1_R(f, k, a, b, c, d, e, (t));       \
    WSC_SHA1_R(f, k, e, a, b, c, d, (t) + 1);   \
    WSC_SHA1_R(f, k, d, e, a, b, c, (t) + 2);   \
    WSC_SHA1_R(f, k, c, d, e, a, b, (t) + 3);   \
    WSC_SHA1_R(f, k, b, c, d, e, a, (t) + 4)

static inline void wsc_sha1_compress(uint32_t h[5], const unsigned char p[64])
{
    uint32_t w[16], a = h[0], b = h[1], c = h[2], d = h[3], e = h[4];
    unsigned t;

    for (t = 0; t < 16; t++)
        w[t] = wsc_sha1_be32(p + 4 * t);
    WSC_SHA1_5(WSC_SHA1_F1, 0x5A827999u, 0);
    WSC_SHA1_5(WSC_SHA1_F1, 0x5A827999u, 5);
    WSC_SHA1_5(WSC_SHA1_F1, 0x5A827999u, 10);
    WSC_SHA1_5(WSC_SHA1_F1, 0x5A827999u, 15);
    WSC_SHA1_5(WSC_SHA1_F2, 0x6ED9EBA1u, 20);
    WSC_SHA1_5(WSC_SHA1_F2, 0x6ED9EBA1u, 25);
    WSC_SHA1_5(WSC_SHA1_F2, 0x6ED9EBA1u, 30);
    WSC_SHA1_5(WSC_SHA1_F2, 0x6ED9EBA1u, 35);
    WSC_SHA1_5(WSC_SHA1_F3, 0x8F1BBCDCu, 40);
    WSC_SHA1_5(WSC_SHA1_F3, 0x8F1BBCDCu, 45);
    WSC_SHA1_5(WSC_SHA1_F3, 0x8F1BBCDCu, 50);
    WSC_SHA1_5(WSC_SHA1_F3, 0x8F1BBCDCu, 55);
    WSC_SHA1_5(WSC_SHA1_F2, 0xCA62C1D6u, 60);
    WSC_SHA1_5(WSC_SHA1_F2, 0xCA62C1D6u, 65);
    WSC_SHA1_5(WSC_SHA1_F2, 0xCA62C1D6u, 70);
    WSC_SHA1_5(WSC_SHA1_F2, 0xCA62C1D6u, 75);
    h[0] += a;
    h[1] += b;
    h[2] += c;
    h[3] += d;
    h[4] += e;
}

#undef WSC_SHA1_W
#undef WSC_SHA1_F1
#undef WSC_SHA1_F2
#undef WSC_SHA1_F3
#undef WSC_SHA1_R
#undef WSC_SHA1_5

static inline void wsc_sha1_init(uint32_t h[5])
{
    h[0] = 0x67452301u;
    h[1] = 0xEFCDAB89u;
    h[2] = 0x98BADCFEu;
    h[3] = 0x10325476u;
    h[4] = 0xC3D2E1F0u;
}

static inline void wsc_sha1_output(const uint32_t h[5], unsigned char digest[20])
{
    unsigned i;
    for (i = 0; i < 20; i++)
        digest[i] = (unsigned char)(h[i / 4] >> (24 - 8 * (i % 4)));
}

/* Digest of data[0..n) with `compress` (nblocks whole blocks into h). */
static inline void wsc_sha1_digest(void (*compress)(uint32_t *, const unsigned char *, size_t),
                                   const unsigned char *data, size_t n, unsigned char digest[20])
{
    uint32_t h[5];
    unsigned char last[128];
    size_t whole = n / 64, rest = n % 64, padded = rest < 56 ? 64 : 128;
    uint64_t bits = (uint64_t)n * 8;
    unsigned i;

    wsc_sha1_init(h);
    if (whole)
        compress(h, data, whole);
    memset(last, 0, sizeof(last));
    memcpy(last, data + 64 * whole, rest);
    last[rest] = 0x80;
    for (i = 0; i < 8; i++)
        last[padded - 1 - i] = (unsigned char)(bits >> (8 * i));
    compress(h, last, padded / 64);
    wsc_sha1_output(h, digest);
}

#endif /* WSC_SHA1_H */
