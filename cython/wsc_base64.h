/* wsc_base64.h - base64 encoding (RFC 4648, standard alphabet, padded) and the Sec-WebSocket-Key
 * syntax check (RFC 6455 section 4.1: base64 of exactly 16 bytes).
 */
#ifndef WSC_BASE64_H
#define WSC_BASE64_H

#include <stddef.h>

/* encoded size of n bytes, padding included */
#define WSC_BASE64_LEN(n) ((((n) + 2) / 3) * 4)

/* Encode in[0..n) into out (WSC_BASE64_LEN(n) bytes, no terminator); returns the length written. */
static inline size_t wsc_base64_encode(char *out, const unsigned char *in, size_t n)
{
    static const char alphabet[65] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t i, o = 0;
    unsigned long v;

    for (i = 0; n - i >= 3; i += 3) {
        v = ((unsigned long)in[i] << 16) | ((unsigned long)in[i + 1] << 8) | in[i + 2];
        out[o++] = alphabet[(v >> 18) & 63];
        out[o++] = alphabet[(v >> 12) & 63];
        out[o++] = alphabet[(v >> 6) & 63];
        out[o++] = alphabet[v & 63];
    }
    if (n - i == 1) {
        v = (unsigned long)in[i] << 16;
        out[o++] = alphabet[(v >> 18) & 63];
        out[o++] = alphabet[(v >> 12) & 63];
        out[o++] = '=';
        out[o++] = '=';
    } else if (n - i == 2) {
        v = ((unsigned long)in[i] << 16) | ((unsigned long)in[i + 1] << 8);
        out[o++] = alphabet[(v >> 18) & 63];
        out[o++] = alphabet[(v >> 12) & 63];
        out[o++] = alphabet[(v >> 6) & 63];
        out[o++] = '=';
    }
    return o;
}

/* whether c is one of the 64 characters of the standard alphabet */
static inline int wsc_base64_is_alphabet(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
           c == '/';
}

/* Sec-WebSocket-Key syntax: 24 bytes, 22 alphabet characters then "==" (the spare bits of the
 * last character are not checked, as base64.b64decode does not check them). */
static inline int wsc_ws_key_is_valid(const unsigned char *s, size_t n)
{
    size_t i;

    if (n != 24 || s[22] != '=' || s[23] != '=')
        return 0;
    for (i = 0; i < 22; i++)
        if (!wsc_base64_is_alphabet(s[i]))
            return 0;
    return 1;
}

#endif /* WSC_BASE64_H */
