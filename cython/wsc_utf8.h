/* wsc_utf8.h - incremental UTF-8 validation (RFC 3629) with an exact failure offset, scalar kernel.
 *
 * A Hoehrmann-style DFA: each byte maps to one of 12 classes, each (state, class) pair to the next
 * state. The states encode exactly which bytes may come next (RFC 3629 table: E0 needs A0..BF, ED
 * needs 80..9F, F0 needs 90..BF, F4 needs 80..8F), so the DFA rejects at the first byte that cannot
 * start or continue a sequence: overlongs, surrogates and code points above U+10FFFF included.
 *
 * The failure offset is defined as in the pure-Python reference (wscodec._py.utf8): the index of the
 * first byte that cannot start or continue a sequence; when the input ends inside a sequence, the
 * length of the input (see wsc_utf8_error_offset in wsc_dispatch.h).
 *
 * ASCII fast path: while the DFA is in the ACCEPT state, 8 bytes are tested at once (no byte with
 * the high bit set) and skipped; otherwise the DFA runs over the next (up to) 8 bytes.
 *
 * This is the scalar kernel, and the tail, head and error locator of the SIMD ones (kernels/).
 */
#ifndef WSC_UTF8_H
#define WSC_UTF8_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* states are pre-multiplied by the number of classes (12) */
#define WSC_UTF8_ACCEPT 0u
#define WSC_UTF8_REJECT 12u

/* One DFA step. */
static inline uint32_t wsc_utf8_step(uint32_t state, unsigned char byte)
{
    /* byte classes: 0 = 00..7F, 1 = 80..8F, 2 = 90..9F, 3 = A0..BF, 4 = C2..DF, 5 = E0,
     * 6 = E1..EC/EE..EF, 7 = ED, 8 = F0, 9 = F1..F3, 10 = F4, 11 = C0, C1, F5..FF */
    static const uint8_t cls[256] = {
        0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,
        0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,
        0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,
        0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,
        1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,
        3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,
        11,11,4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,
        5,6,6,6,6,6,6,6,6,6,6,6,6,7,6,6,8,9,9,9,10,11,11,11,11,11,11,11,11,11,11,11,
    };
    /* rows: ACCEPT, REJECT, need 1, need 2, need 3, after E0, after ED, after F0, after F4 */
    static const uint8_t next[108] = {
          0,  12,  12,  12,  24,  60,  36,  72,  84,  48,  96,  12,
         12,  12,  12,  12,  12,  12,  12,  12,  12,  12,  12,  12,
         12,   0,   0,   0,  12,  12,  12,  12,  12,  12,  12,  12,
         12,  24,  24,  24,  12,  12,  12,  12,  12,  12,  12,  12,
         12,  36,  36,  36,  12,  12,  12,  12,  12,  12,  12,  12,
         12,  12,  12,  24,  12,  12,  12,  12,  12,  12,  12,  12,
         12,  24,  24,  12,  12,  12,  12,  12,  12,  12,  12,  12,
         12,  12,  36,  36,  12,  12,  12,  12,  12,  12,  12,  12,
         12,  36,  12,  12,  12,  12,  12,  12,  12,  12,  12,  12,
    };
    return next[state + cls[byte]];
}

/* Run the DFA over s[*i..end) from *st. REJECT is absorbing, so the block runs without a branch
 * per byte and is checked once; after a reject it is rerun from its start to find the exact byte.
 * Returns 1 with *i = the rejected index and *st = REJECT, else 0 with *i = end. */
static inline int wsc_utf8_run_block(const unsigned char *s, size_t *i, size_t end, uint32_t *st)
{
    uint32_t before = *st, cur = *st;
    size_t j;
    for (j = *i; j < end; j++)
        cur = wsc_utf8_step(cur, s[j]);
    if (cur == WSC_UTF8_REJECT) {
        for (j = *i; (before = wsc_utf8_step(before, s[j])) != WSC_UTF8_REJECT; j++)
            ;
        *i = j;
        *st = WSC_UTF8_REJECT;
        return 1;
    }
    *i = end;
    *st = cur;
    return 0;
}

/* Run the DFA over s[0..n) starting from *state (ACCEPT for a fresh stream; a previous chunk's
 * state to continue it). Returns n when no byte was rejected (*state may then be mid-sequence),
 * else the index of the rejected byte, with *state == WSC_UTF8_REJECT. A REJECT input state
 * rejects at index 0. */
static inline size_t wsc_utf8_validate_scalar(const unsigned char *s, size_t n, uint32_t *state)
{
    const uint64_t high = 0x8080808080808080ull;
    uint32_t st = *state;
    size_t i = 0;
    uint64_t word;

    while (i < n) {
        if (st == WSC_UTF8_ACCEPT && n - i >= 8) {
            memcpy(&word, s + i, 8);
            if ((word & high) == 0) {
                i += 8;
                continue;
            }
        }
        if (wsc_utf8_run_block(s, &i, (n - i > 8) ? i + 8 : n, &st)) {
            *state = WSC_UTF8_REJECT;
            return i;
        }
    }
    *state = st;
    return n;
}

#endif /* WSC_UTF8_H */
