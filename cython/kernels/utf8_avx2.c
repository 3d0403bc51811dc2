/* utf8_avx2.c - UTF-8 validation with 32-byte AVX2 vectors: the lookup algorithm over 64-byte
 * blocks_avx2, with an ASCII fast path (see utf8_simd.h for the algorithm and how the DFA keeps the
 * exact failure offset). Every function here is compiled for AVX2 and runs only at level avx2+. */
#include "wsc_cpu.h"

#ifdef WSC_X86_64
#include <immintrin.h>

#include "utf8_simd.h"

/* error bits of the 32 bytes of `in`; `prev` holds the 32 bytes before them */
WSC_TARGET_AVX2 static inline __m256i check32_avx2(__m256i in, __m256i prev)
{
    const __m256i t1h = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)wsc_utf8_byte1_high));
    const __m256i t1l = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)wsc_utf8_byte1_low));
    const __m256i t2h = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)wsc_utf8_byte2_high));
    const __m256i nibble = _mm256_set1_epi8(0x0F);
    /* lane 0: prev's high lane, lane 1: in's low lane; alignr then shifts across the lanes */
    __m256i across = _mm256_permute2x128_si256(prev, in, 0x21);
    __m256i prev1 = _mm256_alignr_epi8(in, across, 15);
    __m256i prev2 = _mm256_alignr_epi8(in, across, 14);
    __m256i prev3 = _mm256_alignr_epi8(in, across, 13);
    __m256i b1h = _mm256_shuffle_epi8(t1h, _mm256_and_si256(_mm256_srli_epi16(prev1, 4), nibble));
    __m256i b1l = _mm256_shuffle_epi8(t1l, _mm256_and_si256(prev1, nibble));
    __m256i b2h = _mm256_shuffle_epi8(t2h, _mm256_and_si256(_mm256_srli_epi16(in, 4), nibble));
    __m256i special = _mm256_and_si256(_mm256_and_si256(b1h, b1l), b2h);
    /* 3rd byte of a 3/4-byte sequence (prev2 >= E0) or 4th of a 4-byte one (prev3 >= F0) */
    __m256i must23 = _mm256_or_si256(_mm256_subs_epu8(prev2, _mm256_set1_epi8((char)(0xE0 - 0x80))),
                                     _mm256_subs_epu8(prev3, _mm256_set1_epi8((char)(0xF0 - 0x80))));
    return _mm256_xor_si256(_mm256_and_si256(must23, _mm256_set1_epi8((char)0x80)), special);
}

/* the block checker of utf8_simd.h: whole 64-byte blocks, then the zero-padded tail */
WSC_TARGET_AVX2 static inline size_t blocks_avx2(const unsigned char *s, size_t n, int *complete)
{
    /* the last 3 bytes: F0, E0, C0 minus one; the other 29 never leave a non-zero difference */
    const __m256i last3 = _mm256_inserti128_si256(_mm256_set1_epi8(-1),
                                                  _mm_loadu_si128((const __m128i *)wsc_utf8_last3), 1);
    __m256i prev = _mm256_setzero_si256(), unfinished = _mm256_setzero_si256(), in0, in1, err;
    unsigned char pad[64];
    size_t i;

    for (i = 0; n - i >= 64; i += 64) {
        in0 = _mm256_loadu_si256((const __m256i *)(s + i));
        in1 = _mm256_loadu_si256((const __m256i *)(s + i + 32));
        if (_mm256_movemask_epi8(_mm256_or_si256(in0, in1)) == 0) {
            if (!_mm256_testz_si256(unfinished, unfinished))
                return i; /* ASCII after a sequence cut at the block boundary */
        } else {
            err = _mm256_or_si256(check32_avx2(in0, prev), check32_avx2(in1, in0));
            if (!_mm256_testz_si256(err, err))
                return i;
            unfinished = _mm256_subs_epu8(in1, last3);
        }
        prev = in1;
    }
    if (i == n) {
        *complete = _mm256_testz_si256(unfinished, unfinished);
        return i;
    }
    memset(pad, 0, sizeof(pad)); /* the tail, 1..63 bytes, then zeros: ASCII */
    memcpy(pad, s + i, n - i);
    in0 = _mm256_loadu_si256((const __m256i *)pad);
    in1 = _mm256_loadu_si256((const __m256i *)(pad + 32));
    err = _mm256_or_si256(check32_avx2(in0, prev), check32_avx2(in1, in0));
    if (!_mm256_testz_si256(err, err))
        return i;
    *complete = 1;
    return n;
}

WSC_TARGET_AVX2 size_t wsc_utf8_avx2(const unsigned char *s, size_t n, uint32_t *state)
{
    WSC_UTF8_DRIVE(blocks_avx2, s, n, state);
}

#endif /* WSC_X86_64 */
