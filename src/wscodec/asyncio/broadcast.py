"""Fan-out: one message to many connections, its frame built once.

A server's frames are not masked, so one message is the same bytes on every connection that
shares its framing: ``broadcast`` builds that frame once (a ``str`` straight into the frame by
``build_frame``) and writes it to each transport. With permessage-deflate, connections whose
compressor starts afresh with each message (``server_no_context_takeover``) share one compressed
frame per distinct set of compression parameters; a connection with context takeover has a
compressor of its own, so the message is compressed for it alone (as ``send`` would), and so is
a client connection's (each frame needs its own mask).

Nothing is skipped silently: a connection that cannot take the message now is listed in the
result with the reason, and passed to ``on_skip`` if given.
"""

from __future__ import annotations

import enum
from typing import Any, Callable, Dict, Iterable, List, NamedTuple, Optional, Union

from ..connection import State
from .protocol import WebSocket

__all__ = ["broadcast", "BroadcastResult", "Skipped", "SkipReason"]

_TEXT, _BINARY = 1, 2


class SkipReason(str, enum.Enum):
    """Why a connection did not get a broadcast message."""

    #: the handshake is not done, or closing has started (or ended)
    NOT_OPEN = "not_open"
    #: a message streamed with ``send(iterable)`` is in progress on it: frames cannot interleave
    STREAMING = "streaming"
    #: its write buffer would go over ``write_limit``: the peer does not read fast enough
    SLOW = "slow"


class Skipped(NamedTuple):
    connection: WebSocket
    reason: SkipReason


class BroadcastResult(NamedTuple):
    """What ``broadcast`` did: ``sent`` connections got the message (``individually`` of them
    through their own compressor or mask, see the module doc); ``skipped`` did not, with why."""

    sent: int
    individually: int
    skipped: List[Skipped]


# Connections with equal keys get the same frame bytes (both backends build the same frames):
# uncompressed, or deflate's output_key (None with context takeover), and the fragment size.
# None: the frame is built for the connection alone (its compressor's state, or a client's mask).
_PLAIN = "plain"


