"""The sending side of :class:`wscodec.connection.Connection`: messages (whole, split with
``fragment_size``, or streamed with ``send_fragment``), pings and pongs, and the output queue
with its one replaceable automatic pong (RFC 6455 5.5.3).
"""

from __future__ import annotations

import operator
from typing import Any, Callable, Dict, List, Optional, Union

from ._py._buf import byte_view

__all__ = ["Output"]

_CONT, _TEXT, _BINARY, _PING, _PONG = 0, 1, 2, 9, 10
# An unmasked payload of bytes from this size is queued apart from its frame header instead of
# being copied into a frame: see buffers_to_send (a copy of 64 KiB costs about what a write does).
LARGE_PAYLOAD = 64 * 1024


def _header(op: int, length: int, fin: bool, rsv1: bool) -> bytes:
    """An unmasked frame's header (RFC 6455 5.2)."""
    b0 = op | (0x80 if fin else 0) | (0x40 if rsv1 else 0)
    if length < 126:
        return bytes((b0, length))
    if length < 65536:
        return bytes((b0, 126)) + length.to_bytes(2, "big")
    return bytes((b0, 127)) + length.to_bytes(8, "big")


class Output:
    """Connection's base class: the output state (its slots) and the methods that queue frames."""

    __slots__ = ("_now", "_out", "_pong_at", "_mask", "_stream_op", "_stream_sent", "_last_activity",
                 "_pings", "_ping_count", "coalesce_pongs", "_split")

    _build_frame: Callable[..., bytes]
    _encode_text: Callable[[str], bytes]
    deflate: Any

    def _init_output(self, is_client: bool, now: float) -> None:
        self._now = now
        self._out: List[bytes] = []
        self._pong_at = -1  # index in _out of the latest automatic pong not yet taken, -1 if none
        self._split = False  # _out holds a large payload apart from its header
        # Set by an I/O layer while its writes are paused (see Connection's docstring).
        self.coalesce_pongs = False
        # Client masks: build_frame(mask=True) draws them from the backend's fork-safe source.
        self._mask = is_client
        self._stream_op = 0  # opcode of the message send_fragment() is streaming, 0 when none
        self._stream_sent = False  # ... and whether its first frame went out
        self._last_activity = now  # data traffic either way, for the idle timer
        self._pings: Optional[Dict[bytes, float]] = None  # see the ``pings`` property
        self._ping_count = 0

    def _check_open(self) -> None:  # Connection's: ConnectionClosed unless OPEN
        raise NotImplementedError

    def send(
        self,
        data: Union[str, bytes, bytearray, memoryview],
        now: Optional[float] = None,
        *,
        fragment_size: Optional[int] = None,
    ) -> None:
        """Queue one message: text for ``str``, binary for a bytes-like object.

        ``fragment_size``: send it as frames of at most this many payload bytes (with
        permessage-deflate, the compressed payload is what is split). Raises RuntimeError while
        a message streamed with ``send_fragment`` is unfinished.
        """
        if now is not None:
            self._now = now
        if fragment_size is not None:
            fragment_size = operator.index(fragment_size)
            if fragment_size < 1:
                raise ValueError("fragment_size must be at least 1")
        op = _TEXT if isinstance(data, str) else _BINARY
        if op == _BINARY and type(data) is not bytes:
            data = byte_view(data)  # lengths in bytes whatever the buffer's item format
        self._check_open()
        if self._stream_op:
            raise RuntimeError("a message streamed with send_fragment() is unfinished")
        self._send_message(op, data, fragment_size)

    def _send_message(self, op: int, data: Any, fragment_size: Optional[int]) -> None:
        self._frames(op, data, fragment_size, self._out)
        self._last_activity = self._now

    def _frames(self, op: int, data: Any, fragment_size: Optional[int], out: List[bytes]) -> None:
        """Append the frames of one message to ``out``."""
        # A str goes to build_frame as it is (encoded straight into the frame); it is encoded
        # on its own only where bytes are needed: to compress it or to split it.
        if op == _TEXT and (self.deflate is not None or fragment_size is not None):
            data = self._encode_text(data)
        payload, rsv1 = self.deflate.encode(data) if self.deflate is not None else (data, False)
        if fragment_size is None or len(payload) <= fragment_size:
            if type(payload) is bytes and len(payload) >= LARGE_PAYLOAD and not self._mask:
                # immutable and not masked: the frame is its header and these very bytes
                out.append(_header(op, len(payload), True, rsv1))
                out.append(payload)
                if out is self._out:
                    self._split = True
            else:
                out.append(self._build_frame(op, payload, rsv1=rsv1, mask=self._mask))
        else:  # RFC 7692 6.1: RSV1 on the first frame only
            view, size, build = memoryview(payload), len(payload), self._build_frame
            for start in range(0, size, fragment_size):
                end = start + fragment_size
                out.append(build(op, view[start:end], fin=end >= size, rsv1=rsv1, mask=self._mask))
                op, rsv1 = _CONT, False

    def message_frames(self, data: Union[str, bytes], fragment_size: Optional[int] = None) -> bytes:
        """The frames ``send(data, fragment_size=...)`` would queue, returned instead of queued,
        for an I/O layer that shares them between connections (``broadcast``): it queues them with
        ``queue_frames``, or writes them itself before any later output of this connection and
        then calls ``message_written``. With permessage-deflate and context takeover the
        compressor moves on, as for a send."""
        self._check_open()
        out: List[bytes] = []
        self._frames(_TEXT if isinstance(data, str) else _BINARY, data, fragment_size, out)
        return out[0] if len(out) == 1 else b"".join(out)

    def queue_frames(self, frames: bytes, now: Optional[float] = None) -> None:
        """Queue frames from ``message_frames`` (this connection's, or another connection's with
        the same framing: a server's frames are not masked) as the next data message, to leave
        with ``data_to_send()`` like a ``send``'s. The idle timer restarts."""
        if now is not None:
            self._now = now
        self._check_open()
        if self._stream_op:
            raise RuntimeError("a message streamed with send_fragment() is unfinished")
        self._out.append(frames)
        if len(frames) >= LARGE_PAYLOAD:
            self._split = True  # written as it is (shared by the connections of a broadcast)
        self._last_activity = self._now

    def message_written(self, now: Optional[float] = None) -> None:
        """A data message built elsewhere (``message_frames``, or shared with other connections)
        was written for this connection: the idle timer restarts as for ``send``."""
        if now is not None:
            self._now = now
        self._last_activity = self._now

    @property
    def streaming(self) -> bool:
        """A message sent with ``send_fragment`` is unfinished (no other data message may go out)."""
        return self._stream_op != 0

    def send_fragment(
        self, data: Union[str, bytes, bytearray, memoryview], now: Optional[float] = None, *, fin: bool
    ) -> None:
        """Queue one piece of a message streamed out piece by piece; ``fin`` ends the message.

        The first piece's type sets the message's (``str``: text, bytes-like: binary); later
        pieces must be of the same kind (TypeError). Each non-empty piece goes out as one frame
        (an empty non-final piece sends nothing). With permessage-deflate the pieces are one
        compressed stream, each flushed so that the peer can inflate it at once. Until the final
        piece, ``send`` raises RuntimeError; ping, pong and close may interleave (a close
        abandons the message).
        """
        if now is not None:
            self._now = now
        text = isinstance(data, str)
        if not text and type(data) is not bytes:
            data = byte_view(data)
        self._check_open()
        op = self._stream_op
        if op and (op == _TEXT) != text:
            raise TypeError("a %s message continues with %s pieces" % (
                ("text", "str") if op == _TEXT else ("binary", "bytes-like")))
        op = op or (_TEXT if text else _BINARY)
        first = not self._stream_sent
        if first and fin:  # the whole message in one piece: exactly what send() does
            self._stream_op = 0
            return self._send_message(op, data, None)
        if not fin and not len(data):
            self._stream_op = op
            return None
        if self.deflate is not None:
            if text:
                data = self._encode_text(data)
            payload, rsv1 = self.deflate.encode_piece(data, fin), first
        else:
            payload, rsv1 = data, False
        self._out.append(
            self._build_frame(op if first else _CONT, payload, fin=fin, rsv1=rsv1, mask=self._mask)
        )
        self._stream_op, self._stream_sent = (0, False) if fin else (op, True)
        self._last_activity = self._now
        return None

    def ping(
        self, payload: Union[bytes, bytearray, memoryview, None] = None, now: Optional[float] = None
    ) -> bytes:
        """Queue a ping and return its payload (a fresh 4-byte counter when None); a Pong event
        with this payload in ``acked`` reports its round-trip time."""
        if now is not None:
            self._now = now
        self._check_open()
        pings = self.pings
        if payload is None:
            while True:
                self._ping_count += 1
                payload = (self._ping_count & 0xFFFFFFFF).to_bytes(4, "big")
                if payload not in pings:
                    break
        payload = bytes(byte_view(payload))
        if payload in pings:
            raise ValueError("a ping with this payload is already waiting for its pong")
        self._out.append(self._build_frame(_PING, payload, mask=self._mask))
        pings[payload] = self._now
        return payload

    def pong(self, payload: Union[bytes, bytearray, memoryview] = b"") -> None:
        """Queue an unsolicited pong (a one-way heartbeat)."""
        view = byte_view(payload)
        self._check_open()
        self._out.append(self._build_frame(_PONG, view, mask=self._mask))

    def _queue_pong(self, payload: bytes) -> None:
        frame = self._build_frame(_PONG, payload, mask=self._mask)
        if self._pong_at >= 0 and self.coalesce_pongs:
            # RFC 6455 5.5.3: a pong not yet sent may be replaced by the most recent ping's
            self._out[self._pong_at] = frame
        else:
            self._pong_at = len(self._out)
            self._out.append(frame)

    def data_to_send(self) -> bytes:
        """Everything queued for the peer, in order (b"" when nothing is)."""
        out = self._out
        if not out:
            return b""
        data = out[0] if len(out) == 1 else b"".join(out)
        out.clear()
        self._pong_at = -1
        self._split = False
        return data

    def buffers_to_send(self) -> List[bytes]:
        """Everything queued for the peer, in order, as buffers to write one after the other
        (``[]`` when nothing is): what ``data_to_send()`` would join, with large unmasked
        payloads left apart so that they are never copied (for ``transport.writelines`` or
        ``socket.sendmsg``); the small frames between them are joined."""
        out = self._out
        if not out:
            return []
        self._pong_at = -1
        if not self._split:
            data = out[0] if len(out) == 1 else b"".join(out)
            out.clear()
            return [data]
        self._split = False
        self._out = []
        buffers: List[bytes] = []
        start = 0
        for i, item in enumerate(out):
            if len(item) >= LARGE_PAYLOAD:
                if start < i:
                    buffers.append(out[start] if i - start == 1 else b"".join(out[start:i]))
                buffers.append(item)
                start = i + 1
        if start < len(out):
            buffers.append(out[start] if len(out) - start == 1 else b"".join(out[start:]))
        return buffers

    @property
    def output_pending(self) -> bool:
        """Something other than an automatic pong waits in ``data_to_send()``: an I/O layer
        whose writes are paused should still write it (a close, or frames the application
        queued); a lone pong may wait (see the class docstring)."""
        return len(self._out) > (1 if self._pong_at >= 0 else 0)

    @property
    def pong_pending(self) -> bool:
        """An automatic pong waits in ``data_to_send()`` (with ``coalesce_pongs``, replaced by a
        newer ping's)."""
        return self._pong_at >= 0

    @property
    def pings(self) -> Dict[bytes, float]:
        """Pings waiting for their pong: payload -> time sent (created on first use)."""
        pings = self._pings
        if pings is None:
            pings = self._pings = {}
        return pings
