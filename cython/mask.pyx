# cython: embedsignature.format=clinic
"""XOR masking (RFC 6455 section 5.3), compiled: the C twin of wscodec._py.mask."""

from cpython.buffer cimport PyBuffer_Release
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize
from libc.string cimport memcpy

from wsc_buf cimport get_buffer, index_value
from wsc_kernels cimport NOGIL_THRESHOLD, wsc_cpu_level, wsc_mask_copy, wsc_mask_inplace

__all__ = ["apply_mask", "mask_inplace", "Masker"]


def cpu_level():
    """The instruction set the kernels dispatched to ("scalar" until SIMD kernels exist)."""
    return wsc_cpu_level().decode("ascii")


cdef int _check_mask(object mask, unsigned char *key) except -1:
    cdef Py_buffer view
    get_buffer(mask, &view, False)
    try:
        if view.len != 4:
            raise ValueError("mask must be exactly 4 bytes")
        memcpy(key, view.buf, 4)
    finally:
        PyBuffer_Release(&view)
    return 0


cdef unsigned _check_phase(object phase) except 4:
    cdef int overflow = 0
    cdef long long value = index_value(phase, &overflow)
    if overflow or not 0 <= value <= 3:
        raise ValueError("phase must be 0, 1, 2 or 3")
    return <unsigned>value


cdef bytes _masked(const unsigned char *data, Py_ssize_t n, const unsigned char *key, unsigned phase):
    """New bytes: data[0..n) masked with ``key`` starting at key byte ``phase``."""
    cdef bytes out = PyBytes_FromStringAndSize(NULL, n)
    cdef unsigned char *dst = <unsigned char *>PyBytes_AS_STRING(out)
    if n >= NOGIL_THRESHOLD:
        with nogil:
            wsc_mask_copy(dst, data, <size_t>n, key, phase)
    else:
        wsc_mask_copy(dst, data, <size_t>n, key, phase)
    return out


cdef unsigned _mask_buffer(const unsigned char *key, unsigned phase, Py_buffer *view) except 4:
    """Mask the acquired writable ``view`` in place; returns the next phase."""
    cdef unsigned char *p = <unsigned char *>view.buf
    cdef size_t n = <size_t>view.len
    if n >= NOGIL_THRESHOLD:
        with nogil:
            phase = wsc_mask_inplace(p, n, key, phase)
    else:
        phase = wsc_mask_inplace(p, n, key, phase)
    return phase


def apply_mask(data, mask):
    """Return ``data`` XOR-masked with the 4-byte ``mask`` as new bytes."""
    cdef Py_buffer view
    cdef unsigned char key[4]
    get_buffer(data, &view, False)
    try:
        _check_mask(mask, key)
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
    get_buffer(buf, &view, True)
    try:
        _check_mask(mask, key)
        start = _check_phase(phase)
        return _mask_buffer(key, start, &view)
    finally:
        PyBuffer_Release(&view)


cdef class Masker:
    """Masker(mask, phase=0)
--

Streaming masker: masks consecutive chunks of one payload, keeping the mask phase."""

    cdef unsigned char _key[4]
    cdef unsigned _phase
    cdef bytes _mask

    def __init__(self, mask, phase=0):
        _check_mask(mask, self._key)
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
