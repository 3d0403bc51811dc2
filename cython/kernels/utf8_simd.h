/* utf8_simd.h - what the SIMD UTF-8 validators share: the lookup tables of the Keiser-Lemire
 * "lookup" algorithm, and the baseline C around the vector loop that keeps the DFA's contract
 * (wsc_utf8.h: incremental state, exact offset of the first impossible byte).
 *
 * Each ISA file provides a block checker: given s[0..n) (n >= 16) starting at a sequence boundary,
 * it checks whole 64-byte blocks, then the tail shorter than a block as one more block padded with
 * zero bytes (ASCII). It returns n with *complete = 1 when all of s[0..n) is valid UTF-8 ending on
 * a sequence boundary (a sequence cut by the end would meet a padding zero and fail), else the
 * length of the longest prefix of whole blocks it proved to be a valid *prefix* of UTF-8 (a
 * sequence cut by the prefix end is judged with the next block). Then
 *   1. wsc_utf8_resume runs the DFA over a sequence begun in an earlier chunk (at most 3 bytes),
 *   2. the block checker runs from that sequence boundary; when it proves everything, done,
 *   3. else wsc_utf8_boundary backs up from the end of the proven prefix to the start of its last
 *      sequence (at most 4 bytes back), the last point known to be a boundary in state ACCEPT,
 *   4. and the DFA runs from there to the end: when a block was rejected, until it meets the exact
 *      failing byte (it always lies in that block), or over a tail that ends inside a sequence.
 * So the vectors only ever say "this much is fine", and every reported offset and every state
 * other than ACCEPT comes from the DFA.
 *
 * The algorithm (Keiser & Lemire, "Validating UTF-8 In Less Than One Instruction Per Byte",
 * Software: Practice and Experience 51(5), 2021): for each byte, three 16-entry table lookups
 * indexed by the high nibble of the previous byte, the low nibble of the previous byte and the
 * high nibble of this byte give bit sets of the errors each nibble allows; their AND is non-zero
 * exactly for the invalid 2-byte patterns. A byte that must be the 3rd or 4th of a sequence (the
 * byte 2 or 3 before it is a 3- or 4-byte lead) must be a continuation: that is the one bit
 * (0x80, TWO_CONTS) the tables cannot see, XORed in.
 */
#ifndef WSC_UTF8_SIMD_H
#define WSC_UTF8_SIMD_H

#include "wsc_utf8.h"

/* error bits: which bad 2-byte pattern (byte 1 = previous byte, byte 2 = this byte) */
#define WSC_TOO_SHORT (1 << 0)   /* 11______ then 0_______ or 11______: lead not continued */
#define WSC_TOO_LONG (1 << 1)    /* 0_______ then 10______: continuation after ASCII */
#define WSC_OVERLONG_3 (1 << 2)  /* 11100000 100_____ */
#define WSC_TOO_LARGE (1 << 3)   /* 11110100 1001____, 11110100 101_____, F5..FF then 1001/101 */
#define WSC_SURROGATE (1 << 4)   /* 11101101 101_____ */
#define WSC_OVERLONG_2 (1 << 5)  /* 1100000_ 10______ */
#define WSC_TOO_LARGE_1000 (1 << 6) /* F5..FF then 1000____ */
#define WSC_OVERLONG_4 (1 << 6)  /* 11110000 1000____ */
#define WSC_TWO_CONTS (1 << 7)   /* 10______ 10______: allowed only as 3rd/4th byte (XORed out) */
#define WSC_CARRY (WSC_TOO_SHORT | WSC_TOO_LONG | WSC_TWO_CONTS) /* decided by the high nibble */

/* indexed by the high nibble of the previous byte */
#define WSC_UTF8_BYTE1_HIGH                                                                          \
    WSC_TOO_LONG, WSC_TOO_LONG, WSC_TOO_LONG, WSC_TOO_LONG, WSC_TOO_LONG, WSC_TOO_LONG, WSC_TOO_LONG, \
        WSC_TOO_LONG, WSC_TWO_CONTS, WSC_TWO_CONTS, WSC_TWO_CONTS, WSC_TWO_CONTS,                      \
        WSC_TOO_SHORT | WSC_OVERLONG_2, WSC_TOO_SHORT, WSC_TOO_SHORT | WSC_OVERLONG_3 | WSC_SURROGATE, \
        WSC_TOO_SHORT | WSC_TOO_LARGE | WSC_TOO_LARGE_1000 | WSC_OVERLONG_4

/* indexed by the low nibble of the previous byte */
#define WSC_UTF8_BYTE1_LOW                                                                          \
    WSC_CARRY | WSC_OVERLONG_3 | WSC_OVERLONG_2 | WSC_OVERLONG_4, WSC_CARRY | WSC_OVERLONG_2,       \
        WSC_CARRY, WSC_CARRY, WSC_CARRY | WSC_TOO_LARGE, WSC_CARRY | WSC_TOO_LARGE | WSC_TOO_LARGE_1000, \
        WSC_CARRY | WSC_TOO_LARGE | WSC_TOO_LARGE_1000, WSC_CARRY | WSC_TOO_LARGE | WSC_TOO_LARGE_1000, \
        WSC_CARRY | WSC_TOO_LARGE | WSC_TOO_LARGE_1000, WSC_CARRY | WSC_TOO_LARGE | WSC_TOO_LARGE_1000, \
        WSC_CARRY | WSC_TOO_LARGE | WSC_TOO_LARGE_1000, WSC_CARRY | WSC_TOO_LARGE | WSC_TOO_LARGE_1000, \
        WSC_CARRY | WSC_TOO_LARGE | WSC_TOO_LARGE_1000,                                               \
        WSC_CARRY | WSC_TOO_LARGE | WSC_TOO_LARGE_1000 | WSC_SURROGATE,                               \
        WSC_CARRY | WSC_TOO_LARGE | WSC_TOO_LARGE_1000, WSC_CARRY | WSC_TOO_LARGE | WSC_TOO_LARGE_1000

