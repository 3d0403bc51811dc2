# cython: embedsignature.format=clinic
"""Frame header parsing, frame building and the batch frame decoder (RFC 6455 section 5.2),
compiled: the C twin of wscodec._py.frames."""

import os

from cpython.buffer cimport PyBuffer_Release
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize
from cpython.mem cimport PyMem_Free, PyMem_Realloc
from cpython.number cimport PyNumber_Index
from libc.stdint cimport uint64_t
from libc.string cimport memcpy

from wsc_buf cimport PyLong_AsLongLongAndOverflow, get_buffer, index_value
from wsc_kernels cimport NOGIL_THRESHOLD, wsc_mask_copy

from wscodec._types import OPCODES, Frame, FrameHeader
from wscodec.errors import PayloadTooBig, ProtocolError

__all__ = ["parse_header", "build_frame", "FrameDecoder", "DEFAULT_MAX_FRAME_SIZE"]

DEFAULT_MAX_FRAME_SIZE = 1 << 20  # 1 MiB, like websockets' default max_size

cdef tuple _OPCODES = OPCODES
cdef object _Frame = Frame
cdef object _FrameHeader = FrameHeader
cdef object _tuple_new = tuple.__new__

cdef enum:
    MAX_CONTROL_PAYLOAD = 125
    MAX_HEADER = 14
    # opcodes 0, 1, 2, 8, 9, 10 are defined; the others are reserved
    DEFINED_OPCODES = 0x0707
    # an empty decoder keeps at most this much buffer capacity
    KEEP_CAPACITY = 65536


cdef struct Header:
    bint fin
    bint rsv1
    bint rsv2
    bint rsv3
    bint masked
    int opcode
    uint64_t length
    unsigned char mask[4]
    Py_ssize_t size


cdef int _parse(const unsigned char *p, Py_ssize_t avail, Header *h) except -1:
    """Parse the header at p[0..avail): 1 when complete, 0 when more bytes are needed.

    Raises ProtocolError (1002) as soon as the bytes that prove a violation are present, in the
    reference's order: reserved opcode, fragmented control frame, control frame too long, 64-bit
    length with the top bit set.
    """
    cdef unsigned char b0, b1
    cdef uint64_t length
    cdef Py_ssize_t size = 2
    cdef int i
    if avail < 2:
        return 0
    b0 = p[0]
    b1 = p[1]
    h.opcode = b0 & 0x0F
    if not (DEFINED_OPCODES >> h.opcode) & 1:
        raise ProtocolError("reserved opcode")
    h.fin = (b0 & 0x80) != 0
    length = b1 & 0x7F
    if h.opcode >= 8:
        if not h.fin:
            raise ProtocolError("fragmented control frame")
        if length > MAX_CONTROL_PAYLOAD:
            raise ProtocolError("control frame too long")
    if length == 126:
        if avail < 4:
            return 0
        length = (<uint64_t>p[2] << 8) | p[3]
        size = 4
    elif length == 127:
        if avail < 10:
            return 0
        length = 0
        for i in range(2, 10):
            length = (length << 8) | p[i]
        if length >> 63:
            raise ProtocolError("frame length has the top bit set")
        size = 10
    h.masked = (b1 & 0x80) != 0
    if h.masked:
        if avail < size + 4:
            return 0
        memcpy(h.mask, p + size, 4)
        size += 4
    h.rsv1 = (b0 & 0x40) != 0
    h.rsv2 = (b0 & 0x20) != 0
    h.rsv3 = (b0 & 0x10) != 0
    h.length = length
    h.size = size
    return 1


def parse_header(data, offset=0):
    """Parse the frame header that starts at ``data[offset]``; None when more bytes are needed.

    Raises ProtocolError (1002) as soon as the bytes that prove a violation are present: a
    reserved opcode, a fragmented or over-long control frame, a 64-bit length with the top bit set.
    RSV bits are reported, not judged: their meaning depends on the negotiated extensions.
    """
    cdef int overflow = 0
    cdef long long start = index_value(offset, &overflow)
    cdef Py_buffer view
    cdef Header h
    cdef int found
    if overflow < 0 or (not overflow and start < 0):
        raise ValueError("offset must not be negative")
    get_buffer(data, &view, False)
    try:
        if overflow or start > view.len:
            return None
        found = _parse(<const unsigned char *>view.buf + start, view.len - <Py_ssize_t>start, &h)
    finally:
        PyBuffer_Release(&view)
    if not found:
        return None
    return _tuple_new(_FrameHeader, (
        h.fin, h.rsv1, h.rsv2, h.rsv3, _OPCODES[h.opcode], h.masked, h.length,
        PyBytes_FromStringAndSize(<char *>h.mask, 4) if h.masked else None, h.size,
    ))


