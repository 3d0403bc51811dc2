# cython: embedsignature.format=clinic
"""XOR masking (RFC 6455 section 5.3), compiled: the C twin of wscodec._py.mask.

This module also owns the kernel table of every compiled module (runtime CPU dispatch, see
cython/wsc_cpu.h): it detects the CPU once, at import, and caps the level with WSCODEC_CPU.
"""

import os

from cpython.buffer cimport PyBuffer_Release
from cpython.bytearray cimport PyByteArray_AS_STRING, PyByteArray_GET_SIZE
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from cpython.pycapsule cimport PyCapsule_New
from libc.string cimport memcpy

from wsc_buf cimport PyLong_AsLongLongAndOverflow, get_buffer, index_value, read_mask_key
from wsc_kernels cimport (
    WSC_KERNELS_CAPSULE, wsc_cpu_best_level, wsc_cpu_level, wsc_cpu_level_count,
    wsc_cpu_level_index, wsc_cpu_level_name, wsc_cpu_select, wsc_cpu_selected, wsc_k, wsc_mask_copy,
    wsc_mask_inplace, wsc_table,
)

__all__ = ["apply_mask", "mask_inplace", "Masker"]


# -- runtime CPU dispatch ---------------------------------------------------------------------------

cdef int _cap  # the highest level allowed: the best this CPU runs, or less when WSCODEC_CPU says so


def _level_names():
    return tuple(wsc_cpu_level_name(i).decode("ascii") for i in range(wsc_cpu_level_count()))


cdef int _init_dispatch() except -1:
    global _cap, wsc_k
    raw = os.environ.get("WSCODEC_CPU", "")
    name = raw.strip().lower()
    _cap = wsc_cpu_best_level()
    if name:
        level = wsc_cpu_level_index(name.encode("ascii", "replace"))
        if level < 0:
            raise ValueError("WSCODEC_CPU=%r is not a CPU level of this architecture (one of: %s)"
                             % (raw, ", ".join(_level_names())))
        _cap = min(_cap, level)
    wsc_cpu_select(_cap)
    wsc_k = &wsc_table
    return 0


_init_dispatch()

# the table, for the other compiled modules (wsc_kernels.pxd: import_kernels)
_KERNELS = PyCapsule_New(<void *>&wsc_table, WSC_KERNELS_CAPSULE, NULL)


def cpu_level():
    """The instruction set the kernels dispatched to: "scalar", "sse2", "avx2", "avx512", "neon".

    The best level this CPU and OS support, capped by the environment variable WSCODEC_CPU (read
    once, at import).
    """
    return wsc_cpu_level().decode("ascii")


def cpu_info():
    """The kernels in use and why: a dict with the level, the SHA-1 kernel ("sha" = the x86 SHA
    extensions), the text encoder ("avx512-vbmi2" where the CPU has VBMI2), the best level of this CPU, the levels this process may use, and the input sizes
    from which masking and UTF-8 validation release the GIL."""
    return {
        "level": wsc_cpu_level().decode("ascii"),
        "sha1": wsc_k.sha1.decode("ascii"),
        "text": wsc_k.text.decode("ascii"),
        "cpu_best": wsc_cpu_level_name(wsc_cpu_best_level()).decode("ascii"),
        "levels": _cpu_levels(),
        "nogil_mask": wsc_k.nogil_mask,
        "nogil_utf8": wsc_k.nogil_utf8,
    }


def _cpu_levels():
    """The levels this process may switch to: every level up to the best one of this CPU, or up to
    WSCODEC_CPU. (For tests.)"""
    return _level_names()[:_cap + 1]


def _set_cpu_level(name):
    """Testing only: switch every compiled module to the kernels of level ``name`` and return the
    previous level's name. Not synchronized with kernels running in other threads."""
    previous = wsc_cpu_level_name(wsc_cpu_selected()).decode("ascii")
    level = wsc_cpu_level_index(str(name).encode("ascii", "replace"))
    if level < 0 or level > _cap:
        raise ValueError("CPU level %r is not available here (levels: %s)" % (name, ", ".join(_cpu_levels())))
    wsc_cpu_select(level)
    return previous


# -- masking ------------------------------------------------------------------------------------------

cdef tuple _PHASES = (0, 1, 2, 3)  # the return values, without a conversion per call


cdef unsigned _check_phase(object phase) except 4:
    cdef int overflow = 0
    cdef long long value
    if phase is _PHASES[0]:  # the default (small ints are shared objects)
        return 0
    if type(phase) is int:
        value = PyLong_AsLongLongAndOverflow(phase, &overflow)
    else:
        value = index_value(phase, &overflow)
    if overflow or not 0 <= value <= 3:
        raise ValueError("phase must be 0, 1, 2 or 3")
    return <unsigned>value


