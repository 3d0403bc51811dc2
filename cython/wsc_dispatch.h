/* wsc_dispatch.h - the kernel entry points the Cython modules call.
 *
 * Today every entry point is the portable scalar kernel. Runtime CPU dispatch (SSE2/AVX2/AVX-512
 * kernels in their own files with their own compile flags) replaces the bodies here without
 * touching the callers.
 */
#ifndef WSC_DISPATCH_H
#define WSC_DISPATCH_H

#include <stddef.h>
#include <stdint.h>

#include "wsc_mask.h"
#include "wsc_utf8.h"

/* name of the instruction set the kernels run on */
static inline const char *wsc_cpu_level(void)
{
    return "scalar";
}

static inline unsigned wsc_mask_copy(unsigned char *out, const unsigned char *in, size_t n,
                                     const unsigned char key[4], unsigned phase)
{
    return wsc_mask_copy_scalar(out, in, n, key, phase);
}

static inline unsigned wsc_mask_inplace(unsigned char *buf, size_t n, const unsigned char key[4], unsigned phase)
{
    return wsc_mask_inplace_scalar(buf, n, key, phase);
}

static inline size_t wsc_utf8_validate(const unsigned char *s, size_t n, uint32_t *state)
{
    return wsc_utf8_validate_scalar(s, n, state);
}

static inline ptrdiff_t wsc_utf8_error_offset(const unsigned char *s, size_t n)
{
    return wsc_utf8_error_offset_scalar(s, n);
}

#endif /* WSC_DISPATCH_H */