cdef bytes _payload(const unsigned char *src, Py_ssize_t n, const unsigned char *key):
    """New bytes of src[0..n), unmasked with ``key`` (NULL: copied as is) in the same pass."""
    cdef bytes out = PyBytes_FromStringAndSize(NULL, n)
    cdef unsigned char *dst = <unsigned char *>PyBytes_AS_STRING(out)
    if n >= NOGIL_THRESHOLD:
        with nogil:
            if key != NULL:
                wsc_mask_copy(dst, src, <size_t>n, key, 0)
            else:
                memcpy(dst, src, <size_t>n)
    elif key != NULL:
        wsc_mask_copy(dst, src, <size_t>n, key, 0)
    else:
        memcpy(dst, src, <size_t>n)
    return out


def build_frame(opcode, payload=b"", *, fin=True, rsv1=False, mask=False):
    """Serialize one frame.

    ``mask`` is False (server frames), True (client frames: a fresh key from ``os.urandom``) or
    an explicit 4-byte key. ``payload`` is bytes-like, or str (encoded as UTF-8).
    """
    cdef int overflow = 0
    cdef long long code
    cdef Py_buffer view
    cdef Py_buffer keyview
    cdef unsigned char key[4]
    cdef unsigned char b0
    cdef unsigned char mask_bit = 0
    cdef Py_ssize_t length, head, i
    cdef unsigned char *out
    cdef bytes frame
    opcode = PyNumber_Index(opcode)  # TypeError for non-integers
    code = PyLong_AsLongLongAndOverflow(opcode, &overflow)
    if overflow or not 0 <= code <= 15 or _OPCODES[code] is None:
        raise ValueError("invalid opcode %r" % (opcode,))
    if isinstance(payload, str):
        payload = payload.encode("utf-8")
    get_buffer(payload, &view, False)
    try:
        length = view.len
        if code >= 8:
            if not fin:
                raise ValueError("control frames cannot be fragmented")
            if rsv1:
                raise ValueError("control frames cannot set RSV1")
            if length > MAX_CONTROL_PAYLOAD:
                raise ValueError("control frame payload exceeds 125 bytes")
        b0 = (0x80 if fin else 0) | (0x40 if rsv1 else 0) | <unsigned char>code
        if mask is not False and mask is not None:
            get_buffer(os.urandom(4) if mask is True else mask, &keyview, False)
            try:
                if keyview.len != 4:
                    raise ValueError("mask must be exactly 4 bytes")
                memcpy(key, keyview.buf, 4)
            finally:
                PyBuffer_Release(&keyview)
            mask_bit = 0x80
        head = 2 if length < 126 else 4 if length < 65536 else 10
        frame = PyBytes_FromStringAndSize(NULL, head + (4 if mask_bit else 0) + length)
        out = <unsigned char *>PyBytes_AS_STRING(frame)
        out[0] = b0
        if length < 126:
            out[1] = mask_bit | <unsigned char>length
        elif length < 65536:
            out[1] = mask_bit | 126
            out[2] = <unsigned char>(length >> 8)
            out[3] = <unsigned char>length
        else:
            out[1] = mask_bit | 127
            for i in range(8):
                out[2 + i] = <unsigned char>((<uint64_t>length) >> (56 - 8 * i))
        if mask_bit:
            memcpy(out + head, key, 4)
            head += 4
            if length >= NOGIL_THRESHOLD:
                with nogil:
                    wsc_mask_copy(out + head, <const unsigned char *>view.buf, <size_t>length, key, 0)
            else:
                wsc_mask_copy(out + head, <const unsigned char *>view.buf, <size_t>length, key, 0)
        else:
            memcpy(out + head, view.buf, <size_t>length)
        return frame
    finally:
        PyBuffer_Release(&view)


