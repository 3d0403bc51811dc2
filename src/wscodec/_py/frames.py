"""Frame header parsing, frame building and the batch frame decoder (RFC 6455 section 5.2)."""
from __future__ import annotations

import operator
import os
import sys
import threading
from typing import Any, List, Optional, Union

from .._types import MAX_CONTROL_PAYLOAD, OPCODES, Frame, FrameHeader, Opcode
from ..errors import PayloadTooBig, ProtocolError
from ._buf import byte_view
from .mask import _masked

__all__ = ["parse_header", "build_frame", "FrameDecoder", "DEFAULT_MAX_FRAME_SIZE"]

DEFAULT_MAX_FRAME_SIZE = 1 << 20  # 1 MiB, like websockets' default max_size


def parse_header(data: Any, offset: int = 0) -> Optional[FrameHeader]:
    """Parse the frame header that starts at ``data[offset]``; None when more bytes are needed.

    Raises ProtocolError (1002) as soon as the bytes that prove a violation are present: a
    reserved opcode, a fragmented or over-long control frame, a 64-bit length with the top bit set.
    RSV bits are reported, not judged: their meaning depends on the negotiated extensions.
    """
    offset = operator.index(offset)  # TypeError for non-integers
    if offset < 0:
        raise ValueError("offset must not be negative")
    with byte_view(data) as view:
        return _parse_header(view, offset)


def _parse_header(view: memoryview, offset: int) -> Optional[FrameHeader]:
    avail = len(view) - offset
    if avail < 2:
        return None
    b0 = view[offset]
    b1 = view[offset + 1]
    opcode = OPCODES[b0 & 0x0F]
    if opcode is None:
        raise ProtocolError("reserved opcode")
    fin = bool(b0 & 0x80)
    length = b1 & 0x7F
    if opcode >= 8:
        if not fin:
            raise ProtocolError("fragmented control frame")
        if length > MAX_CONTROL_PAYLOAD:
            raise ProtocolError("control frame too long")
    size = 2
    if length == 126:
        if avail < 4:
            return None
        length = int.from_bytes(view[offset + 2 : offset + 4], "big")
        size = 4
    elif length == 127:
        if avail < 10:
            return None
        length = int.from_bytes(view[offset + 2 : offset + 10], "big")
        if length >> 63:
            raise ProtocolError("frame length has the top bit set")
        size = 10
    masked = bool(b1 & 0x80)
    mask = None
    if masked:
        if avail < size + 4:
            return None
        mask = view[offset + size : offset + size + 4].tobytes()
        size += 4
    return FrameHeader(
        fin, bool(b0 & 0x40), bool(b0 & 0x20), bool(b0 & 0x10), opcode, masked, length, mask, size
    )


def build_frame(
    opcode: int,
    payload: Any = b"",
    *,
    fin: bool = True,
    rsv1: bool = False,
    mask: Union[bool, bytes, None] = False,
) -> bytes:
    """Serialize one frame.

    ``mask`` is False (server frames), True (client frames: a fresh key from ``os.urandom``) or
    an explicit 4-byte key. ``payload`` is bytes-like, or str (encoded as UTF-8).
    """
    opcode = operator.index(opcode)  # TypeError for non-integers
    op = OPCODES[opcode] if 0 <= opcode <= 15 else None
    if op is None:
        raise ValueError("invalid opcode %r" % (opcode,))
    data = payload.encode("utf-8") if isinstance(payload, str) else byte_view(payload).tobytes()
    length = len(data)
    if op >= 8:
        if not fin:
            raise ValueError("control frames cannot be fragmented")
        if rsv1:
            raise ValueError("control frames cannot set RSV1")
        if length > MAX_CONTROL_PAYLOAD:
            raise ValueError("control frame payload exceeds 125 bytes")
    b0 = (0x80 if fin else 0) | (0x40 if rsv1 else 0) | op
    if mask is False or mask is None:
        mask_bit, key = 0, b""
    else:
        key = os.urandom(4) if mask is True else byte_view(mask).tobytes()
        if len(key) != 4:
            raise ValueError("mask must be exactly 4 bytes")
        mask_bit = 0x80
    if length < 126:
        head = bytes((b0, mask_bit | length))
    elif length < 65536:
        head = bytes((b0, mask_bit | 126)) + length.to_bytes(2, "big")
    else:
        head = bytes((b0, mask_bit | 127)) + length.to_bytes(8, "big")
    if mask_bit:
        return head + key + _masked(data, key)
    return head + data


