# cython: embedsignature.format=clinic
"""Frame header parsing, frame building and the batch frame decoder (RFC 6455 section 5.2),
compiled: the C twin of wscodec._py.frames."""

import os

cimport cython

from cpython.buffer cimport PyBuffer_Release
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from cpython.dict cimport PyDict_GetItem
from cpython.list cimport PyList_Append
from cpython.long cimport PyLong_Check
from cpython.mem cimport PyMem_Free, PyMem_Realloc
from cpython.number cimport PyNumber_Index
from cpython.object cimport PyObject
from libc.stdint cimport uint64_t
from libc.string cimport memcpy

from wsc_buf cimport PyLong_AsLongLongAndOverflow, get_buffer, index_value, read_mask_key
from wsc_header cimport DEFINED_OPCODES, MAX_CONTROL_PAYLOAD, MAX_HEADER, Header, parse
from wsc_kernels cimport import_kernels, wsc_k, wsc_mask_copy

from wscodec._types import OPCODES, Frame, FrameHeader
from wscodec.errors import PayloadTooBig, ProtocolError

__all__ = ["parse_header", "build_frame", "FrameDecoder", "DEFAULT_MAX_FRAME_SIZE"]

DEFAULT_MAX_FRAME_SIZE = 1 << 20  # 1 MiB, like websockets' default max_size

import_kernels()


cdef extern from "wsc_frame.h":
    bint wsc_frame_type_ok(object type)
    object wsc_frame_new(object type, object opcode, int fin, int rsv1, object payload)


cdef extern from "Python.h":
    const Py_ssize_t PY_SSIZE_T_MAX


cdef extern from "wsc_maskpool.h":
    enum: WSC_POOL_SIZE
    int wsc_pool_init()
    int wsc_pool_take(unsigned char *key)
    void wsc_pool_fill(const unsigned char *fresh)


cdef tuple _OPCODES = OPCODES
cdef object _Frame = Frame
cdef object _FrameHeader = FrameHeader
cdef object _tuple_new = tuple.__new__
cdef bint _fast_frames = wsc_frame_type_ok(Frame)
cdef dict _os_namespace = os.__dict__
cdef object _urandom = os.urandom

if wsc_pool_init() != 0:
    raise ImportError("pthread_atfork failed: the client mask pool would not be fork-safe")

cdef enum:
    # an empty decoder keeps at most this much buffer capacity
    KEEP_CAPACITY = 65536
    # an incomplete frame at least this long is unmasked straight into its payload object
    DIRECT_PAYLOAD = 65536
    # ... when it is at most this long, or a quarter of it has arrived (memory asked for by a header)
    DIRECT_UP_FRONT = 16 << 20


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
        found = parse(<const unsigned char *>view.buf + start, view.len - <Py_ssize_t>start, &h)
    finally:
        PyBuffer_Release(&view)
    if not found:
        return None
    return _tuple_new(_FrameHeader, (
        h.fin, h.rsv1, h.rsv2, h.rsv3, _OPCODES[h.opcode], h.masked, h.length,
        PyBytes_FromStringAndSize(<char *>h.mask, 4) if h.masked else None, h.size,
    ))


cdef inline void _unmask(unsigned char *dst, const unsigned char *src, size_t n, const unsigned char *key,
                         unsigned phase) noexcept nogil:
    if key != NULL:
        wsc_mask_copy(dst, src, n, key, phase)
    else:
        memcpy(dst, src, n)


cdef inline void _copy(unsigned char *dst, const unsigned char *src, size_t n, const unsigned char *key,
                       unsigned phase) noexcept:
    """dst[0..n) = src[0..n) unmasked with ``key`` from key byte ``phase`` (NULL: copied)."""
    if n >= wsc_k.nogil_mask:
        with nogil:
            _unmask(dst, src, n, key, phase)
    else:
        _unmask(dst, src, n, key, phase)


cdef inline object _frame(Header *h, const unsigned char *src):
    """The complete frame h with its payload at src, unmasked into a new bytes object."""
    cdef bytes payload = PyBytes_FromStringAndSize(NULL, <Py_ssize_t>h.length)
    _copy(<unsigned char *>PyBytes_AS_STRING(payload), src, <size_t>h.length, h.mask if h.masked else NULL, 0)
    return _new_frame(h.opcode, h.fin, h.rsv1, payload)


cdef inline object _new_frame(int opcode, bint fin, bint rsv1, object payload):
    if _fast_frames:
        return wsc_frame_new(_Frame, _OPCODES[opcode], fin, rsv1, payload)
    return _Frame(_OPCODES[opcode], fin, rsv1, payload)


