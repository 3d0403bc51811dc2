/* mask_sse2.c - masking with 16-byte SSE2 vectors (baseline on x86-64). See wsc_cpu.h for the
 * kernel contract.
 *
 * The stores are aligned: an unaligned first vector covers the head, and the first aligned vector
 * overlaps it; both are loaded before either is stored, so the in-place case (out == in) never
 * reads a byte it has already masked. The last < 16 bytes are masked 8 and 1 at a time.
 */
#include "wsc_cpu.h"

#ifdef WSC_X86_64
#include <emmintrin.h>

#include "wsc_mask.h"

unsigned wsc_mask_sse2(unsigned char *out, const unsigned char *in, size_t n, const unsigned char key[4],
                       unsigned phase)
{
    size_t i = 0, a;
    __m128i k, ka, v0, v1, v2, v3;

    if (n < 16)
        return wsc_mask_short(out, in, n, key, phase);
    k = _mm_set1_epi32((int)wsc_mask_word(key, phase));
    a = (size_t)(-(uintptr_t)out & 15u);
    if (a != 0 && n - a >= 16) {
        ka = _mm_set1_epi32((int)wsc_mask_word(key, phase + (unsigned)a));
        v0 = _mm_xor_si128(_mm_loadu_si128((const __m128i *)in), k);
        v1 = _mm_xor_si128(_mm_loadu_si128((const __m128i *)(in + a)), ka);
        _mm_storeu_si128((__m128i *)out, v0);
        _mm_store_si128((__m128i *)(out + a), v1);
        i = a + 16;
        k = ka;
    }
    for (; n - i >= 64; i += 64) {
        v0 = _mm_xor_si128(_mm_loadu_si128((const __m128i *)(in + i)), k);
        v1 = _mm_xor_si128(_mm_loadu_si128((const __m128i *)(in + i + 16)), k);
        v2 = _mm_xor_si128(_mm_loadu_si128((const __m128i *)(in + i + 32)), k);
        v3 = _mm_xor_si128(_mm_loadu_si128((const __m128i *)(in + i + 48)), k);
        _mm_storeu_si128((__m128i *)(out + i), v0);
        _mm_storeu_si128((__m128i *)(out + i + 16), v1);
        _mm_storeu_si128((__m128i *)(out + i + 32), v2);
        _mm_storeu_si128((__m128i *)(out + i + 48), v3);
    }
    for (; n - i >= 16; i += 16)
        _mm_storeu_si128((__m128i *)(out + i), _mm_xor_si128(_mm_loadu_si128((const __m128i *)(in + i)), k));
    return wsc_mask_short(out + i, in + i, n - i, key, phase + (unsigned)(i & 3));
}

#endif /* WSC_X86_64 */
