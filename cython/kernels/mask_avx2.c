/* mask_avx2.c - masking with 32-byte AVX2 vectors. See wsc_cpu.h for the kernel contract.
 *
 * Aligned stores as in mask_sse2.c (unaligned first vector, overlapping first aligned vector, both
 * loaded before either is stored); then 128 bytes per iteration, a 16-byte step and the scalar
 * tail. Every function here is compiled for AVX2 (WSC_TARGET_AVX2) and runs only at level avx2+.
 */
#include "wsc_cpu.h"

#ifdef WSC_X86_64
#include <immintrin.h>

#include "wsc_mask.h"

WSC_TARGET_AVX2 unsigned wsc_mask_avx2(unsigned char *out, const unsigned char *in, size_t n,
                                       const unsigned char key[4], unsigned phase)
{
    size_t i = 0, a;
    __m256i k, ka, v0, v1, v2, v3;

    if (n < 32) {
        if (n >= 16) {
            _mm_storeu_si128((__m128i *)out, _mm_xor_si128(_mm_loadu_si128((const __m128i *)in),
                                                           _mm_set1_epi32((int)wsc_mask_word(key, phase))));
            i = 16;
        }
        return wsc_mask_short(out + i, in + i, n - i, key, phase);
    }
    k = _mm256_set1_epi32((int)wsc_mask_word(key, phase));
    a = (size_t)(-(uintptr_t)out & 31u);
    if (a != 0 && n - a >= 32) {
        ka = _mm256_set1_epi32((int)wsc_mask_word(key, phase + (unsigned)a));
        v0 = _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)in), k);
        v1 = _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)(in + a)), ka);
        _mm256_storeu_si256((__m256i *)out, v0);
        _mm256_store_si256((__m256i *)(out + a), v1);
        i = a + 32;
        k = ka;
    }
    for (; n - i >= 128; i += 128) {
        v0 = _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)(in + i)), k);
        v1 = _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)(in + i + 32)), k);
        v2 = _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)(in + i + 64)), k);
        v3 = _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)(in + i + 96)), k);
        _mm256_storeu_si256((__m256i *)(out + i), v0);
        _mm256_storeu_si256((__m256i *)(out + i + 32), v1);
        _mm256_storeu_si256((__m256i *)(out + i + 64), v2);
        _mm256_storeu_si256((__m256i *)(out + i + 96), v3);
    }
    for (; n - i >= 32; i += 32)
        _mm256_storeu_si256((__m256i *)(out + i),
                            _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)(in + i)), k));
    if (n - i >= 16) {
        _mm_storeu_si128((__m128i *)(out + i),
                         _mm_xor_si128(_mm_loadu_si128((const __m128i *)(in + i)), _mm256_castsi256_si128(k)));
        i += 16;
    }
    return wsc_mask_short(out + i, in + i, n - i, key, phase + (unsigned)(i & 3));
}

#endif /* WSC_X86_64 */