cdef int _random_mask(unsigned char *key) except -1:
    """4 bytes from the OS CSPRNG, buffered (wsc_maskpool.h).

    When os.urandom has been replaced (tests patch it), it is called for every mask, exactly as
    the pure-Python backend does.
    """
    cdef Py_buffer view
    cdef PyObject *current = PyDict_GetItem(_os_namespace, "urandom")
    if current == <PyObject *>_urandom:
        while not wsc_pool_take(key):
            fresh = _urandom(WSC_POOL_SIZE)
            if type(fresh) is not bytes or PyBytes_GET_SIZE(fresh) != WSC_POOL_SIZE:
                raise RuntimeError("os.urandom returned a wrong value")
            wsc_pool_fill(<const unsigned char *>PyBytes_AS_STRING(fresh))
        return 0
    get_buffer(os.urandom(4), &view, False)
    try:
        if view.len != 4:
            raise ValueError("mask must be exactly 4 bytes")
        memcpy(key, view.buf, 4)
    finally:
        PyBuffer_Release(&view)
    return 0


cdef bytes _build(unsigned char b0, const unsigned char *data, Py_ssize_t length, const unsigned char *key):
    """The frame: header byte b0, the length, the mask key when ``key`` is not NULL, the payload."""
    cdef Py_ssize_t head = 2 if length < 126 else 4 if length < 65536 else 10
    cdef unsigned char mask_bit = 0x80 if key != NULL else 0
    cdef bytes frame = PyBytes_FromStringAndSize(NULL, head + (4 if key != NULL else 0) + length)
    cdef unsigned char *out = <unsigned char *>PyBytes_AS_STRING(frame)
    cdef int i
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
    if key != NULL:
        memcpy(out + head, key, 4)
        head += 4
    _copy(out + head, data, <size_t>length, key, 0)
    return frame


def build_frame(opcode, payload=b"", *, fin=True, rsv1=False, mask=False):
    """Serialize one frame.

    ``mask`` is False (server frames), True (client frames: a fresh key from ``os.urandom``) or
    an explicit 4-byte key. ``payload`` is bytes-like, or str (encoded as UTF-8).
    """
    cdef int overflow = 0
    cdef long long code
    cdef Py_buffer view
    if not PyLong_Check(opcode):
        opcode = PyNumber_Index(opcode)  # TypeError for non-integers
    code = PyLong_AsLongLongAndOverflow(opcode, &overflow)
    if overflow or not 0 <= code <= 15 or not (DEFINED_OPCODES >> code) & 1:
        raise ValueError("invalid opcode %r" % (opcode,))
    if type(payload) is not bytes:
        if isinstance(payload, str):
            payload = payload.encode("utf-8")
        else:
            get_buffer(payload, &view, False)
            try:
                return _build_checked(code, <const unsigned char *>view.buf, view.len, fin, rsv1, mask)
            finally:
                PyBuffer_Release(&view)
    return _build_checked(code, <const unsigned char *>PyBytes_AS_STRING(payload), PyBytes_GET_SIZE(payload),
                          fin, rsv1, mask)


