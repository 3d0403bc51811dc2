/* utf8_avx512.c - UTF-8 validation with 64-byte AVX-512 vectors (F + BW): the lookup algorithm
 * over 64-byte blocks_avx512, with an ASCII fast path (see utf8_simd.h for the algorithm and how the DFA
 * keeps the exact failure offset). Every function here is compiled for AVX-512F/BW and runs only
 * at level avx512. */
#include "wsc_cpu.h"

#ifdef WSC_X86_64
#include <immintrin.h>

#include "utf8_simd.h"

/* error bits of the 64 bytes of `in`; `prev` holds the 64 bytes before them */
WSC_TARGET_AVX512 static inline __m512i check64_avx512(__m512i in, __m512i prev)
{
    const __m512i t1h = _mm512_broadcast_i32x4(_mm_loadu_si128((const __m128i *)wsc_utf8_byte1_high));
    const __m512i t1l = _mm512_broadcast_i32x4(_mm_loadu_si128((const __m128i *)wsc_utf8_byte1_low));
    const __m512i t2h = _mm512_broadcast_i32x4(_mm_loadu_si128((const __m128i *)wsc_utf8_byte2_high));
    const __m512i nibble = _mm512_set1_epi8(0x0F);
    /* each 128-bit lane's predecessor: prev's lane 3, then in's lanes 0..2 */
    __m512i across = _mm512_alignr_epi64(in, prev, 6);
    __m512i prev1 = _mm512_alignr_epi8(in, across, 15);
    __m512i prev2 = _mm512_alignr_epi8(in, across, 14);
    __m512i prev3 = _mm512_alignr_epi8(in, across, 13);
    __m512i b1h = _mm512_shuffle_epi8(t1h, _mm512_and_si512(_mm512_srli_epi16(prev1, 4), nibble));
    __m512i b1l = _mm512_shuffle_epi8(t1l, _mm512_and_si512(prev1, nibble));
    __m512i b2h = _mm512_shuffle_epi8(t2h, _mm512_and_si512(_mm512_srli_epi16(in, 4), nibble));
    __m512i special = _mm512_and_si512(_mm512_and_si512(b1h, b1l), b2h);
    __m512i must23 = _mm512_or_si512(_mm512_subs_epu8(prev2, _mm512_set1_epi8((char)(0xE0 - 0x80))),
                                     _mm512_subs_epu8(prev3, _mm512_set1_epi8((char)(0xF0 - 0x80))));
    return _mm512_xor_si512(_mm512_and_si512(must23, _mm512_set1_epi8((char)0x80)), special);
}

/* the block checker of utf8_simd.h: two 64-byte blocks per iteration, checked together, then the
 * last whole block and the tail, read with a byte mask (the bytes past n read as zeros) */
WSC_TARGET_AVX512 static inline size_t blocks_avx512(const unsigned char *s, size_t n, int *complete)
{
    /* the last 3 bytes: F0, E0, C0 minus one; the other 61 never leave a non-zero difference */
    const __m512i last3 = _mm512_inserti32x4(_mm512_set1_epi8(-1), _mm_loadu_si128((const __m128i *)wsc_utf8_last3), 3);
    __m512i prev = _mm512_setzero_si512(), in0, in1, err, tail;
    __mmask64 unfinished = 0;
    size_t i;

    for (i = 0; n - i >= 128; i += 128) {
        in0 = _mm512_loadu_si512((const void *)(s + i));
        in1 = _mm512_loadu_si512((const void *)(s + i + 64));
        if (_mm512_movepi8_mask(_mm512_or_si512(in0, in1)) == 0) {
            if (unfinished)
                return i; /* ASCII after a sequence cut at the block boundary */
        } else {
            err = _mm512_or_si512(check64_avx512(in0, prev), check64_avx512(in1, in0));
            if (_mm512_test_epi8_mask(err, err))
                return i;
            tail = _mm512_subs_epu8(in1, last3);
            unfinished = _mm512_test_epi8_mask(tail, tail);
        }
        prev = in1;
    }
    while (i < n) { /* at most two more blocks: one whole, one short (zero-filled past n) */
        if (n - i >= 64)
            in0 = _mm512_loadu_si512((const void *)(s + i));
        else
            in0 = _mm512_maskz_loadu_epi8(_cvtu64_mask64((UINT64_C(1) << (n - i)) - 1), s + i);
        if (_mm512_movepi8_mask(in0) == 0) {
            if (unfinished)
                return i;
        } else {
            err = check64_avx512(in0, prev);
            if (_mm512_test_epi8_mask(err, err))
                return i;
            tail = _mm512_subs_epu8(in0, last3);
            unfinished = _mm512_test_epi8_mask(tail, tail);
        }
        prev = in0;
        i = n - i >= 64 ? i + 64 : n;
    }
    /* a short tail ending inside a sequence failed against its zero padding above */
    *complete = !unfinished;
    return n;
}

WSC_TARGET_AVX512 size_t wsc_utf8_avx512(const unsigned char *s, size_t n, uint32_t *state)
{
    WSC_UTF8_DRIVE(blocks_avx512, s, n, state);
}

#endif /* WSC_X86_64 */
