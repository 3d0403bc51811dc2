/* text_avx2.c - UTF-8 <-> str code units with AVX2 (wsc_text.h has the contracts, wsc_cpu.h the
 * tables). Every function here is compiled for AVX2 and runs only at level avx2+.
 *
 * Decoding (Lemire & Mula 2022): per 64-byte block, two bit masks (bytes with the high bit set;
 * bytes that end a character); then, from the current character boundary, either 16 ASCII bytes
 * widened at once, or a 12-byte window whose end-of-character bits pick a shuffle from
 * wsc_text_windows that spreads its first 6, 4 or 3 characters to lanes, assembled with shifts.
 * Encoding: 8 characters as 32-bit lanes, each lane computed as its UTF-8 bytes (first byte lowest,
 * the length chosen by compares), then each half packed by a shuffle indexed by its 4 lengths;
 * ASCII runs are narrowed 16 characters at a time.
 * Stores write whole vectors: the loops run only while the output has room for them (see each).
 */
#include "wsc_cpu.h"

#ifdef WSC_X86_64
#include <immintrin.h>

#include "wsc_text.h"

#if defined(__GNUC__) || defined(__clang__)
#define WSC_INLINE_AVX2 static inline __attribute__((always_inline, target("avx2")))
#else
#define WSC_INLINE_AVX2 static __forceinline
#endif

WSC_TARGET_AVX2 size_t wsc_text_scan_avx2(const unsigned char *s, size_t n, unsigned *maxbyte)
{
    const __m256i lead = _mm256_set1_epi8(-64); /* 0xC0: continuation bytes are below it, signed */
    __m256i mx = _mm256_setzero_si256(), total = _mm256_setzero_si256(), acc, v;
    uint8_t m[32];
    uint64_t t[4];
    size_t i = 0;
    unsigned b;
    int k;

    while (n - i >= 32) {
        acc = _mm256_setzero_si256(); /* per-byte counters, summed before they can wrap */
        for (k = 0; k < 255 && n - i >= 32; k++, i += 32) {
            v = _mm256_loadu_si256((const __m256i *)(s + i));
            mx = _mm256_max_epu8(mx, v);
            acc = _mm256_sub_epi8(acc, _mm256_cmpgt_epi8(lead, v));
        }
        total = _mm256_add_epi64(total, _mm256_sad_epu8(acc, _mm256_setzero_si256()));
    }
    _mm256_storeu_si256((__m256i *)m, mx);
    _mm256_storeu_si256((__m256i *)t, total);
    for (b = *maxbyte, k = 0; k < 32; k++)
        b = m[k] > b ? m[k] : b;
    *maxbyte = b;
    return (size_t)(t[0] + t[1] + t[2] + t[3]) + wsc_text_scan_scalar(s + i, n - i, maxbyte);
}

WSC_TARGET_AVX2 size_t wsc_text_ascii_avx2(unsigned char *out, const unsigned char *s, size_t n)
{
    size_t i;
    __m256i v;

    for (i = 0; n - i >= 32; i += 32) {
        v = _mm256_loadu_si256((const __m256i *)(s + i));
        if (_mm256_movemask_epi8(v))
            break;
        _mm256_storeu_si256((__m256i *)(out + i), v);
    }
    return i + wsc_text_ascii_scalar(out + i, s + i, n - i);
}

/* The characters of one 12-byte window at p (16 readable bytes) as code units of `kind` at out
 * (16 units of room); returns the characters written, *used the bytes taken. */