cdef bytes _build_checked(long long code, const unsigned char *data, Py_ssize_t length, fin, rsv1, mask):
    cdef unsigned char key[4]
    cdef const unsigned char *k = NULL
    cdef unsigned char b0
    if code >= 8:
        if not fin:
            raise ValueError("control frames cannot be fragmented")
        if rsv1:
            raise ValueError("control frames cannot set RSV1")
        if length > MAX_CONTROL_PAYLOAD:
            raise ValueError("control frame payload exceeds 125 bytes")
    b0 = (0x80 if fin else 0) | (0x40 if rsv1 else 0) | <unsigned char>code
    if mask is True:
        _random_mask(key)
        k = key
    elif mask is not False and mask is not None:
        read_mask_key(mask, key)
        k = key
    return _build(b0, data, length, k)



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
    # An incomplete frame at the head of the stream is either buffered whole (header and payload
    # bytes, in _buf) or, when long, unmasked straight into its payload object (_payload, with its
    # header in _h and _filled bytes done): then nothing is copied twice.
    cdef unsigned char *_buf
    cdef Py_ssize_t _len
    cdef Py_ssize_t _cap
    cdef object _payload
    cdef Header _h
    cdef uint64_t _filled
    cdef object _error
    cdef bint _busy

    def __init__(self, *, require_mask, max_frame_size=DEFAULT_MAX_FRAME_SIZE, allow_rsv1=False):
        # critical_section: the _busy check is atomic on free-threaded builds too (a no-op with
        # the GIL); a decoder belongs to one thread, but misuse must raise, not free a buffer in use.
        self.max_frame_size = max_frame_size
        self.require_mask = require_mask
        self.allow_rsv1 = allow_rsv1
        with cython.critical_section(self):
            if self._busy:
                raise RuntimeError("FrameDecoder re-initialized while feed is running")
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
        if self._payload is not None:
            return self._h.size + <Py_ssize_t>self._filled
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
        self._payload = None
        self._filled = 0
        self._empty_buffer()

    cdef void _empty_buffer(self) noexcept:
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
        # Beyond PY_SSIZE_T_MAX (32-bit builds) no payload object can hold it: refused before the
        # length is cast to Py_ssize_t for an allocation, whatever max_frame_size says.
        if (self._limited and h.length > self._limit) or h.length > <uint64_t>PY_SSIZE_T_MAX:
            raise PayloadTooBig("frame too big")
        return 0

    cdef Py_ssize_t _fill(self, const unsigned char *src, Py_ssize_t n) except -1:
        """Unmask up to n bytes into the direct payload; returns how many it took."""
        cdef uint64_t take = self._h.length - self._filled
        if take > <uint64_t>n:
            take = <uint64_t>n
        _copy(<unsigned char *>PyBytes_AS_STRING(self._payload) + self._filled, src, <size_t>take,
              self._h.mask if self._h.masked else NULL, <unsigned>(self._filled & 3))
        self._filled += take
        return <Py_ssize_t>take

    cdef int _direct(self, const Header *h, const unsigned char *src, Py_ssize_t have) except -1:
        """Start the direct payload of the incomplete frame h with its ``have`` bytes at src."""
        self._payload = PyBytes_FromStringAndSize(NULL, <Py_ssize_t>h.length)
        self._h = h[0]
        self._filled = 0
        self._fill(src, have)
        return 0

    def feed(self, data):
        """Decode every complete frame of the stream so far; returns a (possibly empty) list."""
        cdef Py_buffer view
        if self._error is not None:
            err = self._error
            raise type(err)(err.reason, err.close_code)
        with cython.critical_section(self):  # see __init__
            if self._busy:
                raise RuntimeError("FrameDecoder.feed called again while running")
            self._busy = True
        try:
            if type(data) is bytes:  # immutable and referenced by the caller: no export needed
                return self._feed(<const unsigned char *>PyBytes_AS_STRING(data), PyBytes_GET_SIZE(data))
            get_buffer(data, &view, False)
            try:
                return self._feed(<const unsigned char *>view.buf, view.len)
            finally:
                PyBuffer_Release(&view)
        finally:
            self._busy = False

    cdef list _feed(self, const unsigned char *data, Py_ssize_t n):
        cdef list frames = []
        cdef Py_ssize_t pos = 0
        cdef Py_ssize_t take
        cdef uint64_t need
        cdef Header h
        try:
            if self._payload is not None:
                self._check(&self._h)  # the settings may have changed since the header came
                pos = self._fill(data, n)
                if self._filled < self._h.length:
                    return frames
                frames.append(_new_frame(self._h.opcode, self._h.fin, self._h.rsv1, self._payload))
                self._clear()
            elif self._len:
                # Complete the frame left over from earlier calls: first its header (at most
                # MAX_HEADER bytes), then exactly the rest of its payload.
                if self._len < MAX_HEADER:
                    take = min(n, MAX_HEADER - self._len)
                    self._append(data, take)
                    pos = take
                if not parse(self._buf, self._len, &h):
                    return frames  # still incomplete; all of data was taken
                self._check(&h)
                need = <uint64_t>h.size + h.length
                if <uint64_t>self._len > need:
                    # took more than this frame: give the excess back (it all came from data)
                    pos -= self._len - <Py_ssize_t>need
                    self._len = <Py_ssize_t>need
                if _go_direct(&h, <uint64_t>(self._len - h.size), <uint64_t>(n - pos)):
                    self._direct(&h, self._buf + h.size, self._len - h.size)
                    self._empty_buffer()
                    self._fill(data + pos, n - pos)
                    return frames  # _go_direct: the frame does not end in this data
                take = n - pos
                if <uint64_t>take > need - <uint64_t>self._len:
                    take = <Py_ssize_t>(need - <uint64_t>self._len)
                self._append(data + pos, take)
                pos += take
                if <uint64_t>self._len < need:
                    return frames
                frames.append(_frame(&h, self._buf + h.size))
                self._clear()
            while True:
                if not parse(data + pos, n - pos, &h):
                    break
                self._check(&h)
                if h.length > <uint64_t>(n - pos - h.size):
                    if _go_direct(&h, 0, <uint64_t>(n - pos - h.size)):
                        self._direct(&h, data + pos + h.size, n - pos - h.size)
                        pos = n
                    break
                PyList_Append(frames, _frame(&h, data + pos + h.size))
                pos += h.size + <Py_ssize_t>h.length
            self._append(data + pos, n - pos)
        except ProtocolError as err:
            self._error = err
            self._clear()
            err.frames = frames
            raise
        return frames


cdef inline bint _go_direct(const Header *h, uint64_t buffered, uint64_t arriving) noexcept:
    """Whether the incomplete frame h (``buffered`` payload bytes so far, ``arriving`` more in this
    feed, not all of it) should be unmasked straight into its payload object from now on."""
    cdef uint64_t have = buffered + arriving
    if h.length < DIRECT_PAYLOAD or have >= h.length:
        return False
    return h.length <= DIRECT_UP_FRONT or have >= h.length / 4
