# cython: embedsignature.format=clinic
"""UTF-8 validation (RFC 3629), compiled: the C twin of wscodec._py.utf8.

The failure offset is the index of the first byte that cannot start or continue a sequence; when
the input ends inside a sequence, it is the length of the input (where the next byte was due).
"""

from cpython.buffer cimport PyBuffer_Release
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_GET_SIZE
from libc.stdint cimport int64_t, uint32_t

from wsc_buf cimport get_buffer
from wsc_kernels cimport (
    WSC_UTF8_ACCEPT, WSC_UTF8_REJECT, import_kernels, wsc_k, wsc_utf8_error_offset, wsc_utf8_validate,
)

__all__ = ["validate_utf8", "utf8_error_offset", "Utf8Validator"]

import_kernels()


cdef ptrdiff_t _error_offset(object data) except -2:
    """Offset of the first invalid byte of ``data``, -1 when it is valid."""
    cdef Py_buffer view
    cdef ptrdiff_t bad
    cdef const unsigned char *p
    cdef Py_ssize_t n
    if type(data) is bytes:  # immutable: no buffer export needed, even without the GIL
        p = <const unsigned char *>PyBytes_AS_STRING(data)
        n = PyBytes_GET_SIZE(data)
        if <size_t>n >= wsc_k.nogil_utf8:
            with nogil:
                bad = wsc_utf8_error_offset(p, <size_t>n)
        else:
            bad = wsc_utf8_error_offset(p, <size_t>n)
        return bad
    get_buffer(data, &view, False)
    try:
        if <size_t>view.len >= wsc_k.nogil_utf8:
            with nogil:
                bad = wsc_utf8_error_offset(<const unsigned char *>view.buf, <size_t>view.len)
        else:
            bad = wsc_utf8_error_offset(<const unsigned char *>view.buf, <size_t>view.len)
    finally:
        PyBuffer_Release(&view)
    return bad


cdef inline size_t _validate(const unsigned char *p, size_t n, uint32_t *state) noexcept:
    cdef size_t bad
    if <size_t>n >= wsc_k.nogil_utf8:
        with nogil:
            bad = wsc_utf8_validate(p, n, state)
    else:
        bad = wsc_utf8_validate(p, n, state)
    return bad


def utf8_error_offset(data):
    """Offset of the first invalid byte of ``data`` (see module doc), or None if it is valid."""
    cdef ptrdiff_t bad = _error_offset(data)
    return None if bad < 0 else bad


def validate_utf8(data):
    """True when ``data`` is entirely valid UTF-8."""
    return _error_offset(data) < 0


cdef class Utf8Validator:
    """Utf8Validator()
--

Incremental validator for a message that arrives in chunks.

    ``feed`` returns False as soon as the stream so far cannot be the start of valid UTF-8 (and
    keeps returning False until ``reset``); ``finish`` also requires that no sequence is left
    unfinished. ``error_offset`` is then the stream offset of the failure, ``offset`` the number
    of bytes fed since the last reset.
    """

    cdef uint32_t _state
    cdef int64_t _offset
    cdef int64_t _error  # -1: no error

    def __init__(self):
        self.reset()

    def reset(self):
        self._state = WSC_UTF8_ACCEPT
        self._offset = 0
        self._error = -1

    @property
    def offset(self):
        return self._offset

    @property
    def error_offset(self):
        return None if self._error < 0 else self._error

    @property
    def valid(self):
        return self._error < 0

    def feed(self, chunk):
        cdef Py_buffer view
        cdef uint32_t state = self._state
        cdef size_t n, bad = 0
        if type(chunk) is bytes:  # immutable: no buffer export needed, even without the GIL
            n = <size_t>PyBytes_GET_SIZE(chunk)
            if self._error < 0:
                bad = _validate(<const unsigned char *>PyBytes_AS_STRING(chunk), n, &state)
        else:
            get_buffer(chunk, &view, False)
            try:
                n = <size_t>view.len
                if self._error < 0:
                    bad = _validate(<const unsigned char *>view.buf, n, &state)
            finally:
                PyBuffer_Release(&view)
        if self._error >= 0:
            self._offset += <int64_t>n
            return False
        self._state = state
        if state == WSC_UTF8_REJECT:
            self._error = self._offset + <int64_t>bad
            self._offset += <int64_t>n
            return False
        self._offset += <int64_t>n
        return True

    def finish(self):
        """True when everything fed is valid and complete."""
        if self._error < 0 and self._state != WSC_UTF8_ACCEPT:
            self._error = self._offset
        return self._error < 0
