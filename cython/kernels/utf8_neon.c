/* utf8_neon.c - UTF-8 validation with 16-byte NEON vectors (baseline on aarch64): the lookup
 * algorithm over 64-byte blocks_neon, with an ASCII fast path (see utf8_simd.h for the algorithm and
 * how the DFA keeps the exact failure offset). */
#include "wsc_cpu.h"

#ifdef WSC_AARCH64
#include <arm_neon.h>

#include "utf8_simd.h"

typedef struct {
    uint8x16_t t1h, t1l, t2h;
} tables;

/* error bits of the 16 bytes of `in`; `prev` holds the 16 bytes before them */
static inline uint8x16_t check16_neon(const tables *t, uint8x16_t in, uint8x16_t prev)
{
    uint8x16_t prev1 = vextq_u8(prev, in, 15);
    uint8x16_t prev2 = vextq_u8(prev, in, 14);
    uint8x16_t prev3 = vextq_u8(prev, in, 13);
    uint8x16_t b1h = vqtbl1q_u8(t->t1h, vshrq_n_u8(prev1, 4));
    uint8x16_t b1l = vqtbl1q_u8(t->t1l, vandq_u8(prev1, vdupq_n_u8(0x0F)));
    uint8x16_t b2h = vqtbl1q_u8(t->t2h, vshrq_n_u8(in, 4));
    uint8x16_t special = vandq_u8(vandq_u8(b1h, b1l), b2h);
    uint8x16_t must23 = vorrq_u8(vqsubq_u8(prev2, vdupq_n_u8(0xE0 - 0x80)), vqsubq_u8(prev3, vdupq_n_u8(0xF0 - 0x80)));
    return veorq_u8(vandq_u8(must23, vdupq_n_u8(0x80)), special);
}

/* the block checker of utf8_simd.h: whole 64-byte blocks, then the zero-padded tail */
static inline size_t blocks_neon(const unsigned char *s, size_t n, int *complete)
{
    tables t;
    uint8x16_t last3 = vld1q_u8(wsc_utf8_last3), prev = vdupq_n_u8(0), in0, in1, in2, in3, err;
    unsigned char pad[64];
    int unfinished = 0;
    size_t i;

    t.t1h = vld1q_u8(wsc_utf8_byte1_high);
    t.t1l = vld1q_u8(wsc_utf8_byte1_low);
    t.t2h = vld1q_u8(wsc_utf8_byte2_high);
    for (i = 0; n - i >= 64; i += 64) {
        in0 = vld1q_u8(s + i);
        in1 = vld1q_u8(s + i + 16);
        in2 = vld1q_u8(s + i + 32);
        in3 = vld1q_u8(s + i + 48);
        if (vmaxvq_u8(vorrq_u8(vorrq_u8(in0, in1), vorrq_u8(in2, in3))) < 0x80) {
            if (unfinished)
                return i; /* ASCII after a sequence cut at the block boundary */
        } else {
            err = vorrq_u8(vorrq_u8(check16_neon(&t, in0, prev), check16_neon(&t, in1, in0)),
                           vorrq_u8(check16_neon(&t, in2, in1), check16_neon(&t, in3, in2)));
            if (vmaxvq_u8(err) != 0)
                return i;
            unfinished = vmaxvq_u8(vqsubq_u8(in3, last3)) != 0;
        }
        prev = in3;
    }
    if (i == n) {
        *complete = !unfinished;
        return i;
    }
    memset(pad, 0, sizeof(pad)); /* the tail, 1..63 bytes, then zeros: ASCII */
    memcpy(pad, s + i, n - i);
    in0 = vld1q_u8(pad);
    in1 = vld1q_u8(pad + 16);
    in2 = vld1q_u8(pad + 32);
    in3 = vld1q_u8(pad + 48);
    err = vorrq_u8(vorrq_u8(check16_neon(&t, in0, prev), check16_neon(&t, in1, in0)),
                   vorrq_u8(check16_neon(&t, in2, in1), check16_neon(&t, in3, in2)));
    if (vmaxvq_u8(err) != 0)
        return i;
    *complete = 1;
    return n;
}

size_t wsc_utf8_neon(const unsigned char *s, size_t n, uint32_t *state)
{
    WSC_UTF8_DRIVE(blocks_neon, s, n, state);
}

#endif /* WSC_AARCH64 */