WSC_INLINE_AVX2 size_t window_avx2(void *out, int kind, const unsigned char *p, unsigned endbits, size_t *used)
{
    const wsc_text_window w = wsc_text_windows[endbits];
    __m128i in = _mm_loadu_si128((const __m128i *)p);
    __m128i perm = _mm_shuffle_epi8(in, _mm_loadu_si128((const __m128i *)wsc_text_shuffles[w.id]));
    __m128i v;

    *used = w.consumed;
    if (w.id < WSC_WIN_B) { /* 6 characters of 1-2 bytes in 16-bit lanes: last byte low */
        v = _mm_or_si128(_mm_and_si128(perm, _mm_set1_epi16(0x7F)),
                         _mm_srli_epi16(_mm_and_si128(perm, _mm_set1_epi16(0x1F00)), 2));
        if (kind == 1)
            _mm_storel_epi64((__m128i *)out, _mm_packus_epi16(v, v));
        else if (kind == 2)
            _mm_storeu_si128((__m128i *)out, v);
        else
            _mm256_storeu_si256((__m256i *)out, _mm256_cvtepu16_epi32(v));
        return 6;
    }
    v = _mm_or_si128(_mm_or_si128(_mm_and_si128(perm, _mm_set1_epi32(0x7F)),
                                  _mm_srli_epi32(_mm_and_si128(perm, _mm_set1_epi32(0x3F00)), 2)),
                     _mm_srli_epi32(_mm_and_si128(perm, _mm_set1_epi32(0x0F0000)), 4));
    if (w.id < WSC_WIN_C) { /* 4 characters of 1-3 bytes in 32-bit lanes */
        if (kind == 2)
            _mm_storel_epi64((__m128i *)out, _mm_packus_epi32(v, v));
        else
            _mm_storeu_si128((__m128i *)out, v);
        return 4;
    }
    /* 3 characters of 1-4 bytes (kind 4 only): the third byte from the end is a continuation
     * (bits 5..4 count) or a 3-byte lead (1110zzzz: its bit 5 is not part of the code point, and
     * its bit 6 tells it apart), and a 4-byte lead gives 3 bits */
    v = _mm_or_si128(v, _mm_srli_epi32(_mm_and_si128(perm, _mm_set1_epi32(0x300000)), 4));
    v = _mm_xor_si128(v, _mm_srli_epi32(_mm_and_si128(perm, _mm_set1_epi32(0x400000)), 5));
    v = _mm_or_si128(v, _mm_srli_epi32(_mm_and_si128(perm, _mm_set1_epi32(0x07000000)), 6));
    _mm_storeu_si128((__m128i *)out, v);
    return 3;
}

/* 16 ASCII bytes at p widened to code units of `kind` at out */
WSC_INLINE_AVX2 void widen16_avx2(void *out, int kind, const unsigned char *p)
{
    __m128i in = _mm_loadu_si128((const __m128i *)p);
    if (kind == 1) {
        _mm_storeu_si128((__m128i *)out, in);
    } else if (kind == 2) {
        _mm256_storeu_si256((__m256i *)out, _mm256_cvtepu8_epi16(in));
    } else {
        _mm256_storeu_si256((__m256i *)out, _mm256_cvtepu8_epi32(in));
        _mm256_storeu_si256((__m256i *)out + 1, _mm256_cvtepu8_epi32(_mm_srli_si128(in, 8)));
    }
}

WSC_INLINE_AVX2 void decode_kind_avx2(void *out, int kind, const unsigned char *s, size_t n, size_t nchars)
{
    const __m256i cont_below = _mm256_set1_epi8(-65); /* bytes above it (signed) start a character */
    __m256i v0, v1;
    uint64_t high, ends;
    size_t i = 0, o = 0, pos, used;

    /* Each step writes at most 16 units from o, and o advances by at most the 48 bytes a block
     * starts steps in: 64 units of room cover a block. */
    while (n - i >= 64 && nchars - o >= 64) {
        v0 = _mm256_loadu_si256((const __m256i *)(s + i));
        v1 = _mm256_loadu_si256((const __m256i *)(s + i + 32));
        high = (uint32_t)_mm256_movemask_epi8(v0) | ((uint64_t)(uint32_t)_mm256_movemask_epi8(v1) << 32);
        ends = ((uint32_t)_mm256_movemask_epi8(_mm256_cmpgt_epi8(v0, cont_below)) |
                ((uint64_t)(uint32_t)_mm256_movemask_epi8(_mm256_cmpgt_epi8(v1, cont_below)) << 32)) >> 1;
        for (pos = 0; pos <= 48;) {
            if (((high >> pos) & 0xFFFF) == 0) {
                widen16_avx2((char *)out + o * (size_t)kind, kind, s + i + pos);
                pos += 16, o += 16;
                continue;
            }
            o += window_avx2((char *)out + o * (size_t)kind, kind, s + i + pos, (unsigned)(ends >> pos) & 0xFFF, &used);
            pos += used;
        }
        i += pos;
    }
    wsc_text_decode_scalar((char *)out + o * (size_t)kind, kind, s + i, n - i);
}