/* indexed by the high nibble of this byte */
#define WSC_UTF8_BYTE2_HIGH                                                                          \
    WSC_TOO_SHORT, WSC_TOO_SHORT, WSC_TOO_SHORT, WSC_TOO_SHORT, WSC_TOO_SHORT, WSC_TOO_SHORT,        \
        WSC_TOO_SHORT, WSC_TOO_SHORT,                                                                \
        WSC_TOO_LONG | WSC_OVERLONG_2 | WSC_TWO_CONTS | WSC_OVERLONG_3 | WSC_TOO_LARGE_1000 | WSC_OVERLONG_4, \
        WSC_TOO_LONG | WSC_OVERLONG_2 | WSC_TWO_CONTS | WSC_OVERLONG_3 | WSC_TOO_LARGE,               \
        WSC_TOO_LONG | WSC_OVERLONG_2 | WSC_TWO_CONTS | WSC_SURROGATE | WSC_TOO_LARGE,                \
        WSC_TOO_LONG | WSC_OVERLONG_2 | WSC_TWO_CONTS | WSC_SURROGATE | WSC_TOO_LARGE,                \
        WSC_TOO_SHORT, WSC_TOO_SHORT, WSC_TOO_SHORT, WSC_TOO_SHORT

/* A byte of the last 3 of a block that starts a sequence the block does not finish: subtracting
 * these limits (saturating) leaves a non-zero byte. */
#define WSC_UTF8_INCOMPLETE_LAST3 0xF0 - 1, 0xE0 - 1, 0xC0 - 1

/* the tables as bytes, for the vector loads (16-byte lanes; wider vectors broadcast them) */
static const uint8_t wsc_utf8_byte1_high[16] = {WSC_UTF8_BYTE1_HIGH};
static const uint8_t wsc_utf8_byte1_low[16] = {WSC_UTF8_BYTE1_LOW};
static const uint8_t wsc_utf8_byte2_high[16] = {WSC_UTF8_BYTE2_HIGH};
static const uint8_t wsc_utf8_last3[16] = {255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
                                           WSC_UTF8_INCOMPLETE_LAST3};

/* Step 1: finish a sequence begun in an earlier chunk. Returns 1 with *pos at the boundary after
 * it (and *state ACCEPT); 0 when the call is over: *pos is then the rejected byte (*state REJECT)
 * or n (the input ended inside the sequence, *state says where). */
static inline int wsc_utf8_resume(const unsigned char *s, size_t n, uint32_t *state, size_t *pos)
{
    uint32_t st = *state;
    size_t i = 0;

    while (st != WSC_UTF8_ACCEPT) {
        if (st == WSC_UTF8_REJECT || i == n) {
            *state = st;
            *pos = i;
            return 0;
        }
        st = wsc_utf8_step(st, s[i]);
        if (st == WSC_UTF8_REJECT) {
            *state = st;
            *pos = i;
            return 0;
        }
        i++;
    }
    *state = st;
    *pos = i;
    return 1;
}

/* Step 3: s[lo..j) is a valid prefix starting at a boundary; the start of its last sequence (a
 * lead byte at most 4 back), or lo, which is always a boundary. */
static inline size_t wsc_utf8_boundary(const unsigned char *s, size_t lo, size_t j)
{
    size_t k = j;

    while (k > lo && j - k < 4) {
        k--;
        if ((s[k] & 0xC0) != 0x80)
            return k;
    }
    return lo;
}

/* Steps 3 and 4 after the block checker proved s[i..i + good) (*state is ACCEPT at i). */
static inline size_t wsc_utf8_finish_blocks(const unsigned char *s, size_t n, uint32_t *state, size_t i,
                                            size_t good)
{
    i = wsc_utf8_boundary(s, i, i + good);
    return i + wsc_utf8_validate_scalar(s + i, n - i, state);
}

/* The whole driver, for a block checker `blocks(s, n, &complete)` (utf8_<isa>.c). */
#define WSC_UTF8_DRIVE(blocks, s, n, state)                                  \
    do {                                                                     \
        size_t i_, good_ = 0;                                                \
        int complete_ = 0;                                                   \
        if (!wsc_utf8_resume(s, n, state, &i_))                              \
            return i_;                                                       \
        if (n - i_ >= 16) {                                                  \
            good_ = blocks(s + i_, n - i_, &complete_);                      \
            if (complete_)                                                   \
                return n; /* *state is ACCEPT, from wsc_utf8_resume */       \
        }                                                                    \
        return wsc_utf8_finish_blocks(s, n, state, i_, good_);               \
    } while (0)

#endif /* WSC_UTF8_SIMD_H */
