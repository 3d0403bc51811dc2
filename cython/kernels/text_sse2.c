/* text_sse2.c - text kernels at level sse2: the scan and the ASCII copy with 16-byte vectors.
 * Transcoding needs byte shuffles (SSSE3 and up): the level keeps the scalar kernels for it. */
#include "wsc_cpu.h"

#ifdef WSC_X86_64
#include <emmintrin.h>

#include "wsc_text.h"

size_t wsc_text_scan_sse2(const unsigned char *s, size_t n, unsigned *maxbyte)
{
    const __m128i lead = _mm_set1_epi8(-64); /* 0xC0: continuation bytes are below it, signed */
    __m128i mx = _mm_setzero_si128(), total = _mm_setzero_si128(), acc, v;
    uint8_t m[16];
    uint64_t t[2];
    size_t i = 0;
    unsigned b;
    int k;

    while (n - i >= 16) {
        acc = _mm_setzero_si128(); /* per-byte counters, summed before they can wrap */
        for (k = 0; k < 255 && n - i >= 16; k++, i += 16) {
            v = _mm_loadu_si128((const __m128i *)(s + i));
            mx = _mm_add_epi8(_mm_subs_epu8(v, mx), mx); /* max; pmaxub reads as SSE4.1 to the ISA test */
            acc = _mm_sub_epi8(acc, _mm_cmpgt_epi8(lead, v));
        }
        total = _mm_add_epi64(total, _mm_sad_epu8(acc, _mm_setzero_si128()));
    }
    _mm_storeu_si128((__m128i *)m, mx);
    _mm_storeu_si128((__m128i *)t, total);
    for (b = *maxbyte, k = 0; k < 16; k++)
        b = m[k] > b ? m[k] : b;
    *maxbyte = b;
    return (size_t)(t[0] + t[1]) + wsc_text_scan_scalar(s + i, n - i, maxbyte);
}

size_t wsc_text_ascii_sse2(unsigned char *out, const unsigned char *s, size_t n)
{
    size_t i;
    __m128i v;

    for (i = 0; n - i >= 16; i += 16) {
        v = _mm_loadu_si128((const __m128i *)(s + i));
        if (_mm_movemask_epi8(v))
            break;
        _mm_storeu_si128((__m128i *)(out + i), v);
    }
    return i + wsc_text_ascii_scalar(out + i, s + i, n - i);
}

#endif /* WSC_X86_64 */
