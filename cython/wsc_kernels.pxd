# The C kernels (wsc_dispatch.h: masking and UTF-8 validation), declared for the Cython modules.

from libc.stdint cimport uint32_t


cdef extern from "wsc_dispatch.h" nogil:
    const char *wsc_cpu_level()
    unsigned wsc_mask_copy(unsigned char *out, const unsigned char *inp, size_t n,
                           const unsigned char *key, unsigned phase)
    unsigned wsc_mask_inplace(unsigned char *buf, size_t n, const unsigned char *key, unsigned phase)
    size_t wsc_utf8_validate(const unsigned char *s, size_t n, uint32_t *state)
    ptrdiff_t wsc_utf8_error_offset(const unsigned char *s, size_t n)
    uint32_t WSC_UTF8_ACCEPT
    uint32_t WSC_UTF8_REJECT


# Payloads at least this long are masked / validated / copied with the GIL released.
cdef enum:
    NOGIL_THRESHOLD = 16384
