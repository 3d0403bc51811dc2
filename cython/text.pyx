# cython: embedsignature.format=clinic
"""Text messages: UTF-8 bytes to str and back in one call, compiled: the C twin of wscodec._py.text.

``decode_text`` validates (the UTF-8 kernels) and then builds the str in CPython's compact form of
the right kind directly (wsc_textobj.h); an error is InvalidUTF8 (close code 1007) whose ``offset``
is what ``utf8_error_offset`` reports. ``TextDecoder`` does the same for a fragmented message.
``encode_text`` writes UTF-8 straight into the new bytes object in one pass; a surrogate raises
the interpreter's own UnicodeEncodeError, exactly as ``str.encode("utf-8")``.
"""

from cpython.buffer cimport PyBuffer_Release
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_GET_SIZE
from cpython.unicode cimport PyUnicode_Check
from libc.stdint cimport int64_t, uint32_t
from libc.string cimport memcpy

from wsc_buf cimport get_buffer
from wsc_kernels cimport (
    WSC_UTF8_ACCEPT, WSC_UTF8_REJECT, import_kernels, wsc_k, wsc_utf8_error_offset, wsc_utf8_validate,
)

from wscodec.errors import InvalidUTF8

__all__ = ["decode_text", "encode_text", "TextDecoder"]

import_kernels()


cdef extern from "wsc_textobj.h":
    int wsc_text_ascii_start(const unsigned char *s, size_t n)
    object wsc_text_try_ascii(const unsigned char *s, size_t n, size_t *prefix)
    object wsc_text_build(const unsigned char *s, size_t n, long head, size_t ascii)
    object wsc_text_encode_new(object u)
    uint32_t wsc_text_char(const unsigned char *s, unsigned *length)


cdef object _invalid(int64_t offset, int64_t length):
    """The error for a failure at message ``offset`` of a message ``length`` bytes long so far."""
    if offset == length:  # no byte was impossible: the message ended inside a character
        return InvalidUTF8("incomplete UTF-8 sequence at the end of a text message", offset=offset)
    return InvalidUTF8("invalid UTF-8 in text message", offset=offset)


cdef ptrdiff_t _error_offset(const unsigned char *s, size_t n) noexcept:
    cdef ptrdiff_t bad
    if n >= wsc_k.nogil_utf8:
        with nogil:
            bad = wsc_utf8_error_offset(s, n)
    else:
        bad = wsc_utf8_error_offset(s, n)
    return bad


cdef object _decode(const unsigned char *s, size_t n):
    cdef size_t prefix = 0
    cdef ptrdiff_t bad
    if n == 0:
        return ""
    if wsc_text_ascii_start(s, n):
        text = wsc_text_try_ascii(s, n, &prefix)
        if text is not None:
            return text
    bad = _error_offset(s + prefix, n - prefix)
    if bad >= 0:
        raise _invalid(<int64_t>(prefix + <size_t>bad), <int64_t>n)
    return wsc_text_build(s, n, -1, prefix)


def decode_text(data):
    """``data`` (a bytes-like object) decoded from UTF-8; InvalidUTF8 (1007) if it is not UTF-8."""
    cdef Py_buffer view
    if type(data) is bytes:  # immutable: no buffer export needed, even without the GIL
        return _decode(<const unsigned char *>PyBytes_AS_STRING(data), <size_t>PyBytes_GET_SIZE(data))
    get_buffer(data, &view, False)
    try:
        return _decode(<const unsigned char *>view.buf, <size_t>view.len)
    finally:
        PyBuffer_Release(&view)


def encode_text(text):
    """``text`` encoded as UTF-8, exactly as ``str.encode("utf-8")`` (surrogates raise
    UnicodeEncodeError)."""
    if not PyUnicode_Check(text):
        raise TypeError("encode_text() argument must be str, not %s" % type(text).__name__)
    return wsc_text_encode_new(text)


cdef class TextDecoder:
    """TextDecoder()
--

Incremental decoder for a text message that arrives in fragments.

    ``decode(chunk)`` returns the characters completed so far; a character cut by the chunk end is
    carried to the next call. ``decode(chunk, final=True)`` ends the message (an unfinished
    character is then an error) and makes the decoder ready for the next message. After an error
    every call raises the same InvalidUTF8 again until ``reset()``. ``offset`` is the number of
    bytes of the current message decoded so far.
    """

    cdef uint32_t _state      # the validator's state after the bytes decoded so far
    cdef unsigned char _tail[4]  # an unfinished character carried to the next chunk
    cdef unsigned _ntail
    cdef int64_t _offset
    cdef object _error

    def __init__(self):
        self.reset()

    def reset(self):
        """Forget the current message (its carried bytes and any error)."""
        self._state = WSC_UTF8_ACCEPT
        self._ntail = 0
        self._offset = 0
        self._error = None

    @property
    def offset(self):
        return self._offset

    def decode(self, chunk, final=False):
        """The text of ``chunk`` (bytes-like) continuing the message; see the class doc."""
        cdef Py_buffer view
        if self._error is not None:
            raise InvalidUTF8(self._error.reason, offset=self._error.offset)
        if type(chunk) is bytes:
            return self._decode(<const unsigned char *>PyBytes_AS_STRING(chunk), <size_t>PyBytes_GET_SIZE(chunk),
                                final)
        get_buffer(chunk, &view, False)
        try:
            return self._decode(<const unsigned char *>view.buf, <size_t>view.len, final)
        finally:
            PyBuffer_Release(&view)

    cdef object _fail(self, int64_t offset):
        self._ntail = 0
        self._error = _invalid(offset, self._offset)
        raise self._error

    cdef object _decode(self, const unsigned char *s, size_t n, bint final):
        cdef uint32_t state = self._state
        cdef size_t bad, need = 0, end
        cdef unsigned char head[4]
        cdef unsigned length, ntail
        cdef long code = -1
        cdef int64_t base = self._offset
        if n >= wsc_k.nogil_utf8:
            with nogil:
                bad = wsc_utf8_validate(s, n, &state)
        else:
            bad = wsc_utf8_validate(s, n, &state)
        self._offset += <int64_t>n
        if state == WSC_UTF8_REJECT:
            self._fail(base + <int64_t>bad)
        if final and state != WSC_UTF8_ACCEPT:
            self._fail(self._offset)
        ntail = self._ntail & 3  # bounds every copy below, even for a decoder shared by mistake
        if ntail:  # complete the character the last chunk cut
            wsc_text_char(self._tail, &length)  # its length, from the lead byte: ntail < length <= 4
            need = length - ntail if length > ntail else 0
            if n < need:  # still unfinished: carry it on
                memcpy(self._tail + ntail, s, n)
                self._ntail = ntail + <unsigned>n
                self._state = state
                return ""
            memcpy(head, self._tail, ntail)
            memcpy(head + ntail, s, need)
            code = wsc_text_char(head, &length)
        end = n
        if state != WSC_UTF8_ACCEPT:  # a character cut by the end: back up to its lead byte
            while end > need and (s[end - 1] & 0xC0) == 0x80:
                end -= 1
            if end > need:
                end -= 1
        self._ntail = <unsigned>(n - end) & 3  # at most 3: an unfinished character
        memcpy(self._tail, s + end, self._ntail)
        text = wsc_text_build(s + need, end - need, code, 0)
        self._state = state
        if final:
            self.reset()
        return text