# A frame's header is at most 14 bytes; deflate adds at most ~5 bytes per 16 KiB stored block
# (and a shared compressed frame falls back to the raw payload when it would not shrink).
def _frame_bound(size: int) -> int:
    return size + 14 + 5 * (size // 16384 + 1) + 8


def broadcast(
    connections: Iterable[WebSocket],
    message: Union[str, bytes, bytearray, memoryview],
    *,
    on_skip: Optional[Callable[[WebSocket, SkipReason], None]] = None,
) -> BroadcastResult:
    """Send ``message`` (text for ``str``, binary for a bytes-like object) to every connection
    that can take it now, without waiting; returns who got it and who was skipped (see
    :class:`SkipReason`). Synchronous: call it from the event loop's thread.

    Each connection gets the message as ``send`` would send it (fragment_size,
    permessage-deflate, the idle timer restarts), but nothing waits: a connection whose buffered
    output plus this message's frame would exceed its ``write_limit`` is skipped (``SLOW``), so
    broadcasts never grow a slow reader's buffer past the limit (a frame larger than
    ``write_limit`` goes only to connections whose buffer is empty). Connections that are not
    open or that are streaming a message are skipped too. ``on_skip(connection, reason)`` is
    called for each skipped connection, in order. As with ``send``, the frames leave when the
    loop next runs (at once past 64 KiB queued): a burst of broadcasts is one write per
    connection.
    """
    if isinstance(message, str):
        op = _TEXT
    else:
        op = _BINARY
        if type(message) is not bytes:
            try:
                # the same bytes for every connection, whatever later happens to the caller's buffer
                message = bytes(memoryview(message).cast("B"))
            except TypeError:
                raise TypeError("broadcast() takes str or a bytes-like object, not %s"
                                % type(message).__name__) from None
    fanout = _Fanout(op, message)
    skipped: List[Skipped] = []
    frames = fanout.frames
    OPEN, NOT_OPEN = State.OPEN, SkipReason.NOT_OPEN
    now = None
    sent = 0
    to_flush: List[WebSocket] = []
    for ws in connections:
        conn = ws.conn  # set once the handshake is done, after the transport
        if conn is None or conn.state is not OPEN or ws._transport_closing:
            reason: Optional[SkipReason] = NOT_OPEN
        elif ws._sending is not None or conn.streaming:
            reason = SkipReason.STREAMING
        elif ws._write_paused:
            reason = SkipReason.SLOW
        else:
            if now is None:
                now = ws.loop.time()
            transport = ws.transport
            # what the transport holds, and what this loop turn queued for it (see WebSocket._write_soon)
            buffered = transport.get_write_buffer_size() + ws._unflushed  # type: ignore[union-attr]
            deflate = conn.deflate
            key = None if conn.is_client else _PLAIN if deflate is None else deflate.output_key
            fragment_size = ws.options.fragment_size
            if fragment_size is not None and key is not None:
                key = (key, fragment_size)
            frame = None if key is None else frames.get(key)
            if frame is None:
                frame = fanout.frame_for(ws, conn, key, buffered)
            elif buffered and buffered + len(frame) > ws.options.write_limit:
                frame = SkipReason.SLOW
            elif frame[0] & 0x40:  # RSV1: compressed, counted on every connection it serves
                deflate.sent_compressed += 1
            if type(frame) is bytes:
                # After what it queued before; written with whatever else this loop turn
                # queues for it, as send() does (a burst of broadcasts is one write each).
                conn.queue_frames(frame, now)
                ws._write_soon(len(frame), to_flush)  # one callback for them all, not one each
                sent += 1
                continue
            reason = frame  # type: ignore[assignment]
        skipped.append(Skipped(ws, reason))
        if on_skip is not None:
            on_skip(ws, reason)
    if to_flush:
        to_flush[0].loop.call_soon(_flush_all, to_flush)
    return BroadcastResult(sent, fanout.individually, skipped)


def _flush_all(connections: List[WebSocket]) -> None:
    for ws in connections:
        ws._flush_queued()


class _Fanout:
    """One broadcast's frames, built once per distinct framing by the Connection's own
    ``message_frames`` (a str goes to it as it is: it knows when text must be encoded)."""

    __slots__ = ("op", "message", "raw", "frames", "individually")

    def __init__(self, op: int, message: Union[str, bytes]) -> None:
        self.op = op
        self.message = message
        self.raw: Optional[bytes] = None if op == _TEXT else message  # type: ignore[assignment]
        self.frames: Dict[Any, bytes] = {}
        self.individually = 0

    def _size(self, conn: Any) -> int:
        """The message's length in bytes (a str encoded once, by the codec)."""
        if self.raw is None:
            self.raw = conn.codec.encode_text(self.message)
        return len(self.raw)  # type: ignore[arg-type]

    def frame_for(self, ws: WebSocket, conn: Any, key: Any, buffered: int) -> Union[bytes, SkipReason]:
        """The frame for one open connection that is neither streaming nor paused (the first
        of its ``key``, or its own when the key is None), or SLOW."""
        limit = ws.options.write_limit
        if key is None:
            # Its compressor (or mask) moves on with each frame: check the size before building.
            if buffered and buffered + _frame_bound(self._size(conn)) > limit:
                return SkipReason.SLOW
            self.individually += 1
            return conn.message_frames(self.message, ws.options.fragment_size)
        deflate = conn.deflate
        count = 0 if deflate is None else deflate.sent_compressed
        frame = self.frames[key] = conn.message_frames(self.message, ws.options.fragment_size)
        if deflate is not None:
            deflate.sent_compressed = count  # counted by the caller, once per connection served
        if buffered and buffered + len(frame) > limit:
            return SkipReason.SLOW
        if frame[0] & 0x40:
            deflate.sent_compressed += 1
        return frame
