/* text_avx512.c - text kernels at level avx512 (F + BW), with 64-byte vectors. */
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
    /* by the high nibble of the lead: how far the continuation bits shift down (kind 4: from 3
     * continuation bytes; else no 4-byte characters: from 2), the lead's mask and shift */
    const __m512i cont_shift = kind == 4 ? _mm512_setr_epi32(18, 18, 18, 18, 18, 18, 18, 18, 0, 0, 0, 0, 12, 12, 6, 0)
                                         : _mm512_setr_epi32(12, 12, 12, 12, 12, 12, 12, 12, 0, 0, 0, 0, 6, 6, 0, 0);
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
            hi = _mm512_srli_epi32(b0, 4);
            if (kind == 4) {
                b3 = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(p + 3)));
                cp = _mm512_or_si512(_mm512_or_si512(_mm512_slli_epi32(_mm512_and_si512(b1, six), 12),
                                                     _mm512_slli_epi32(_mm512_and_si512(b2, six), 6)),
                                     _mm512_and_si512(b3, six));
            } else {
                cp = _mm512_or_si512(_mm512_slli_epi32(_mm512_and_si512(b1, six), 6), _mm512_and_si512(b2, six));
            }
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
#define WSC_CALL(k) decode_kind_avx512(out, k, s, n, nchars)
    WSC_BY_KIND(kind, WSC_CALL);
#undef WSC_CALL
}

/* 16 code units of `kind` at p as 32-bit lanes */
WSC_INLINE_AVX512 __m512i load16_avx512(const void *p, int kind)
{
    if (kind == 1)
        return _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)p));
    if (kind == 2)
        return _mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)p));
    return _mm512_loadu_si512(p);
}

/* per-lane counters (32-bit, at most 3 per step: summed into 64 bits every 2**28 steps) */
WSC_INLINE_AVX512 size_t size_kind_avx512(const void *data, int kind, size_t n, size_t *surrogates)
{
    const char *p = (const char *)data;
    const __m512i one = _mm512_set1_epi32(1);
    __m512i extra = _mm512_setzero_si512(), bad = _mm512_setzero_si512(), acc, sacc, c;
    size_t i = 0, size = n;
    int k;

    while (n - i >= 16) {
        acc = _mm512_setzero_si512(), sacc = _mm512_setzero_si512();
        for (k = 0; k < (1 << 28) && n - i >= 16; k++, i += 16) {
            c = load16_avx512(p + i * (size_t)kind, kind);
            acc = _mm512_mask_add_epi32(acc, _mm512_cmpgt_epu32_mask(c, _mm512_set1_epi32(0x7F)), acc, one);
            acc = _mm512_mask_add_epi32(acc, _mm512_cmpgt_epu32_mask(c, _mm512_set1_epi32(0x7FF)), acc, one);
            acc = _mm512_mask_add_epi32(acc, _mm512_cmpgt_epu32_mask(c, _mm512_set1_epi32(0xFFFF)), acc, one);
            sacc = _mm512_mask_add_epi32(sacc, _mm512_cmpeq_epu32_mask(_mm512_and_si512(c, _mm512_set1_epi32(~0x7FF)),
                                                                       _mm512_set1_epi32(0xD800)), sacc, one);
        }
        extra = _mm512_add_epi64(extra, _mm512_add_epi64(_mm512_cvtepu32_epi64(_mm512_castsi512_si256(acc)),
                                                         _mm512_cvtepu32_epi64(_mm512_extracti64x4_epi64(acc, 1))));
        bad = _mm512_add_epi64(bad, _mm512_add_epi64(_mm512_cvtepu32_epi64(_mm512_castsi512_si256(sacc)),
                                                     _mm512_cvtepu32_epi64(_mm512_extracti64x4_epi64(sacc, 1))));
    }
    *surrogates += (size_t)_mm512_reduce_add_epi64(bad);
    return size + (size_t)_mm512_reduce_add_epi64(extra) +
           wsc_text_size_scalar(p + i * (size_t)kind, kind, n - i, surrogates) - (n - i);
}

WSC_TARGET_AVX512 size_t wsc_text_size_avx512(const void *data, int kind, size_t n, size_t *surrogates)
{
#define WSC_CALL(k) return size_kind_avx512(data, k, n, surrogates)
    WSC_BY_KIND(kind, WSC_CALL);
#undef WSC_CALL
}

/* 16 code points (32-bit lanes) as their UTF-8 bytes, one character per lane, first byte lowest
 * (the form chosen by compares); *len = their lengths, and *bad gets the lanes that hold a
 * surrogate ORed in. */