class FrameDecoder:
    """Decodes a byte stream into complete frames, many per call.

    ``require_mask`` is True on a server (every client frame must be masked) and False on a client
    (no server frame may be). Frames over ``max_frame_size`` (None: no limit) raise PayloadTooBig
    as soon as their header arrives, before any of the payload is buffered. RSV2/RSV3 are always a
    protocol error, RSV1 unless ``allow_rsv1`` (a negotiated extension uses it).

    After an error the decoder is finished: every later ``feed`` raises the same error again.
    """

    __slots__ = ("_require_mask", "_max_frame_size", "_allow_rsv1", "_buf", "_error", "_feeding")

    def __init__(
        self,
        *,
        require_mask: bool,
        max_frame_size: Optional[int] = DEFAULT_MAX_FRAME_SIZE,
        allow_rsv1: bool = False,
    ) -> None:
        self.max_frame_size = max_frame_size
        self.require_mask = require_mask
        self.allow_rsv1 = allow_rsv1
        if getattr(self, "_feeding", None) is None:
            self._feeding = threading.Lock()
        elif self._feeding.locked():
            raise RuntimeError("FrameDecoder re-initialized while feed is running")
        self._buf = bytearray()
        self._error: Optional[ProtocolError] = None

    # The settings may be changed between feeds (they apply from the next header checked, the
    # buffered incomplete frame's included) and are normalized and validated as in __init__.
    @property
    def require_mask(self) -> bool:
        return self._require_mask

    @require_mask.setter
    def require_mask(self, value: bool) -> None:
        self._require_mask = bool(value)

    @property
    def max_frame_size(self) -> Optional[int]:
        return self._max_frame_size

    @max_frame_size.setter
    def max_frame_size(self, value: Optional[int]) -> None:
        if value is not None:
            value = operator.index(value)  # TypeError for non-integers
            if value < 0:
                raise ValueError("max_frame_size must not be negative")
        self._max_frame_size = value

    @property
    def allow_rsv1(self) -> bool:
        return self._allow_rsv1

    @allow_rsv1.setter
    def allow_rsv1(self, value: bool) -> None:
        self._allow_rsv1 = bool(value)

    @property
    def buffered(self) -> int:
        """Bytes received that do not yet form a complete frame."""
        return len(self._buf)

    def feed(self, data: Any) -> List[Frame]:
        # A decoder belongs to one thread; an overlapping feed (a misuse) is refused, as in the
        # compiled backend, rather than left to interleave with the running one.
        if not self._feeding.acquire(False):
            raise RuntimeError("FrameDecoder.feed called again while running")
        try:
            return self._feed(data)
        finally:
            self._feeding.release()

    def _feed(self, data: Any) -> List[Frame]:
        if self._error is not None:
            err = self._error
            raise type(err)(err.reason, err.close_code)
        buf = self._buf
        buf += byte_view(data)
        frames: List[Frame] = []
        pos = 0
        end_of_data = len(buf)
        try:
            # The view must be released before ``buf`` is resized (PyPy frees it late otherwise).
            with memoryview(buf) as view:
                while True:
                    header = _parse_header(view, pos)
                    if header is None:
                        break
                    self._check(header)
                    start = pos + header.header_size
                    end = start + header.length
                    if end > end_of_data:
                        break
                    payload = view[start:end].tobytes()
                    if header.mask is not None:
                        payload = _masked(payload, header.mask)
                    frames.append(Frame(header.opcode, header.fin, header.rsv1, payload))
                    pos = end
        except ProtocolError as err:
            self._error = err
            del buf[:]
            err.frames = frames
            raise
        del buf[:pos]
        return frames

    def _check(self, header: FrameHeader) -> None:
        if header.rsv2 or header.rsv3 or (header.rsv1 and not self.allow_rsv1):
            raise ProtocolError("reserved bits set")
        if header.masked != self.require_mask:
            raise ProtocolError("frame must be masked" if self.require_mask else "frame must not be masked")
        # sys.maxsize: the compiled twin's bound (PY_SSIZE_T_MAX, below 2**63 on 32-bit builds)
        limit = self.max_frame_size
        if header.length > sys.maxsize or (limit is not None and header.length > limit):
            raise PayloadTooBig("frame too big")
