/* wsc_text.h - UTF-8 <-> CPython's compact str representation (1-, 2- or 4-byte code units),
 * scalar kernels: the scalar level's table entries, and the heads and tails of the SIMD ones.
 *
 * Decoding is done in passes over input that the UTF-8 validator (wsc_utf8.h) has accepted:
 *   scan:   the number of continuation bytes (characters = bytes - continuations) and the largest
 *           byte, which names the str kind: < 80 ASCII, < C4 Latin-1 (only C2/C3 leads), < F0 UCS-2,
 *           else UCS-4. (A lead byte fixes the range of its character, so that kind is exactly the
 *           one CPython's canonical representation requires.)
 *   decode: each character into a code unit of that kind.
 * Encoding: size (the UTF-8 length, and whether a surrogate makes the str unencodable), then
 * encode. Every function here takes its kind as a constant through the macros below, so each loop
 * is compiled once per kind.
 */
#ifndef WSC_TEXT_H
#define WSC_TEXT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define WSC_HIGH8 0x8080808080808080ull

/* CALL(k) with k the constant 1, 2 or 4 equal to `kind` (CALL may return): a vector kernel's
 * loop, written once with its kind as a parameter, compiled once per kind */
#define WSC_BY_KIND(kind, CALL)                                                                     \
    do {                                                                                            \
        if ((kind) == 1) {                                                                          \
            CALL(1);                                                                                \
        } else if ((kind) == 2) {                                                                   \
            CALL(2);                                                                                \
        } else {                                                                                    \
            CALL(4);                                                                                \
        }                                                                                           \
    } while (0)

/* continuation bytes of s[0..n) counted; *maxbyte raised to the largest byte >= 0x80 (ASCII bytes
 * may raise it or not: only which side of 0x80, C4 and F0 it ends on matters) */
static inline size_t wsc_text_scan_scalar(const unsigned char *s, size_t n, unsigned *maxbyte)
{
    size_t i = 0, conts = 0;
    unsigned mx = *maxbyte;
    uint64_t w;

    while (i < n) {
        if (n - i >= 8) {
            memcpy(&w, s + i, 8);
            if ((w & WSC_HIGH8) == 0) {
                i += 8;
                continue;
            }
        }
        conts += (s[i] & 0xC0) == 0x80;
        if (s[i] > mx)
            mx = s[i];
        i++;
    }
    *maxbyte = mx;
    return conts;
}

/* the kind (1, 2, 4) and the maxchar for PyUnicode_New of valid text whose largest byte is b */
static inline unsigned wsc_text_maxchar(unsigned b)
{
    return b < 0x80 ? 0x7F : b < 0xC4 ? 0xFF : b < 0xF0 ? 0xFFFF : 0x10FFFF;
}

/* Length of the ASCII prefix of s[0..n), copied to out: the copy stops at the first word with a
 * high bit (the caller goes on from the returned index, all of whose bytes before are ASCII). */
static inline size_t wsc_text_ascii_scalar(unsigned char *out, const unsigned char *s, size_t n)
{
    size_t i = 0;
    uint64_t w;

    for (; n - i >= 8; i += 8) {
        memcpy(&w, s + i, 8);
        if (w & WSC_HIGH8)
            break;
        memcpy(out + i, &w, 8);
    }
    for (; i < n && s[i] < 0x80; i++)
        out[i] = s[i];
    return i;
}

/* One character of valid UTF-8 at s (its lead byte c = s[0]); *len set to its length. */
static inline uint32_t wsc_text_char(const unsigned char *s, unsigned *len)
{
    unsigned c = s[0];
    if (c < 0x80) {
        *len = 1;
        return c;
    }
    if (c < 0xE0) {
        *len = 2;
        return ((c & 0x1Fu) << 6) | (s[1] & 0x3Fu);
    }
    if (c < 0xF0) {
        *len = 3;
        return ((c & 0x0Fu) << 12) | ((s[1] & 0x3Fu) << 6) | (s[2] & 0x3Fu);
    }
    *len = 4;
    return ((c & 0x07u) << 18) | ((s[1] & 0x3Fu) << 12) | ((s[2] & 0x3Fu) << 6) | (s[3] & 0x3Fu);
}

/* Decode valid, complete UTF-8 s[0..n) into out (code units of type T, room for every character).
 * Returns the number of characters written. Runs of 8 ASCII bytes are widened a word at a time. */
#define WSC_TEXT_DECODE_BODY(T, out, s, n)                                          \
    do {                                                                            \
        size_t i_ = 0, o_ = 0;                                                      \
        unsigned len_;                                                              \
        uint64_t w_;                                                                \
        while (i_ < n) {                                                            \
            if (n - i_ >= 8) {                                                      \
                memcpy(&w_, s + i_, 8);                                             \
                if ((w_ & WSC_HIGH8) == 0) {                                        \
                    int k_;                                                         \
                    for (k_ = 0; k_ < 8; k_++)                                      \
                        ((T *)out)[o_ + k_] = (T)s[i_ + k_];                        \
                    i_ += 8, o_ += 8;                                               \
                    continue;                                                       \
                }                                                                   \
            }                                                                       \
            ((T *)out)[o_++] = (T)wsc_text_char(s + i_, &len_);                     \
            i_ += len_;                                                             \
        }                                                                           \
        return o_;                                                                  \
    } while (0)