#define WSC_UTF8_LANES_AVX512(c, r, len, bad)                                                          \
    do {                                                                                            \
        const __m512i low6_ = _mm512_and_si512(c, _mm512_set1_epi32(0x3F));                          \
        const __m512i mid6_ = _mm512_and_si512(_mm512_srli_epi32(c, 6), _mm512_set1_epi32(0x3F));    \
        const __m512i high6_ = _mm512_and_si512(_mm512_srli_epi32(c, 12), _mm512_set1_epi32(0x3F));  \
        const __m512i cont_ = _mm512_set1_epi32(0x80), one_ = _mm512_set1_epi32(1);                  \
        const __m512i clow_ = _mm512_or_si512(cont_, low6_), cmid_ = _mm512_or_si512(cont_, mid6_);  \
        const __mmask16 m1_ = _mm512_cmpgt_epu32_mask(c, _mm512_set1_epi32(0x7F));                   \
        const __mmask16 m2_ = _mm512_cmpgt_epu32_mask(c, _mm512_set1_epi32(0x7FF));                  \
        const __mmask16 m3_ = _mm512_cmpgt_epu32_mask(c, _mm512_set1_epi32(0xFFFF));                 \
        __m512i two_ = _mm512_or_si512(_mm512_or_si512(_mm512_set1_epi32(0xC0), _mm512_srli_epi32(c, 6)), \
                                       _mm512_slli_epi32(clow_, 8));                                 \
        __m512i three_ = _mm512_or_si512(                                                           \
            _mm512_or_si512(_mm512_set1_epi32(0xE0), _mm512_srli_epi32(c, 12)),                     \
            _mm512_or_si512(_mm512_slli_epi32(cmid_, 8), _mm512_slli_epi32(clow_, 16)));             \
        __m512i four_ = _mm512_or_si512(                                                            \
            _mm512_or_si512(_mm512_or_si512(_mm512_set1_epi32(0xF0), _mm512_srli_epi32(c, 18)),     \
                            _mm512_slli_epi32(_mm512_or_si512(cont_, high6_), 8)),                  \
            _mm512_or_si512(_mm512_slli_epi32(cmid_, 16), _mm512_slli_epi32(clow_, 24)));           \
        r = _mm512_mask_blend_epi32(                                                                \
            m3_, _mm512_mask_blend_epi32(m2_, _mm512_mask_blend_epi32(m1_, c, two_), three_), four_); \
        len = _mm512_mask_add_epi32(one_, m1_, one_, one_);                                         \
        len = _mm512_mask_add_epi32(len, m2_, len, one_);                                           \
        len = _mm512_mask_add_epi32(len, m3_, len, one_);                                           \
        bad |= (unsigned)_mm512_cmpeq_epu32_mask(_mm512_and_si512(c, _mm512_set1_epi32(~0x7FF)),    \
                                                 _mm512_set1_epi32(0xD800));                        \
    } while (0)

/* UTF-8 of 16 code points at out; returns the bytes written. Each 128-bit quarter of the lanes is
 * packed by the shuffle for its 4 lengths (wsc_text_packs, indexed by the lengths - 1, 2 bits
 * each) and stored right after the previous one: the last store ends 16 bytes past the UTF-8 of
 * the first 12 characters. */
WSC_INLINE_AVX512 size_t encode16_avx512(unsigned char *out, __m512i c, unsigned *bad)
{
    __m512i r, len, key, shuf;
    uint8_t keys[16];
    unsigned idx[4];
    size_t o;

    WSC_UTF8_LANES_AVX512(c, r, len, *bad);
    key = _mm512_sllv_epi32(_mm512_sub_epi32(len, _mm512_set1_epi32(1)),
                            _mm512_setr_epi32(0, 2, 4, 6, 0, 2, 4, 6, 0, 2, 4, 6, 0, 2, 4, 6));
    key = _mm512_or_si512(key, _mm512_shuffle_epi32(key, _MM_PERM_CDAB));
    key = _mm512_or_si512(key, _mm512_shuffle_epi32(key, _MM_PERM_BADC)); /* in every lane of a quarter */
    _mm_storeu_si128((__m128i *)keys, _mm512_cvtepi32_epi8(key));
    idx[0] = keys[0], idx[1] = keys[4], idx[2] = keys[8], idx[3] = keys[12];
    shuf = _mm512_castsi128_si512(_mm_loadu_si128((const __m128i *)wsc_text_packs[idx[0]]));
    shuf = _mm512_inserti32x4(shuf, _mm_loadu_si128((const __m128i *)wsc_text_packs[idx[1]]), 1);
    shuf = _mm512_inserti32x4(shuf, _mm_loadu_si128((const __m128i *)wsc_text_packs[idx[2]]), 2);
    shuf = _mm512_inserti32x4(shuf, _mm_loadu_si128((const __m128i *)wsc_text_packs[idx[3]]), 3);
    r = _mm512_shuffle_epi8(r, shuf);
    _mm_storeu_si128((__m128i *)out, _mm512_castsi512_si128(r));
    o = wsc_text_pack_len[idx[0]];
    _mm_storeu_si128((__m128i *)(out + o), _mm512_extracti32x4_epi32(r, 1));
    o += wsc_text_pack_len[idx[1]];
    _mm_storeu_si128((__m128i *)(out + o), _mm512_extracti32x4_epi32(r, 2));
    o += wsc_text_pack_len[idx[2]];
    _mm_storeu_si128((__m128i *)(out + o), _mm512_extracti32x4_epi32(r, 3));
    return o + wsc_text_pack_len[idx[3]];
}

