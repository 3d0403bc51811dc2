/* wsc_dispatch.h - the kernel entry points the Cython modules call.
 *
 * Every call goes through one table of function pointers (wsc_cpu.h), filled once at import by
 * wscodec._c.mask for the best instruction set this CPU and OS support (capped by WSCODEC_CPU).
 * Each module sets its own pointer `wsc_k` at import: the mask module to the table it owns, the
 * others to the same table through the capsule wscodec._c.mask._KERNELS (wsc_kernels.pxd), so
 * the one test hook (wscodec._c.mask._set_cpu_level) switches every module at once.
 *
 * Inputs shorter than a vector never reach the table: the inline scalar code is faster than an
 * indirect call for them, and it is what every SIMD kernel does with such inputs anyway.
 */
#ifndef WSC_DISPATCH_H
#define WSC_DISPATCH_H

#include <stddef.h>
#include <stdint.h>

#include "wsc_cpu.h"
#include "wsc_mask.h"
#include "wsc_text.h"
#include "wsc_utf8.h"

#define WSC_KERNELS_CAPSULE "wscodec._c.mask._KERNELS"

static const wsc_kernel_table *wsc_k;

/* name of the instruction set the kernels run on */
static inline const char *wsc_cpu_level(void)
{
    return wsc_k->level;
}

static inline unsigned wsc_mask_copy(unsigned char *out, const unsigned char *in, size_t n,
                                     const unsigned char key[4], unsigned phase)
{
    if (n < 16)
        return wsc_mask_short(out, in, n, key, phase);
    return wsc_k->mask(out, in, n, key, phase);
}

static inline unsigned wsc_mask_inplace(unsigned char *buf, size_t n, const unsigned char key[4], unsigned phase)
{
    if (n < 16)
        return wsc_mask_short(buf, buf, n, key, phase);
    return wsc_k->mask(buf, buf, n, key, phase);
}

static inline size_t wsc_utf8_validate(const unsigned char *s, size_t n, uint32_t *state)
{
    if (n < 16)
        return wsc_utf8_validate_scalar(s, n, state);
    return wsc_k->utf8(s, n, state);
}

/* Offset of the first invalid byte of a complete text s[0..n), or -1 when it is valid UTF-8 (an
 * unfinished sequence at the end fails at n). */
static inline ptrdiff_t wsc_utf8_error_offset(const unsigned char *s, size_t n)
{
    uint32_t st = WSC_UTF8_ACCEPT;
    size_t bad = wsc_utf8_validate(s, n, &st);
    if (st == WSC_UTF8_ACCEPT)
        return -1;
    return (ptrdiff_t)bad; /* == n for an unfinished sequence */
}

/* text (wsc_cpu.h and wsc_text.h have the contracts): short inputs stay inline and scalar */
static inline size_t wsc_text_scan(const unsigned char *s, size_t n, unsigned *maxbyte)
{
    if (n < 16)
        return wsc_text_scan_scalar(s, n, maxbyte);
    return wsc_k->text_scan(s, n, maxbyte);
}

static inline size_t wsc_text_ascii(unsigned char *out, const unsigned char *s, size_t n)
{
    if (n < 16)
        return wsc_text_ascii_scalar(out, s, n);
    return wsc_k->text_ascii(out, s, n);
}

static inline void wsc_text_decode(void *out, int kind, const unsigned char *s, size_t n, size_t nchars)
{
    if (n < 64)
        wsc_text_decode_scalar(out, kind, s, n);
    else
        wsc_k->text_decode(out, kind, s, n, nchars);
}

static inline size_t wsc_text_size(const void *data, int kind, size_t n, size_t *surrogates)
{
    if (n < 16)
        return wsc_text_size_scalar(data, kind, n, surrogates);
    return wsc_k->text_size(data, kind, n, surrogates);
}

static inline size_t wsc_text_encode(unsigned char *out, const void *data, int kind, size_t n, size_t *surrogates)
{
    if (n < 32)
        return wsc_text_encode_scalar(out, data, kind, n, surrogates);
    return wsc_k->text_encode(out, data, kind, n, surrogates);
}

#endif /* WSC_DISPATCH_H */
