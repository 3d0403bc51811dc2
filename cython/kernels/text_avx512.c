/* text_avx512.c - text kernels at level avx512 (F + BW): the scan and the ASCII copy with 64-byte
 * vectors; transcoding and the UTF-8 length are the AVX2 kernels (every AVX-512 CPU runs them),
 * whose 12-byte windows are bound by the table lookup per window, not by the vector width. */
#include "wsc_cpu.h"

#ifdef WSC_X86_64
#include <immintrin.h>

#include "wsc_text.h"

WSC_TARGET_AVX512 size_t wsc_text_scan_avx512(const unsigned char *s, size_t n, unsigned *maxbyte)
{
    const __m512i lead = _mm512_set1_epi8(-64); /* 0xC0: continuation bytes are below it, signed */
    __m512i mx = _mm512_setzero_si512(), total = _mm512_setzero_si512(), acc, v;
    uint8_t m[64];
    uint64_t t[8];
    size_t i = 0, conts = 0;
    unsigned b;
    int k;

    while (n - i >= 64) {
        acc = _mm512_setzero_si512(); /* per-byte counters, summed before they can wrap */
        for (k = 0; k < 255 && n - i >= 64; k++, i += 64) {
            v = _mm512_loadu_si512((const void *)(s + i));
            mx = _mm512_max_epu8(mx, v);
            acc = _mm512_sub_epi8(acc, _mm512_movm_epi8(_mm512_cmpgt_epi8_mask(lead, v)));
        }
        total = _mm512_add_epi64(total, _mm512_sad_epu8(acc, _mm512_setzero_si512()));
    }
    _mm512_storeu_si512((void *)m, mx);
    _mm512_storeu_si512((void *)t, total);
    for (k = 0; k < 8; k++)
        conts += (size_t)t[k];
    for (b = *maxbyte, k = 0; k < 64; k++)
        b = m[k] > b ? m[k] : b;
    *maxbyte = b;
    return conts + wsc_text_scan_scalar(s + i, n - i, maxbyte);
}

WSC_TARGET_AVX512 size_t wsc_text_ascii_avx512(unsigned char *out, const unsigned char *s, size_t n)
{
    size_t i;
    __m512i v;

    for (i = 0; n - i >= 64; i += 64) {
        v = _mm512_loadu_si512((const void *)(s + i));
        if (_mm512_movepi8_mask(v))
            break;
        _mm512_storeu_si512((void *)(out + i), v);
    }
    return i + wsc_text_ascii_scalar(out + i, s + i, n - i);
}

WSC_TARGET_AVX512 void wsc_text_decode_avx512(void *out, int kind, const unsigned char *s, size_t n, size_t nchars)
{
    wsc_text_decode_avx2(out, kind, s, n, nchars);
}

WSC_TARGET_AVX512 size_t wsc_text_size_avx512(const void *data, int kind, size_t n, size_t *surrogates)
{
    return wsc_text_size_avx2(data, kind, n, surrogates);
}

WSC_TARGET_AVX512 size_t wsc_text_encode_avx512(unsigned char *out, const void *data, int kind, size_t n)
{
    return wsc_text_encode_avx2(out, data, kind, n);
}

#endif /* WSC_X86_64 */