static inline size_t wsc_text_decode1_scalar(void *out, const unsigned char *s, size_t n)
{
    WSC_TEXT_DECODE_BODY(uint8_t, out, s, n);
}

static inline size_t wsc_text_decode2_scalar(void *out, const unsigned char *s, size_t n)
{
    WSC_TEXT_DECODE_BODY(uint16_t, out, s, n);
}

static inline size_t wsc_text_decode4_scalar(void *out, const unsigned char *s, size_t n)
{
    WSC_TEXT_DECODE_BODY(uint32_t, out, s, n);
}

static inline size_t wsc_text_decode_scalar(void *out, int kind, const unsigned char *s, size_t n)
{
    if (kind == 1)
        return wsc_text_decode1_scalar(out, s, n);
    if (kind == 2)
        return wsc_text_decode2_scalar(out, s, n);
    return wsc_text_decode4_scalar(out, s, n);
}

/* UTF-8 length of n code units of type T at data; *surrogates counts those that cannot be encoded
 * (U+D800..U+DFFF, which a str may hold) */
#define WSC_TEXT_SIZE_BODY(T, data, n, surrogates)                                  \
    do {                                                                            \
        size_t i_, size_ = n, bad_ = 0;                                             \
        for (i_ = 0; i_ < n; i_++) {                                                \
            uint32_t c_ = ((const T *)data)[i_];                                    \
            size_ += (c_ >= 0x80) + (c_ >= 0x800) + (c_ >= 0x10000);                \
            bad_ += (c_ - 0xD800u) < 0x800u;                                        \
        }                                                                           \
        *surrogates += bad_;                                                        \
        return size_;                                                               \
    } while (0)

static inline size_t wsc_text_size_scalar(const void *data, int kind, size_t n, size_t *surrogates)
{
    if (kind == 1) { /* no surrogates, and ASCII words add nothing */
        const uint8_t *p = (const uint8_t *)data;
        size_t i, size = n;
        for (i = 0; i < n; i++)
            size += p[i] >> 7;
        return size;
    }
    if (kind == 2)
        WSC_TEXT_SIZE_BODY(uint16_t, data, n, surrogates);
    WSC_TEXT_SIZE_BODY(uint32_t, data, n, surrogates);
}

/* One code point as UTF-8 at out (a surrogate as 3 bytes); returns its length. */
static inline size_t wsc_text_put(unsigned char *out, uint32_t c)
{
    if (c < 0x80) {
        out[0] = (unsigned char)c;
        return 1;
    }
    if (c < 0x800) {
        out[0] = (unsigned char)(0xC0 | (c >> 6));
        out[1] = (unsigned char)(0x80 | (c & 0x3F));
        return 2;
    }
    if (c < 0x10000) {
        out[0] = (unsigned char)(0xE0 | (c >> 12));
        out[1] = (unsigned char)(0x80 | ((c >> 6) & 0x3F));
        out[2] = (unsigned char)(0x80 | (c & 0x3F));
        return 3;
    }
    out[0] = (unsigned char)(0xF0 | (c >> 18));
    out[1] = (unsigned char)(0x80 | ((c >> 12) & 0x3F));
    out[2] = (unsigned char)(0x80 | ((c >> 6) & 0x3F));
    out[3] = (unsigned char)(0x80 | (c & 0x3F));
    return 4;
}

/* n code units of type T as UTF-8 at out; returns the bytes written, *surrogates made non-zero
 * when one was met (written as 3 bytes: the caller discards the output) */
#define WSC_TEXT_ENCODE_BODY(T, out, data, n, surrogates)                           \
    do {                                                                            \
        const T *p_ = (const T *)data;                                              \
        size_t i_, o_ = 0, bad_ = 0;                                                \
        for (i_ = 0; i_ < n; i_++) {                                                \
            uint32_t c_ = p_[i_];                                                   \
            if (c_ < 0x80) {                                                        \
                out[o_++] = (unsigned char)c_;                                      \
            } else {                                                                \
                bad_ |= (c_ - 0xD800u) < 0x800u;                                    \
                o_ += wsc_text_put(out + o_, c_);                                   \
            }                                                                       \
        }                                                                           \
        *surrogates |= bad_;                                                        \
        return o_;                                                                  \
    } while (0)

static inline size_t wsc_text_encode1_scalar(unsigned char *out, const void *data, size_t n)
{
    size_t none = 0; /* Latin-1 holds no surrogates */
    WSC_TEXT_ENCODE_BODY(uint8_t, out, data, n, &none);
}

static inline size_t wsc_text_encode2_scalar(unsigned char *out, const void *data, size_t n, size_t *surrogates)
{
    WSC_TEXT_ENCODE_BODY(uint16_t, out, data, n, surrogates);
}

static inline size_t wsc_text_encode4_scalar(unsigned char *out, const void *data, size_t n, size_t *surrogates)
{
    WSC_TEXT_ENCODE_BODY(uint32_t, out, data, n, surrogates);
}

static inline size_t wsc_text_encode_scalar(unsigned char *out, const void *data, int kind, size_t n,
                                            size_t *surrogates)
{
    if (kind == 1)
        return wsc_text_encode1_scalar(out, data, n);
    if (kind == 2)
        return wsc_text_encode2_scalar(out, data, n, surrogates);
    return wsc_text_encode4_scalar(out, data, n, surrogates);
}

#endif /* WSC_TEXT_H */
