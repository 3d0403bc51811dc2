/* wsc_mask.h - WebSocket payload masking (RFC 6455 section 5.3), portable scalar kernel.
 *
 * out[i] = in[i] ^ key[(phase + i) & 3]
 *
 * The kernel XORs one machine word (uint64) at a time. Loads and stores go through memcpy, so any
 * alignment is fine (compilers turn a fixed 8-byte memcpy into a single move); the head is masked
 * byte by byte until the output is 8-byte aligned, the tail after the last whole word likewise.
 * Only baseline x86-64 (or any C99 target) is needed: wider kernels live in their own files
 * (kernels/mask_*.c) and are chosen at run time (wsc_cpu.h); they use wsc_mask_short for their
 * tails, and wsc_dispatch.h uses it for inputs shorter than a vector.
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

/* the 4 key bytes starting at key byte `phase`, as they lie in memory (for vector broadcasts) */
static inline uint32_t wsc_mask_word(const unsigned char key[4], unsigned phase)
{
    unsigned char k[4];
    uint32_t word;
    wsc_mask_rotate(k, key, phase);
    memcpy(&word, k, 4);
    return word;
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

/* The same for a short run (the tails of the vector kernels, n < 16 in practice): one 8-byte word
 * and single bytes, no alignment step. */
static inline unsigned wsc_mask_short(unsigned char *out, const unsigned char *in, size_t n,
                                      const unsigned char key[4], unsigned phase)
{
    unsigned char k[8];
    uint64_t word, kw;
    size_t i = 0;

    if (n < 8) {
        for (; i < n; i++)
            out[i] = in[i] ^ key[(phase + i) & 3];
        return (unsigned)((phase + n) & 3);
    }
    wsc_mask_rotate(k, key, phase);
    memcpy(k + 4, k, 4);
    memcpy(&kw, k, 8);
    for (; n - i >= 8; i += 8) {
        memcpy(&word, in + i, 8);
        word ^= kw;
        memcpy(out + i, &word, 8);
    }
    for (; i < n; i++)
        out[i] = in[i] ^ k[i & 3];
    return (unsigned)((phase + n) & 3);
}

#endif /* WSC_MASK_H */