#if defined(__GNUC__) || defined(__clang__)
#define WSC_INLINE_VBMI2 static inline __attribute__((always_inline, target("avx512f,avx512bw,avx512vbmi2,popcnt")))
#else
#define WSC_INLINE_VBMI2 static __forceinline
#endif

/* The same with VBMI2: each lane keeps its first `length` bytes (a byte mask from comparing the
 * length with the byte's place in the lane), compressed together and stored as 64 bytes. */
WSC_INLINE_VBMI2 size_t encode16_vbmi2_avx512(unsigned char *out, __m512i c, unsigned *bad)
{
    const __m512i place = _mm512_set1_epi32(0x03020100);
    const __m512i spread = _mm512_set1_epi32(0x01010101);
    __m512i r, len;
    __mmask64 keep;

    WSC_UTF8_LANES_AVX512(c, r, len, *bad);
    keep = _mm512_cmpgt_epu8_mask(_mm512_mullo_epi32(len, spread), place);
    _mm512_storeu_si512((void *)out, _mm512_maskz_compress_epi8(keep, r));
    return (size_t)_mm_popcnt_u64(_cvtmask64_u64(keep));
}

/* The encoding loop over `encode16` (16 characters per step, ASCII steps narrowed at once). It
 * runs while `ahead` characters remain: the last store of a step ends at most 48 bytes past the
 * step's UTF-8 (encode16_avx512: 16 past its first 12 characters; the VBMI2 one: 64 past its
 * start), and the characters after the step take at least one byte each. */
#define WSC_ENCODE_LOOP_AVX512(encode16, ahead, out, data, kind, n, surrogates)                      \
    do {                                                                                            \
        const char *p_ = (const char *)(data);                                                      \
        size_t i_ = 0, o_ = 0;                                                                      \
        unsigned bad_ = 0;                                                                          \
        __m512i c_;                                                                                 \
        for (; n - i_ >= (ahead); i_ += 16) {                                                       \
            c_ = load16_avx512(p_ + i_ * (size_t)(kind), kind);                                     \
            if (_mm512_cmpgt_epu32_mask(c_, _mm512_set1_epi32(0x7F)) == 0) {                        \
                _mm_storeu_si128((__m128i *)(out + o_), _mm512_cvtepi32_epi8(c_));                  \
                o_ += 16;                                                                           \
            } else {                                                                                \
                o_ += encode16(out + o_, c_, &bad_);                                                \
            }                                                                                       \
        }                                                                                           \
        *(surrogates) |= bad_ != 0;                                                                 \
        return o_ + wsc_text_encode_scalar(out + o_, p_ + i_ * (size_t)(kind), kind, n - i_, surrogates); \
    } while (0)

WSC_INLINE_AVX512 size_t encode_kind_avx512(unsigned char *out, const void *data, int kind, size_t n,
                                            size_t *surrogates)
{
    WSC_ENCODE_LOOP_AVX512(encode16_avx512, 32, out, data, kind, n, surrogates);
}

WSC_TARGET_AVX512 size_t wsc_text_encode_avx512(unsigned char *out, const void *data, int kind, size_t n,
                                                size_t *surrogates)
{
#define WSC_CALL(k) return encode_kind_avx512(out, data, k, n, surrogates)
    WSC_BY_KIND(kind, WSC_CALL);
#undef WSC_CALL
}

WSC_INLINE_VBMI2 size_t encode_kind_vbmi2_avx512(unsigned char *out, const void *data, int kind, size_t n,
                                                 size_t *surrogates)
{
    WSC_ENCODE_LOOP_AVX512(encode16_vbmi2_avx512, 64, out, data, kind, n, surrogates);
}

WSC_TARGET_AVX512_VBMI2 size_t wsc_text_encode_vbmi2_avx512(unsigned char *out, const void *data, int kind, size_t n,
                                                            size_t *surrogates)
{
#define WSC_CALL(k) return encode_kind_vbmi2_avx512(out, data, k, n, surrogates)
    WSC_BY_KIND(kind, WSC_CALL);
#undef WSC_CALL
}

#endif /* WSC_X86_64 */