WSC_TARGET_AVX2 void wsc_text_decode_avx2(void *out, int kind, const unsigned char *s, size_t n, size_t nchars)
{
#define WSC_CALL(k) decode_kind_avx2(out, k, s, n, nchars)
    WSC_BY_KIND(kind, WSC_CALL);
#undef WSC_CALL
}

/* UTF-8 of 8 code points (32-bit lanes) at out; returns the bytes written, and sets the lanes of
 * *bad that hold a surrogate. Stores 16 bytes at out and 16 at out + (length of the first 4): the
 * caller leaves that much room. */
WSC_INLINE_AVX2 size_t encode8_avx2(unsigned char *out, __m256i c, __m256i *bad)
{
    const __m256i low6 = _mm256_and_si256(c, _mm256_set1_epi32(0x3F));
    const __m256i mid6 = _mm256_and_si256(_mm256_srli_epi32(c, 6), _mm256_set1_epi32(0x3F));
    const __m256i high6 = _mm256_and_si256(_mm256_srli_epi32(c, 12), _mm256_set1_epi32(0x3F));
    const __m256i cont = _mm256_set1_epi32(0x80);
    __m256i m1 = _mm256_cmpgt_epi32(c, _mm256_set1_epi32(0x7F));
    __m256i m2 = _mm256_cmpgt_epi32(c, _mm256_set1_epi32(0x7FF));
    __m256i m3 = _mm256_cmpgt_epi32(c, _mm256_set1_epi32(0xFFFF));
    __m256i two = _mm256_or_si256(_mm256_or_si256(_mm256_set1_epi32(0xC0), _mm256_srli_epi32(c, 6)),
                                  _mm256_slli_epi32(_mm256_or_si256(cont, low6), 8));
    __m256i three = _mm256_or_si256(
        _mm256_or_si256(_mm256_set1_epi32(0xE0), _mm256_srli_epi32(c, 12)),
        _mm256_or_si256(_mm256_slli_epi32(_mm256_or_si256(cont, mid6), 8), _mm256_slli_epi32(_mm256_or_si256(cont, low6), 16)));
    __m256i four = _mm256_or_si256(
        _mm256_or_si256(_mm256_or_si256(_mm256_set1_epi32(0xF0), _mm256_srli_epi32(c, 18)),
                        _mm256_slli_epi32(_mm256_or_si256(cont, high6), 8)),
        _mm256_or_si256(_mm256_slli_epi32(_mm256_or_si256(cont, mid6), 16), _mm256_slli_epi32(_mm256_or_si256(cont, low6), 24)));
    __m256i r = _mm256_blendv_epi8(c, two, m1);
    unsigned a = (unsigned)_mm256_movemask_ps(_mm256_castsi256_ps(m1));
    unsigned b = (unsigned)_mm256_movemask_ps(_mm256_castsi256_ps(m2));
    unsigned d = (unsigned)_mm256_movemask_ps(_mm256_castsi256_ps(m3));
    unsigned i0 = (unsigned)wsc_text_spread[a & 15] + wsc_text_spread[b & 15] + wsc_text_spread[d & 15];
    unsigned i1 = (unsigned)wsc_text_spread[a >> 4] + wsc_text_spread[b >> 4] + wsc_text_spread[d >> 4];
    __m256i packed;
    size_t len0 = wsc_text_pack_len[i0];

    *bad = _mm256_or_si256(*bad, _mm256_cmpeq_epi32(_mm256_and_si256(c, _mm256_set1_epi32(~0x7FF)),
                                                     _mm256_set1_epi32(0xD800)));
    r = _mm256_blendv_epi8(r, three, m2);
    r = _mm256_blendv_epi8(r, four, m3);
    packed = _mm256_shuffle_epi8(r, _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_loadu_si128((const __m128i *)wsc_text_packs[i0])),
                                                          _mm_loadu_si128((const __m128i *)wsc_text_packs[i1]), 1));
    _mm_storeu_si128((__m128i *)out, _mm256_castsi256_si128(packed));
    _mm_storeu_si128((__m128i *)(out + len0), _mm256_extracti128_si256(packed, 1));
    return len0 + wsc_text_pack_len[i1];
}

