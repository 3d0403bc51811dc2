/* text_avx512.c - text kernels at level avx512 (F + BW): the scan, the ASCII copy and decoding
 * with 64-byte vectors; the UTF-8 length and encoding are the AVX2 kernels (every AVX-512 CPU
 * runs them). */
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

#if defined(__GNUC__) || defined(__clang__)
#define WSC_INLINE_AVX512 static inline __attribute__((always_inline, target("avx512f,avx512bw")))
#else
#define WSC_INLINE_AVX512 static __forceinline
#endif

/* set bits of a 16-bit mask */
static inline unsigned popcount16(unsigned x)
{
    x = x - ((x >> 1) & 0x5555u);
    x = (x & 0x3333u) + ((x >> 2) & 0x3333u);
    x = (x + (x >> 4)) & 0x0F0Fu;
    return (x + (x >> 8)) & 0x1Fu;
}

/* Decoding without a serial dependency (after Clausecker & Lemire 2023, with AVX-512F dword
 * compress instead of byte compress): for each of 16 bytes, the code point of a character that
 * would start there, from it and the 3 bytes after it (its high nibble selects length shifts and
 * lead mask); then the lanes where a character does start (not a continuation byte) are
 * compressed together, converted to the str's code unit and stored. A block may start inside a
 * character: its continuation bytes start nothing, and the previous block decoded it. */
WSC_INLINE_AVX512 void decode_kind_avx512(void *out, int kind, const unsigned char *s, size_t n, size_t nchars)
{
    const __m512i cont_shift = _mm512_setr_epi32(18, 18, 18, 18, 18, 18, 18, 18, 0, 0, 0, 0, 12, 12, 6, 0);
    const __m512i lead_shift = _mm512_setr_epi32(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 6, 6, 12, 18);
    const __m512i lead_mask = _mm512_setr_epi32(0x7F, 0x7F, 0x7F, 0x7F, 0x7F, 0x7F, 0x7F, 0x7F, 0, 0, 0, 0, 0x1F,
                                                0x1F, 0x0F, 0x07);
    const __m512i six = _mm512_set1_epi32(0x3F);
    __m512i v, b0, b1, b2, b3, hi, cp;
    uint64_t starts;
    size_t i = 0, o = 0;
    unsigned q, m;

    /* Reads reach 3 bytes past the block; each store writes 16 units from o, o at most 48 past
     * the block's first: 80 units of room cover a block. */
    while (n - i >= 67 && nchars - o >= 80) {
        v = _mm512_loadu_si512((const void *)(s + i));
        if (_mm512_movepi8_mask(v) == 0) { /* 64 ASCII bytes */
            if (kind == 1) {
                _mm512_storeu_si512((char *)out + o, v);
            } else if (kind == 2) {
                _mm512_storeu_si512((uint16_t *)out + o, _mm512_cvtepu8_epi16(_mm512_castsi512_si256(v)));
                _mm512_storeu_si512((uint16_t *)out + o + 32, _mm512_cvtepu8_epi16(_mm512_extracti64x4_epi64(v, 1)));
            } else {
                for (q = 0; q < 4; q++)
                    _mm512_storeu_si512((uint32_t *)out + o + 16 * q,
                                        _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(s + i + 16 * q))));
            }
            i += 64, o += 64;
            continue;
        }
        starts = ~_cvtmask64_u64(_mm512_cmpgt_epi8_mask(_mm512_set1_epi8(-64), v));
        for (q = 0; q < 4; q++) {
            const unsigned char *p = s + i + 16 * q;
            m = (unsigned)(starts >> (16 * q)) & 0xFFFF;
            b0 = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)p));
            b1 = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(p + 1)));
            b2 = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(p + 2)));
            b3 = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(p + 3)));
            hi = _mm512_srli_epi32(b0, 4);
            cp = _mm512_or_si512(_mm512_or_si512(_mm512_slli_epi32(_mm512_and_si512(b1, six), 12),
                                                 _mm512_slli_epi32(_mm512_and_si512(b2, six), 6)),
                                 _mm512_and_si512(b3, six));
            cp = _mm512_or_si512(_mm512_srlv_epi32(cp, _mm512_permutexvar_epi32(hi, cont_shift)),
                                 _mm512_sllv_epi32(_mm512_and_si512(b0, _mm512_permutexvar_epi32(hi, lead_mask)),
                                                   _mm512_permutexvar_epi32(hi, lead_shift)));
            cp = _mm512_maskz_compress_epi32((__mmask16)m, cp);
            if (kind == 1)
                _mm_storeu_si128((__m128i *)((char *)out + o), _mm512_cvtepi32_epi8(cp));
            else if (kind == 2)
                _mm256_storeu_si256((__m256i *)((uint16_t *)out + o), _mm512_cvtepi32_epi16(cp));
            else
                _mm512_storeu_si512((uint32_t *)out + o, cp);
            o += popcount16(m);
        }
        i += 64;
    }
    while (i < n && (s[i] & 0xC0) == 0x80) /* the end of a character the last block decoded */
        i++;
    wsc_text_decode_scalar((char *)out + o * (size_t)kind, kind, s + i, n - i);
}

WSC_TARGET_AVX512 void wsc_text_decode_avx512(void *out, int kind, const unsigned char *s, size_t n, size_t nchars)
{
    if (kind == 1)
        decode_kind_avx512(out, 1, s, n, nchars);
    else if (kind == 2)
        decode_kind_avx512(out, 2, s, n, nchars);
    else
        decode_kind_avx512(out, 4, s, n, nchars);
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
