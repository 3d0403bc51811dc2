# cython: embedsignature.format=clinic
"""Close frame payloads (RFC 6455 sections 5.5.1 and 7.4), compiled: the C twin of wscodec._py.close."""

from cpython.buffer cimport PyBuffer_Release
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize
from cpython.unicode cimport PyUnicode_DecodeUTF8
from libc.string cimport memcpy

from operator import index as _index

from wsc_buf cimport PyLong_AsLongLongAndOverflow, get_buffer
from wsc_kernels cimport import_kernels, wsc_utf8_error_offset

from wscodec._types import CLOSE_CODES, CloseCode
from wscodec.errors import InvalidUTF8, ProtocolError

__all__ = ["parse_close", "build_close", "is_valid_close_code"]

import_kernels()

cdef dict _CLOSE_CODES = CLOSE_CODES
cdef object _NO_STATUS_RCVD = CloseCode.NO_STATUS_RCVD

cdef enum:
    MAX_CONTROL_PAYLOAD = 125
    MAX_CLOSE_REASON = 123


cdef inline bint _valid_code(long long code) noexcept:
    return 1000 <= code <= 1003 or 1007 <= code <= 1014 or 3000 <= code <= 4999


def is_valid_close_code(code):
    """True for the codes a close frame may carry on the wire.

    1000-1003 and 1007-1014 (defined by RFC 6455 and IANA), 3000-4999 (registered and private
    use). 1004 is reserved, 1005, 1006 and 1015 are for local reporting only, 1016-2999 are
    unassigned, below 1000 and from 5000 up are not used.
    """
    cdef int overflow = 0
    cdef long long value = PyLong_AsLongLongAndOverflow(_index(code), &overflow)
    return not overflow and _valid_code(value)


def parse_close(payload):
    """Return ``(code, reason)`` of a received close frame; ``b""`` gives ``(1005, "")``."""
    cdef Py_buffer view
    cdef const unsigned char *p
    cdef Py_ssize_t n
    cdef int code
    cdef ptrdiff_t bad
    get_buffer(payload, &view, False)
    try:
        p = <const unsigned char *>view.buf
        n = view.len
        if n == 0:
            return _NO_STATUS_RCVD, ""
        if n == 1:
            raise ProtocolError("close payload of 1 byte")
        if n > MAX_CONTROL_PAYLOAD:
            raise ProtocolError("control frame too long")
        code = (p[0] << 8) | p[1]
        if not _valid_code(code):
            raise ProtocolError("invalid close code")
        bad = wsc_utf8_error_offset(p + 2, <size_t>(n - 2))
        if bad >= 0:
            raise InvalidUTF8("invalid UTF-8 in close reason", offset=2 + bad)
        return _CLOSE_CODES.get(code, code), PyUnicode_DecodeUTF8(<const char *>p + 2, n - 2, NULL)
    finally:
        PyBuffer_Release(&view)


def build_close(code=CloseCode.NORMAL_CLOSURE, reason=""):
    """Close payload for ``code`` and ``reason``; ``code=None`` gives the empty payload.

    Raises ValueError for anything ``parse_close`` would reject: a code that may not be sent, a
    reason without a code, a reason over 123 bytes of UTF-8 (never cut silently).
    """
    cdef int overflow = 0
    cdef long long value
    cdef bytes data
    cdef bytes out
    cdef unsigned char *o
    cdef Py_ssize_t n
    if not isinstance(reason, str):
        raise TypeError("reason must be str")
    if code is None:
        if reason:
            raise ValueError("a close reason needs a close code")
        return b""
    if not isinstance(code, int):
        raise TypeError("close code must be int")
    value = PyLong_AsLongLongAndOverflow(code, &overflow)
    if overflow or not _valid_code(value):
        raise ValueError("close code %d may not be sent" % code)
    data = reason.encode("utf-8")
    n = len(data)
    if n > MAX_CLOSE_REASON:
        raise ValueError("close reason is %d bytes of UTF-8, the limit is 123" % n)
    out = PyBytes_FromStringAndSize(NULL, 2 + n)
    o = <unsigned char *>PyBytes_AS_STRING(out)
    o[0] = <unsigned char>(value >> 8)
    o[1] = <unsigned char>value
    memcpy(o + 2, PyBytes_AS_STRING(data), <size_t>n)
    return out
