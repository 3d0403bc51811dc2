# Frame header parsing (RFC 6455 section 5.2) into a C struct: no Python object per field.

from libc.stdint cimport uint64_t
from libc.string cimport memcpy

from wscodec.errors import ProtocolError


cdef enum:
    MAX_CONTROL_PAYLOAD = 125
    MAX_HEADER = 14
    # opcodes 0, 1, 2, 8, 9, 10 are defined; the others are reserved
    DEFINED_OPCODES = 0x0707


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


cdef inline int parse(const unsigned char *p, Py_ssize_t avail, Header *h) except -1:
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