/* Each loop step takes 16 characters and runs while 32 remain: the second half's last store ends
 * at most 16 bytes past the UTF-8 of its first 12 characters, and the 16 characters after the step
 * take at least 16 bytes. */
WSC_TARGET_AVX2 size_t wsc_text_encode_avx2(unsigned char *out, const void *data, int kind, size_t n, size_t *surrogates)
{
    const __m256i zero = _mm256_setzero_si256();
    __m256i bad = _mm256_setzero_si256();
    size_t i = 0, o = 0;
    __m256i v, v1;
    __m128i lo, hi;

    if (kind == 1) {
        const uint8_t *p = (const uint8_t *)data;
        for (; n - i >= 32; i += 16) {
            lo = _mm_loadu_si128((const __m128i *)(p + i));
            if (_mm_movemask_epi8(lo) == 0) {
                _mm_storeu_si128((__m128i *)(out + o), lo);
                o += 16;
                continue;
            }
            o += encode8_avx2(out + o, _mm256_cvtepu8_epi32(lo), &bad);
            o += encode8_avx2(out + o, _mm256_cvtepu8_epi32(_mm_srli_si128(lo, 8)), &bad);
        }
        return o + wsc_text_encode1_scalar(out + o, p + i, n - i);
    }
    if (kind == 2) {
        const uint16_t *p = (const uint16_t *)data;
        for (; n - i >= 32; i += 16) {
            v = _mm256_loadu_si256((const __m256i *)(p + i));
            lo = _mm256_castsi256_si128(v);
            hi = _mm256_extracti128_si256(v, 1);
            if (_mm256_testz_si256(v, _mm256_set1_epi16((short)0xFF80))) {
                _mm_storeu_si128((__m128i *)(out + o), _mm_packus_epi16(lo, hi));
                o += 16;
                continue;
            }
            o += encode8_avx2(out + o, _mm256_cvtepu16_epi32(lo), &bad);
            o += encode8_avx2(out + o, _mm256_cvtepu16_epi32(hi), &bad);
        }
        *surrogates |= !_mm256_testz_si256(bad, bad);
        return o + wsc_text_encode2_scalar(out + o, p + i, n - i, surrogates);
    }
    {
        const uint32_t *p = (const uint32_t *)data;
        for (; n - i >= 32; i += 16) {
            v = _mm256_loadu_si256((const __m256i *)(p + i));
            v1 = _mm256_loadu_si256((const __m256i *)(p + i + 8));
            if (_mm256_testz_si256(_mm256_or_si256(v, v1), _mm256_set1_epi32(~0x7F))) {
                /* 16 ASCII lanes narrowed: packs keep lane order within each 128-bit half */
                __m256i b = _mm256_packus_epi16(_mm256_packus_epi32(v, v1), zero);
                b = _mm256_permutevar8x32_epi32(b, _mm256_setr_epi32(0, 4, 1, 5, 2, 3, 6, 7));
                _mm_storeu_si128((__m128i *)(out + o), _mm256_castsi256_si128(b));
                o += 16;
                continue;
            }
            o += encode8_avx2(out + o, v, &bad);
            o += encode8_avx2(out + o, v1, &bad);
        }
        *surrogates |= !_mm256_testz_si256(bad, bad);
        return o + wsc_text_encode4_scalar(out + o, p + i, n - i, surrogates);
    }
}

/* horizontal sum of the 64-bit lanes */
WSC_INLINE_AVX2 uint64_t sum64_avx2(__m256i v)
{
    uint64_t t[4];
    _mm256_storeu_si256((__m256i *)t, v);
    return t[0] + t[1] + t[2] + t[3];
}

/* 32-bit lane counters widened to 64-bit lanes */
WSC_INLINE_AVX2 __m256i widen32_avx2(__m256i v)
{
    return _mm256_add_epi64(_mm256_cvtepu32_epi64(_mm256_castsi256_si128(v)),
                            _mm256_cvtepu32_epi64(_mm256_extracti128_si256(v, 1)));
}