cdef class FrameDecoder:
    """FrameDecoder(*, require_mask, max_frame_size=1048576, allow_rsv1=False)
--

Decodes a byte stream into complete frames, many per call.

    ``require_mask`` is True on a server (every client frame must be masked) and False on a client
    (no server frame may be). Frames over ``max_frame_size`` (None: no limit) raise PayloadTooBig
    as soon as their header arrives, before any of the payload is buffered. RSV2/RSV3 are always a
    protocol error, RSV1 unless ``allow_rsv1`` (a negotiated extension uses it).

    After an error the decoder is finished: every later ``feed`` raises the same error again.
    """

    cdef bint _require_mask
    cdef bint _allow_rsv1
    cdef object _max_frame_size  # None or a non-negative int, as set
    cdef bint _limited
    cdef uint64_t _limit
    cdef unsigned char *_buf  # bytes of the incomplete frame at the head of the stream
    cdef Py_ssize_t _len
    cdef Py_ssize_t _cap
    cdef object _error
    cdef bint _busy

    def __init__(self, *, require_mask, max_frame_size=DEFAULT_MAX_FRAME_SIZE, allow_rsv1=False):
        if self._busy:
            raise RuntimeError("FrameDecoder re-initialized while feed is running")
        self.max_frame_size = max_frame_size
        self.require_mask = require_mask
        self.allow_rsv1 = allow_rsv1
        self._clear()
        self._error = None

    def __dealloc__(self):
        PyMem_Free(self._buf)

    @property
    def require_mask(self):
        return self._require_mask

    @require_mask.setter
    def require_mask(self, value):
        self._require_mask = bool(value)

    @property
    def allow_rsv1(self):
        return self._allow_rsv1

    @allow_rsv1.setter
    def allow_rsv1(self, value):
        self._allow_rsv1 = bool(value)

    @property
    def max_frame_size(self):
        return self._max_frame_size

    @max_frame_size.setter
    def max_frame_size(self, value):
        cdef int overflow = 0
        cdef long long limit = 0
        if value is not None:
            value = PyNumber_Index(value)  # TypeError for non-integers
            limit = PyLong_AsLongLongAndOverflow(value, &overflow)
            if overflow < 0 or (not overflow and limit < 0):
                raise ValueError("max_frame_size must not be negative")
        self._max_frame_size = value
        # lengths are below 2**63, so a limit beyond long long range is no limit at all
        self._limited = value is not None and not overflow
        self._limit = <uint64_t>limit

    @property
    def buffered(self):
        """Bytes received that do not yet form a complete frame."""
        return self._len

    cdef int _append(self, const unsigned char *data, Py_ssize_t n) except -1:
        cdef Py_ssize_t cap
        cdef void *grown
        if n <= 0:
            return 0
        if self._len + n > self._cap:
            cap = self._cap * 2 if self._cap >= 128 else 256
            if cap < self._len + n:
                cap = self._len + n
            grown = PyMem_Realloc(self._buf, <size_t>cap)
            if grown == NULL:
                raise MemoryError()
            self._buf = <unsigned char *>grown
            self._cap = cap
        memcpy(self._buf + self._len, data, <size_t>n)
        self._len += n
        return 0

    cdef void _clear(self) noexcept:
        self._len = 0
        if self._cap > KEEP_CAPACITY:
            PyMem_Free(self._buf)
            self._buf = NULL
            self._cap = 0

    cdef int _check(self, const Header *h) except -1:
        if h.rsv2 or h.rsv3 or (h.rsv1 and not self._allow_rsv1):
            raise ProtocolError("reserved bits set")
        if h.masked != self._require_mask:
            raise ProtocolError("frame must be masked" if self._require_mask else "frame must not be masked")
        if self._limited and h.length > self._limit:
            raise PayloadTooBig("frame too big")
        return 0

    cdef object _frame(self, Header *h, const unsigned char *payload):
        cdef const unsigned char *key = NULL
        if h.masked:
            key = h.mask
        return _tuple_new(_Frame, (_OPCODES[h.opcode], h.fin, h.rsv1, _payload(payload, <Py_ssize_t>h.length, key)))

    def feed(self, data):
        """Decode every complete frame of the stream so far; returns a (possibly empty) list."""
        cdef Py_buffer view
        if self._error is not None:
            err = self._error
            raise type(err)(err.reason, err.close_code)
        if self._busy:
            raise RuntimeError("FrameDecoder.feed called again while running")
        get_buffer(data, &view, False)
        self._busy = True
        try:
            return self._feed(<const unsigned char *>view.buf, view.len)
        finally:
            self._busy = False
            PyBuffer_Release(&view)

    cdef list _feed(self, const unsigned char *data, Py_ssize_t n):
        cdef list frames = []
        cdef Py_ssize_t pos = 0
        cdef Py_ssize_t take
        cdef uint64_t need
        cdef Header h
        try:
            if self._len:
                # Complete the frame left over from earlier calls: first its header (at most
                # MAX_HEADER bytes), then exactly the rest of its payload.
                if self._len < MAX_HEADER:
                    take = min(n, MAX_HEADER - self._len)
                    self._append(data, take)
                    pos = take
                if not _parse(self._buf, self._len, &h):
                    return frames  # still incomplete; all of data was taken
                self._check(&h)
                need = <uint64_t>h.size + h.length
                if <uint64_t>self._len > need:
                    # took more than this frame: give the excess back (it all came from data)
                    pos -= self._len - <Py_ssize_t>need
                    self._len = <Py_ssize_t>need
                take = n - pos
                if <uint64_t>take > need - <uint64_t>self._len:
                    take = <Py_ssize_t>(need - <uint64_t>self._len)
                self._append(data + pos, take)
                pos += take
                if <uint64_t>self._len < need:
                    return frames
                frames.append(self._frame(&h, self._buf + h.size))
                self._clear()
            while True:
                if not _parse(data + pos, n - pos, &h):
                    break
                self._check(&h)
                if h.length > <uint64_t>(n - pos - h.size):
                    break
                frames.append(self._frame(&h, data + pos + h.size))
                pos += h.size + <Py_ssize_t>h.length
            self._append(data + pos, n - pos)
        except ProtocolError as err:
            self._error = err
            self._clear()
            err.frames = frames
            raise
        return frames
