# The C kernels (wsc_dispatch.h: masking, UTF-8 validation, SHA-1), declared for the Cython modules.
#
# Every module except wscodec._c.mask (which owns the kernel table) calls import_kernels() once at
# import, before any kernel runs.

from cpython.pycapsule cimport PyCapsule_GetPointer
from libc.stdint cimport uint32_t


cdef extern from "wsc_cpu.h" nogil:
    ctypedef void (*wsc_sha1_fn)(uint32_t *h, const unsigned char *blocks, size_t nblocks)
    ctypedef struct wsc_kernel_table:
        const char *level
        const char *sha1
        const char *text
        wsc_sha1_fn sha1_compress
        size_t nogil_mask  # inputs at least this long: GIL released (about 2 us of work)
        size_t nogil_utf8
    # cpu.c, linked into wscodec._c.mask only
    wsc_kernel_table wsc_table
    int wsc_cpu_level_count()
    const char *wsc_cpu_level_name(int level)
    int wsc_cpu_level_index(const char *name)
    int wsc_cpu_best_level()
    int wsc_cpu_select(int level)
    int wsc_cpu_selected()


cdef extern from "wsc_dispatch.h" nogil:
    const char *WSC_KERNELS_CAPSULE
    const wsc_kernel_table *wsc_k
    const char *wsc_cpu_level()
    unsigned wsc_mask_copy(unsigned char *out, const unsigned char *inp, size_t n,
                           const unsigned char *key, unsigned phase)
    unsigned wsc_mask_inplace(unsigned char *buf, size_t n, const unsigned char *key, unsigned phase)
    size_t wsc_utf8_validate(const unsigned char *s, size_t n, uint32_t *state)
    ptrdiff_t wsc_utf8_error_offset(const unsigned char *s, size_t n)
    uint32_t WSC_UTF8_ACCEPT
    uint32_t WSC_UTF8_REJECT


cdef inline int import_kernels() except -1:
    """Point this module's ``wsc_k`` at the one kernel table, owned by wscodec._c.mask."""
    global wsc_k
    from wscodec._c.mask import _KERNELS
    wsc_k = <const wsc_kernel_table *>PyCapsule_GetPointer(_KERNELS, WSC_KERNELS_CAPSULE)
    return 0

