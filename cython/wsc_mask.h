/* wsc_mask.h - WebSocket payload masking (RFC 6455 section 5.3), portable scalar kernel.
 *
 * out[i] = in[i] ^ key[(phase + i) & 3]
 *
 * The kernel XORs one machine word (uint64) at a time. Loads and stores go through memcpy, so any
 * alignment is fine (compilers turn a fixed 8-byte memcpy into a single move); the head is masked
 * byte by byte until the output is 8-byte aligned, the tail after the last whole word likewise.
 * Only baseline x86-64 (or any C99 target) is needed: wider kernels live in their own files and
 * are chosen at run time by wsc_dispatch.h.
 */
#ifndef WSC_MASK_H
#define WSC_MASK_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* key rotated so that rotated[0] == key[phase & 3] */
static inline void wsc_mask_rotate(unsigned char rotated[4], const unsigned char key[4], unsigned phase)
{
    unsigned i;
    for (i = 0; i < 4; i++)
        rotated[i] = key[(phase + i) & 3];
}

/* Mask n bytes from in to out starting at key byte `phase`; returns the phase of the next byte.
 * out == in (in place) is allowed; any other overlap is not. */
static inline unsigned wsc_mask_scalar(unsigned char *out, const unsigned char *in, size_t n,
                                       const unsigned char key[4], unsigned phase)
{
    unsigned char k[8];
    uint64_t word, kw;
    size_t i = 0, head;
    unsigned next = (unsigned)((phase + n) & 3);

    phase &= 3;
    head = (size_t)(-(uintptr_t)out & 7u);
    if (head > n)
        head = n;
    for (; i < head; i++)
        out[i] = in[i] ^ key[(phase + i) & 3];
    phase = (unsigned)((phase + head) & 3);

    wsc_mask_rotate(k, key, phase);
    memcpy(k + 4, k, 4);
    memcpy(&kw, k, 8);
    for (; n - i >= 32; i += 32) {
        uint64_t w0, w1, w2, w3;
        memcpy(&w0, in + i, 8);
        memcpy(&w1, in + i + 8, 8);
        memcpy(&w2, in + i + 16, 8);
        memcpy(&w3, in + i + 24, 8);
        w0 ^= kw;
        w1 ^= kw;
        w2 ^= kw;
        w3 ^= kw;
        memcpy(out + i, &w0, 8);
        memcpy(out + i + 8, &w1, 8);
        memcpy(out + i + 16, &w2, 8);
        memcpy(out + i + 24, &w3, 8);
    }
    for (; n - i >= 8; i += 8) {
        memcpy(&word, in + i, 8);
        word ^= kw;
        memcpy(out + i, &word, 8);
    }
    /* i is a multiple of 4 past `head`, so the tail starts at rotated key byte 0 */
    for (; i < n; i++)
        out[i] = in[i] ^ k[(i - head) & 3];
    return next;
}

/* copy variant: out and in must not overlap */
static inline unsigned wsc_mask_copy_scalar(unsigned char *out, const unsigned char *in, size_t n,
                                            const unsigned char key[4], unsigned phase)
{
    return wsc_mask_scalar(out, in, n, key, phase);
}

/* in-place variant */
static inline unsigned wsc_mask_inplace_scalar(unsigned char *buf, size_t n, const unsigned char key[4],
                                               unsigned phase)
{
    return wsc_mask_scalar(buf, buf, n, key, phase);
}

#endif /* WSC_MASK_H */