WSC_TARGET_AVX2 size_t wsc_text_size_avx2(const void *data, int kind, size_t n, size_t *surrogates)
{
    __m256i extra = _mm256_setzero_si256(), bad = _mm256_setzero_si256(), acc, sacc, v;
    size_t i = 0, size = n;
    int k;

    if (kind == 1) {
        const uint8_t *p = (const uint8_t *)data;
        while (n - i >= 32) {
            acc = _mm256_setzero_si256(); /* bytes >= 0x80 (negative) each add one */
            for (k = 0; k < 255 && n - i >= 32; k++, i += 32)
                acc = _mm256_sub_epi8(acc, _mm256_cmpgt_epi8(_mm256_setzero_si256(), _mm256_loadu_si256((const __m256i *)(p + i))));
            extra = _mm256_add_epi64(extra, _mm256_sad_epu8(acc, _mm256_setzero_si256()));
        }
        return size + sum64_avx2(extra) + wsc_text_size_scalar(p + i, 1, n - i, surrogates) - (n - i);
    }
    if (kind == 2) {
        const uint16_t *p = (const uint16_t *)data;
        const __m256i top9 = _mm256_set1_epi16((short)0xFF80), top5 = _mm256_set1_epi16((short)0xF800);
        while (n - i >= 16) {
            /* 16-bit counters of units that are NOT >= 0x80 / >= 0x800, and of surrogates */
            acc = _mm256_setzero_si256(), sacc = _mm256_setzero_si256();
            for (k = 0; k < 8192 && n - i >= 16; k++, i += 16) {
                v = _mm256_loadu_si256((const __m256i *)(p + i));
                acc = _mm256_sub_epi16(acc, _mm256_cmpeq_epi16(_mm256_and_si256(v, top9), _mm256_setzero_si256()));
                acc = _mm256_sub_epi16(acc, _mm256_cmpeq_epi16(_mm256_and_si256(v, top5), _mm256_setzero_si256()));
                sacc = _mm256_sub_epi16(sacc, _mm256_cmpeq_epi16(_mm256_and_si256(v, top5), _mm256_set1_epi16((short)0xD800)));
            }
            size += 32 * (size_t)k; /* 2 extra bytes per unit, less the counted ones */
            extra = _mm256_add_epi64(extra, widen32_avx2(_mm256_madd_epi16(acc, _mm256_set1_epi16(1))));
            bad = _mm256_add_epi64(bad, widen32_avx2(_mm256_madd_epi16(sacc, _mm256_set1_epi16(1))));
        }
        *surrogates += sum64_avx2(bad);
        return size - sum64_avx2(extra) + wsc_text_size_scalar(p + i, 2, n - i, surrogates) - (n - i);
    }
    {
        const uint32_t *p = (const uint32_t *)data;
        while (n - i >= 8) {
            acc = _mm256_setzero_si256(), sacc = _mm256_setzero_si256();
            for (k = 0; k < (1 << 20) && n - i >= 8; k++, i += 8) {
                v = _mm256_loadu_si256((const __m256i *)(p + i));
                acc = _mm256_sub_epi32(acc, _mm256_cmpgt_epi32(v, _mm256_set1_epi32(0x7F)));
                acc = _mm256_sub_epi32(acc, _mm256_cmpgt_epi32(v, _mm256_set1_epi32(0x7FF)));
                acc = _mm256_sub_epi32(acc, _mm256_cmpgt_epi32(v, _mm256_set1_epi32(0xFFFF)));
                sacc = _mm256_sub_epi32(sacc, _mm256_cmpeq_epi32(_mm256_and_si256(v, _mm256_set1_epi32(~0x7FF)),
                                                                 _mm256_set1_epi32(0xD800)));
            }
            extra = _mm256_add_epi64(extra, widen32_avx2(acc));
            bad = _mm256_add_epi64(bad, widen32_avx2(sacc));
        }
        *surrogates += sum64_avx2(bad);
        return size + sum64_avx2(extra) + wsc_text_size_scalar(p + i, 4, n - i, surrogates) - (n - i);
    }
}

#endif /* WSC_X86_64 */