cdef bytes _masked(const unsigned char *data, Py_ssize_t n, const unsigned char *key, unsigned phase):
    """New bytes: data[0..n) masked with ``key`` starting at key byte ``phase``."""
    cdef bytes out = PyBytes_FromStringAndSize(NULL, n)
    cdef unsigned char *dst = <unsigned char *>PyBytes_AS_STRING(out)
    if <size_t>n >= wsc_k.nogil_mask:
        with nogil:
            wsc_mask_copy(dst, data, <size_t>n, key, phase)
    else:
        wsc_mask_copy(dst, data, <size_t>n, key, phase)
    return out


cdef unsigned _mask_buffer(const unsigned char *key, unsigned phase, Py_buffer *view) except 4:
    """Mask the acquired writable ``view`` in place; returns the next phase."""
    cdef unsigned char *p = <unsigned char *>view.buf
    cdef size_t n = <size_t>view.len
    if n >= wsc_k.nogil_mask:
        with nogil:
            phase = wsc_mask_inplace(p, n, key, phase)
    else:
        phase = wsc_mask_inplace(p, n, key, phase)
    return phase


def apply_mask(data, mask):
    """Return ``data`` XOR-masked with the 4-byte ``mask`` as new bytes."""
    cdef Py_buffer view
    cdef unsigned char key[4]
    if type(data) is bytes:  # immutable: no buffer export needed, even without the GIL
        read_mask_key(mask, key)
        return _masked(<const unsigned char *>PyBytes_AS_STRING(data), PyBytes_GET_SIZE(data), key, 0)
    get_buffer(data, &view, False)
    try:
        read_mask_key(mask, key)
        return _masked(<const unsigned char *>view.buf, view.len, key, 0)
    finally:
        PyBuffer_Release(&view)


def mask_inplace(buf, mask, phase=0):
    """Mask the writable buffer ``buf`` in place, starting at mask byte ``phase``.

    Returns the phase for the byte that follows ``buf``, so a payload split across buffers can be
    masked piece by piece.
    """
    cdef Py_buffer view
    cdef unsigned char key[4]
    cdef unsigned start
    cdef Py_ssize_t n
    if type(buf) is bytearray and <size_t>PyByteArray_GET_SIZE(buf) < wsc_k.nogil_mask:
        # with the GIL held throughout, nothing can resize it: no buffer export needed
        read_mask_key(mask, key)
        start = _check_phase(phase)
        n = PyByteArray_GET_SIZE(buf)
        return _PHASES[wsc_mask_inplace(<unsigned char *>PyByteArray_AS_STRING(buf), <size_t>n, key, start)]
    get_buffer(buf, &view, True)
    try:
        read_mask_key(mask, key)
        start = _check_phase(phase)
        return _PHASES[_mask_buffer(key, start, &view)]
    finally:
        PyBuffer_Release(&view)


def _mask_into(dst, src, mask, phase=0):
    """Testing only: the copy kernel, masking ``src`` into the writable ``dst`` (same length, not
    overlapping) at any alignment of either; returns the next phase."""
    cdef Py_buffer out, inp
    cdef unsigned char key[4]
    cdef unsigned start = _check_phase(phase)
    read_mask_key(mask, key)
    get_buffer(dst, &out, True)
    try:
        get_buffer(src, &inp, False)
        try:
            if out.len != inp.len:
                raise ValueError("dst and src differ in length")
            return wsc_mask_copy(<unsigned char *>out.buf, <const unsigned char *>inp.buf, <size_t>inp.len, key, start)
        finally:
            PyBuffer_Release(&inp)
    finally:
        PyBuffer_Release(&out)


cdef class Masker:
    """Masker(mask, phase=0)
--

Streaming masker: masks consecutive chunks of one payload, keeping the mask phase."""

    cdef unsigned char _key[4]
    cdef unsigned _phase
    cdef bytes _mask

    def __init__(self, mask, phase=0):
        read_mask_key(mask, self._key)
        self._mask = PyBytes_FromStringAndSize(<char *>self._key, 4)
        self._phase = _check_phase(phase)

    @property
    def mask(self):
        return self._mask

    @property
    def phase(self):
        return self._phase

    def apply(self, chunk):
        cdef Py_buffer view
        if type(chunk) is bytes:
            out = _masked(<const unsigned char *>PyBytes_AS_STRING(chunk), PyBytes_GET_SIZE(chunk), self._key, self._phase)
            self._phase = <unsigned>((self._phase + <size_t>PyBytes_GET_SIZE(chunk)) & 3)
            return out
        get_buffer(chunk, &view, False)
        try:
            out = _masked(<const unsigned char *>view.buf, view.len, self._key, self._phase)
            self._phase = <unsigned>((self._phase + <size_t>view.len) & 3)
            return out
        finally:
            PyBuffer_Release(&view)

    def apply_inplace(self, buf):
        cdef Py_buffer view
        get_buffer(buf, &view, True)
        try:
            self._phase = _mask_buffer(self._key, self._phase, &view)
        finally:
            PyBuffer_Release(&view)

    def reset(self, phase=0):
        self._phase = _check_phase(phase)
