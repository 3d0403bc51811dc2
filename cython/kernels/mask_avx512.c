/* mask_avx512.c - masking with 64-byte AVX-512 vectors. See wsc_cpu.h for the kernel contract.
 *
 * Byte-masked loads and stores (AVX512BW) do the head up to the first 64-byte aligned output
 * address and the tail, so there is no scalar loop and the in-place case needs no care: every byte
 * is loaded and stored exactly once. Masked-off bytes are neither read nor written (no fault past
 * the buffer). Every function here is compiled for AVX-512F/BW and runs only at level avx512.
 */
#include "wsc_cpu.h"

#ifdef WSC_X86_64
#include <immintrin.h>

#include "wsc_mask.h"

/* the first n (< 64) bytes */
WSC_TARGET_AVX512 static inline __mmask64 first_bytes_avx512(size_t n)
{
    return _cvtu64_mask64((UINT64_C(1) << n) - 1);
}

WSC_TARGET_AVX512 static inline void mask_part_avx512(unsigned char *out, const unsigned char *in, __mmask64 m, __m512i k)
{
    _mm512_mask_storeu_epi8(out, m, _mm512_xor_si512(_mm512_maskz_loadu_epi8(m, in), k));
}

WSC_TARGET_AVX512 unsigned wsc_mask_avx512(unsigned char *out, const unsigned char *in, size_t n,
                                           const unsigned char key[4], unsigned phase)
{
    size_t i = 0, a;
    unsigned next = (unsigned)((phase + n) & 3);
    __m512i k = _mm512_set1_epi32((int)wsc_mask_word(key, phase)), v0, v1, v2, v3;

    if (n < 64) {
        mask_part_avx512(out, in, first_bytes_avx512(n), k);
        return next;
    }
    /* With the stores aligned, a source at another offset mod 64 makes every 64-byte load span two
     * cache lines; 32-byte loads span two only every other time (AVX2: ~8 % faster at 16-64 KiB
     * on Zen 4). In place, or with matching offsets, both are aligned here. */
    if ((((uintptr_t)out ^ (uintptr_t)in) & 63u) != 0 && n >= 256)
        return wsc_mask_avx2(out, in, n, key, phase);
    a = (size_t)(-(uintptr_t)out & 63u);
    if (a != 0) {
        mask_part_avx512(out, in, first_bytes_avx512(a), k);
        k = _mm512_set1_epi32((int)wsc_mask_word(key, phase + (unsigned)a));
        i = a;
    }
    for (; n - i >= 256; i += 256) {
        v0 = _mm512_xor_si512(_mm512_loadu_si512((const void *)(in + i)), k);
        v1 = _mm512_xor_si512(_mm512_loadu_si512((const void *)(in + i + 64)), k);
        v2 = _mm512_xor_si512(_mm512_loadu_si512((const void *)(in + i + 128)), k);
        v3 = _mm512_xor_si512(_mm512_loadu_si512((const void *)(in + i + 192)), k);
        _mm512_store_si512((void *)(out + i), v0);
        _mm512_store_si512((void *)(out + i + 64), v1);
        _mm512_store_si512((void *)(out + i + 128), v2);
        _mm512_store_si512((void *)(out + i + 192), v3);
    }
    for (; n - i >= 64; i += 64)
        _mm512_store_si512((void *)(out + i), _mm512_xor_si512(_mm512_loadu_si512((const void *)(in + i)), k));
    if (i < n)
        mask_part_avx512(out + i, in + i, first_bytes_avx512(n - i), k);
    return next;
}

#endif /* WSC_X86_64 */
