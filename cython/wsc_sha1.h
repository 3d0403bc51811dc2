/* wsc_sha1.h - self-contained SHA-1 (FIPS 180-4), for Sec-WebSocket-Accept only.
 *
 * SHA-1 is broken for collision resistance; RFC 6455 uses it as a fixed transform of the key, not
 * for security, so a small portable implementation is all that is needed (no OpenSSL).
 */
#ifndef WSC_SHA1_H
#define WSC_SHA1_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef struct {
    uint32_t h[5];
    uint64_t length;          /* bytes hashed so far */
    unsigned char block[64];  /* pending input */
    size_t used;              /* bytes in block */
} wsc_sha1_ctx;

static inline uint32_t wsc_sha1_rol(uint32_t x, unsigned n)
{
    return (x << n) | (x >> (32 - n));
}

static inline void wsc_sha1_compress(uint32_t h[5], const unsigned char p[64])
{
    uint32_t w[80], a, b, c, d, e, f, k, t;
    unsigned i;

    for (i = 0; i < 16; i++)
        w[i] = ((uint32_t)p[4 * i] << 24) | ((uint32_t)p[4 * i + 1] << 16) |
               ((uint32_t)p[4 * i + 2] << 8) | (uint32_t)p[4 * i + 3];
    for (i = 16; i < 80; i++)
        w[i] = wsc_sha1_rol(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
    a = h[0];
    b = h[1];
    c = h[2];
    d = h[3];
    e = h[4];
    for (i = 0; i < 80; i++) {
        if (i < 20) {
            f = (b & c) | (~b & d);
            k = 0x5A827999u;
        } else if (i < 40) {
            f = b ^ c ^ d;
            k = 0x6ED9EBA1u;
        } else if (i < 60) {
            f = (b & c) | (b & d) | (c & d);
            k = 0x8F1BBCDCu;
        } else {
            f = b ^ c ^ d;
            k = 0xCA62C1D6u;
        }
        t = wsc_sha1_rol(a, 5) + f + e + k + w[i];
        e = d;
        d = c;
        c = wsc_sha1_rol(b, 30);
        b = a;
        a = t;
    }
    h[0] += a;
    h[1] += b;
    h[2] += c;
    h[3] += d;
    h[4] += e;
}

static inline void wsc_sha1_init(wsc_sha1_ctx *ctx)
{
    ctx->h[0] = 0x67452301u;
    ctx->h[1] = 0xEFCDAB89u;
    ctx->h[2] = 0x98BADCFEu;
    ctx->h[3] = 0x10325476u;
    ctx->h[4] = 0xC3D2E1F0u;
    ctx->length = 0;
    ctx->used = 0;
}

static inline void wsc_sha1_update(wsc_sha1_ctx *ctx, const unsigned char *data, size_t n)
{
    size_t take;

    ctx->length += n;
    while (n > 0) {
        if (ctx->used == 0 && n >= 64) {
            wsc_sha1_compress(ctx->h, data);
            data += 64;
            n -= 64;
            continue;
        }
        take = 64 - ctx->used;
        if (take > n)
            take = n;
        memcpy(ctx->block + ctx->used, data, take);
        ctx->used += take;
        data += take;
        n -= take;
        if (ctx->used == 64) {
            wsc_sha1_compress(ctx->h, ctx->block);
            ctx->used = 0;
        }
    }
}

static inline void wsc_sha1_final(wsc_sha1_ctx *ctx, unsigned char digest[20])
{
    uint64_t bits = ctx->length * 8;
    unsigned i;

    ctx->block[ctx->used++] = 0x80;
    if (ctx->used > 56) {
        memset(ctx->block + ctx->used, 0, 64 - ctx->used);
        wsc_sha1_compress(ctx->h, ctx->block);
        ctx->used = 0;
    }
    memset(ctx->block + ctx->used, 0, 56 - ctx->used);
    for (i = 0; i < 8; i++)
        ctx->block[56 + i] = (unsigned char)(bits >> (56 - 8 * i));
    wsc_sha1_compress(ctx->h, ctx->block);
    for (i = 0; i < 20; i++)
        digest[i] = (unsigned char)(ctx->h[i / 4] >> (24 - 8 * (i % 4)));
}

/* one-shot digest of a || b (the key and the GUID) */
static inline void wsc_sha1_2(const unsigned char *a, size_t na, const unsigned char *b, size_t nb,
                              unsigned char digest[20])
{
    wsc_sha1_ctx ctx;
    wsc_sha1_init(&ctx);
    wsc_sha1_update(&ctx, a, na);
    wsc_sha1_update(&ctx, b, nb);
    wsc_sha1_final(&ctx, digest);
}

#endif /* WSC_SHA1_H */
