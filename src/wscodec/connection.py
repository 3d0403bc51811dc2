"""Sans-I/O WebSocket connection (RFC 6455 after the opening handshake).

Bytes in (``receive_data``, ``receive_eof``), events out (the lists those calls return), bytes out
(``data_to_send``). No sockets and no clocks: every method that depends on time takes ``now`` (any
monotonic clock, in seconds); ``next_deadline()`` says when ``handle_timeout(now)`` is due next.

Frames, close payloads and UTF-8 come from a codec namespace (``wscodec._backends.load(name)``),
so the same scenario runs on either backend. States go OPEN -> CLOSING -> CLOSED, where CLOSED
means the transport is gone (EOF seen, or aborted): ``close_code`` and friends are final then.
"""

from __future__ import annotations

import enum
import types
from typing import Any, List, Optional, Tuple

from ._assembler import MessageAssembler
from ._output import Output
from ._py._buf import byte_view
from .errors import ConnectionClosed, ProtocolError
from .events import Closed, CloseReceived, Event, Fragment, Message, Ping, Pong

__all__ = [
    "Connection",
    "State",
    "Message",
    "Fragment",
    "Ping",
    "Pong",
    "CloseReceived",
    "Closed",
    "Event",
    "default_codec",
    "DEFAULT_MAX_MESSAGE_SIZE",
]

DEFAULT_MAX_MESSAGE_SIZE = 1 << 20  # 1 MiB, websockets' default
_UNLIMITED = (1 << 63) - 1  # what the decoder gets for "no limit" (both backends take an int)

_BINARY, _CLOSE, _PING, _PONG = 2, 8, 9, 10


class State(enum.IntEnum):
    OPEN = 1
    CLOSING = 2  # a close frame was sent (and maybe received); waiting for the peer or transport
    CLOSED = 3  # the transport is gone; close_code / close_reason / was_clean are final


_default: Optional[types.SimpleNamespace] = None


def default_codec() -> types.SimpleNamespace:
    """The backend ``wscodec`` selected at import, as a namespace like ``_backends.load``."""
    global _default
    if _default is None:
        import wscodec
        from ._backends import load

        _default = load(wscodec.BACKEND)
    return _default


class Connection(Output):
    """One WebSocket connection, either side, with no I/O.

    Limits: ``max_message_size`` (assembled message, 1009) and ``max_frame_size`` (one frame,
    1009), None for no limit; both are checked from frame headers before payloads are buffered.
    ``deflate``: the PerMessageDeflate that the handshake negotiated (wscodec.deflate), if any;
    a compressed message is held to ``max_message_size`` on the wire and once inflated.
    Timers (seconds, None = off): ``close_timeout`` (the peer must answer our close, then close
    the transport), ``ping_interval``/``ping_timeout`` (heartbeat; a missed pong aborts with 1006)
    and ``idle_timeout`` (no data message either way: close with ``idle_close_code``).
    ``deliver_fragments``: a message that arrives in several frames is delivered frame by frame
    as :class:`Fragment` events (the limits and UTF-8 checks still apply to the whole message)
    instead of one :class:`Message`, so no more than one frame of it is ever held.

    After each call, send ``data_to_send()``; when ``should_close_transport`` turns true, close
    the transport after flushing, or drop it at once when ``transport_abort`` is true.

    A protocol error fails the connection at once: input stops, and the close frame with the
    error's code is in ``data_to_send()`` right after the ``receive_data`` call that found it,
    after the replies to everything before it (pongs). With ``defer_failure_close``, when that
    call also delivered messages, the close waits instead for ``handle_timeout`` at a deadline
    "now" (``failure_pending``, ``next_deadline()``) or for ``close()``, so that the application
    can answer those messages first; a caller that sets it must run the timers.

    Pings are answered automatically, each with its pong. While ``coalesce_pongs`` is true (an
    I/O layer sets it while its writes are paused), a pong not yet taken by ``data_to_send()`` is
    replaced by the pong for a newer ping (RFC 6455 5.5.3), so an I/O layer that leaves the output
    alone while paused holds at most one pong whatever the peer sends. ``output_pending`` says
    whether anything else waits (then it should write), ``pong_pending`` whether such a pong does.
    """

    __slots__ = (
        "role", "is_client", "codec", "_build_frame", "_encode_text", "_build_close", "_parse_close",
        "max_message_size", "deflate", "_decoder", "_assembler", "close_timeout", "ping_interval",
        "ping_timeout", "idle_timeout", "idle_close_code", "defer_failure_close", "state",
        "_input_closed", "close_sent", "close_received", "error", "close_code", "close_reason",
        "was_clean", "closed_by", "should_close_transport", "transport_abort", "_abort_reason",
        "_close_deadline", "_eof_deadline", "_transport_deadline", "_ping_next", "_ping_deadline",
        "_ping_payload", "last_rtt", "_delivered", "_fail_pending", "_fail_at",
    )

    def __init__(
        self,
        role: str = "server",
        *,
        deflate: Any = None,
        max_message_size: Optional[int] = DEFAULT_MAX_MESSAGE_SIZE,
        max_frame_size: Optional[int] = None,
        codec: Optional[types.SimpleNamespace] = None,
        close_timeout: Optional[float] = 10.0,
        ping_interval: Optional[float] = None,
        ping_timeout: Optional[float] = None,
        idle_timeout: Optional[float] = None,
        idle_close_code: int = 1001,
        now: float = 0.0,
        deliver_fragments: bool = False,
        defer_failure_close: bool = False,
    ) -> None:
        if role not in ("server", "client"):
            raise ValueError("role must be 'server' or 'client'")
        self.role = role
        self.is_client = role == "client"
        self.codec = codec = codec if codec is not None else default_codec()
        self._build_frame = codec.build_frame
        self._encode_text = codec.encode_text
        self._build_close = codec.build_close
        self._parse_close = codec.parse_close
        self.max_message_size = _UNLIMITED if max_message_size is None else max_message_size
        frame_limit = _UNLIMITED if max_frame_size is None else max_frame_size
        # The decoder enforces min(frame, message) limits so that no oversized frame is buffered.
        limit = min(frame_limit, self.max_message_size)
        # permessage-deflate (a wscodec.deflate.PerMessageDeflate from the handshake) owns RSV1.
        self.deflate = deflate
        self._decoder = codec.FrameDecoder(
            require_mask=not self.is_client, max_frame_size=limit, allow_rsv1=deflate is not None
        )
        self._assembler = MessageAssembler(
            codec, self._decoder, self.max_message_size, limit, deflate, deliver_fragments
        )
        self.close_timeout = close_timeout
        self.ping_interval = ping_interval
        self.ping_timeout = ping_timeout
        self.idle_timeout = idle_timeout
        self.idle_close_code = idle_close_code
        self.defer_failure_close = defer_failure_close

        self.state = State.OPEN
        self._init_output(self.is_client, now)
        self._input_closed = False  # after a close was received or the connection failed
        self.close_sent: Optional[Tuple[Optional[int], str]] = None
        self.close_received: Optional[Tuple[int, str]] = None
        self.error: Optional[ProtocolError] = None  # why we failed the connection, if we did
        self.close_code: Optional[int] = None
        self.close_reason: Optional[str] = None
        self.was_clean = False
        self.closed_by: Optional[str] = None  # "local" / "remote": who started the closing
        self.should_close_transport = False
        self.transport_abort = False
        self._abort_reason = ""
        # deadlines (None = not armed)
        self._close_deadline: Optional[float] = None  # our close must be answered by then
        self._eof_deadline: Optional[float] = None  # client: server must close TCP by then
        self._transport_deadline: Optional[float] = None  # the transport must be gone by then
        self._ping_next = now + ping_interval if ping_interval else None
        self._ping_deadline: Optional[float] = None
        self._ping_payload: Optional[bytes] = None
        self.last_rtt: Optional[float] = None
        self._delivered = False  # this receive_data call produced a Message or Fragment
        self._fail_pending: Optional[Tuple[int, str]] = None
        self._fail_at = 0.0

    # ---------------------------------------------------------------- input
    def receive_data(self, data: Any, now: Optional[float] = None) -> List[Event]:
        if now is not None:
            self._now = now
        events: List[Event] = []
        if self._input_closed or self.state is State.CLOSED:
            return events  # after a close or a failure nothing more is read
        if type(data) is not bytes:
            data = byte_view(data)  # the decoder and peek() must count the same units: bytes
        skip = self._assembler.take_skip()
        self._delivered = False
        error: Optional[ProtocolError] = None
        try:
            frames = self._decoder.feed(data)
        except ProtocolError as exc:
            frames, error = exc.frames, exc
        if frames:
            self._assembler.frames_completed()
            self._process(frames, events, skip)
        else:
            self._last_activity = self._now  # a partial (large) frame is traffic too
        if error is None and not self._input_closed and self.close_sent is None:
            try:
                self._assembler.peek(data, bool(frames))
            except ProtocolError as exc:
                error = exc
        if error is not None:
            self._fail(error.close_code, error.reason, error)
        return events

    def receive_eof(self, now: Optional[float] = None) -> List[Event]:
        """The byte stream ended (EOF or connection lost); safe to call more than once."""
        if now is not None:
            self._now = now
        if self.state is State.CLOSED:
            return []
        if self.closed_by is None:
            self.closed_by = "remote"
        return self._set_closed()

    def _process(self, frames: List[Any], events: List[Event], skip: int) -> None:
        for frame in frames:
            if self._input_closed:
                return
            op = frame.opcode
            if op <= _BINARY:
                if self.close_sent is None:  # after our close, data frames are ignored
                    self._on_data(op, frame, events, skip)
            elif frame.rsv1:  # only possible with permessage-deflate, which never covers these
                self._fail(1002, "RSV1 set on a control frame")
            elif op == _PING:
                payload = bytes(frame.payload)
                if self.close_sent is None:
                    self._queue_pong(payload)
                events.append(Ping(payload))
            elif op == _PONG:
                self._on_pong(bytes(frame.payload), events)
            else:
                self._on_close(frame.payload, events)
            skip = 0  # only frames[0] can have been seen incomplete

    def _on_data(self, op: int, frame: Any, events: List[Event], skip: int) -> None:
        try:
            event = self._assembler.data_frame(op, frame.fin, frame.payload, skip, frame.rsv1)
        except ProtocolError as exc:
            return self._fail(exc.close_code, exc.reason, exc)
        self._last_activity = self._now
        if event is not None:
            events.append(event)
            self._delivered = True
        return None

    def _on_pong(self, payload: bytes, events: List[Event]) -> None:
        rtt: Optional[float] = None
        acked: List[Tuple[bytes, float]] = []
        pings = self._pings
        if pings and payload in pings:
            for sent_payload, sent_at in list(pings.items()):
                del pings[sent_payload]
                acked.append((sent_payload, self._now - sent_at))
                if sent_payload == self._ping_payload:
                    self._ping_deadline = self._ping_payload = None
                if sent_payload == payload:
                    break
            rtt = self.last_rtt = acked[-1][1]
        events.append(Pong(payload, rtt, tuple(acked)))

    def _on_close(self, payload: Any, events: List[Event]) -> None:
        try:
            code, reason = self._parse_close(payload)
        except ProtocolError as exc:
            return self._fail(exc.close_code, exc.reason, exc)
        code = int(code)
        self.close_received = (code, reason)
        self._input_closed = True
        self._assembler.reset()
        events.append(CloseReceived(code, reason))
        if self.close_sent is None:
            self.closed_by = "remote"
            # Echo the close as received (code and reason, or empty), as websockets does: both ends
            # then report the same code and reason.
            self._queue_close(None if code == 1005 else code, reason, bytes(payload))
        self._close_deadline = None
        self._closing_done()
        return None

    def _closing_done(self) -> None:
        """Both closes exchanged (or we failed): RFC 6455 7.1.1, the server closes TCP first."""
        if self.is_client:
            if self._eof_deadline is None and self.close_timeout is not None:
                self._eof_deadline = self._now + self.close_timeout
        else:
            self._request_transport_close()

    def _request_transport_close(self) -> None:
        if not self.should_close_transport:
            self.should_close_transport = True
            if self.close_timeout is not None:
                self._transport_deadline = self._now + self.close_timeout

    def _fail(self, code: int, reason: str, exc: Optional[ProtocolError] = None) -> None:
        """Fail the connection (RFC 6455 7.1.7): read no more, send a close with the error's code.

        With ``defer_failure_close``, when this input already produced messages, the close waits
        for a deadline at "now" so that the application sees (and may answer) them first: the
        peer gets the replies to everything it sent correctly, then the close (what Autobahn
        calls strict).
        """
        if self.state is State.CLOSED or self._input_closed:
            return
        self.error = exc if exc is not None else ProtocolError(reason, code)
        self._input_closed = True
        self._assembler.reset()
        if self.defer_failure_close and self._delivered and self.close_sent is None:
            self._fail_pending, self._fail_at = (code, reason), self._now
        else:
            self._fail_close(code, reason)

    def _fail_close(self, code: int, reason: str) -> None:
        self._fail_pending = None
        if self.close_sent is None:
            self.closed_by = "local"
            try:
                payload = self._build_close(code, reason)
            except ValueError:  # a reason that does not fit: the code alone still says why
                payload, reason = self._build_close(code, ""), ""
            self._queue_close(code, reason, payload)
        self._close_deadline = None
        self._closing_done()

    # ---------------------------------------------------------------- output (see also _output.py)
    def close(
        self,
        code: Optional[int] = 1000,
        reason: str = "",
        now: Optional[float] = None,
        timeout: Optional[float] = None,
    ) -> None:
        """Start the closing handshake; ``code=None`` sends an empty close. A no-op once closing.

        Raises ValueError for a code that may not be sent or a reason over 123 bytes: nothing is
        rewritten or cut. The peer has ``timeout`` (default ``close_timeout``) to answer.
        """
        if now is not None:
            self._now = now
        if code is None:
            if reason:
                raise ValueError("a close reason needs a close code")
            payload = b""
        else:
            payload = self._build_close(code, reason)
        if self.state is not State.OPEN or self.close_sent is not None:
            return
        if self._fail_pending is not None:  # the protocol error is the reason to report
            return self._fail_close(*self._fail_pending)
        self.closed_by = "local"
        self._queue_close(code, reason, payload, timeout)

    def _queue_close(
        self, code: Optional[int], reason: str, payload: bytes, timeout: Optional[float] = None
    ) -> None:
        self._out.append(self._build_frame(_CLOSE, payload, mask=self._mask))
        self.close_sent = (code, reason)
        self.state = State.CLOSING
        self._stream_op, self._stream_sent = 0, False  # a streamed message is abandoned
        self._ping_next = self._ping_deadline = None
        timeout = self.close_timeout if timeout is None else timeout
        if timeout is not None and self.close_received is None:
            self._close_deadline = self._now + timeout

    def abort(self, now: Optional[float] = None, reason: str = "connection aborted") -> List[Event]:
        """Drop the connection now without a closing handshake (the peer sees 1006)."""
        if now is not None:
            self._now = now
        if self.state is State.CLOSED:
            return []
        if self.closed_by is None:
            self.closed_by = "local"
        self.should_close_transport = self.transport_abort = True
        self._abort_reason = reason
        return self._set_closed()

    def _check_open(self) -> None:
        if self.state is not State.OPEN:
            raise self.closed_error()

    def closed_error(self) -> ConnectionClosed:
        """The exception that reports this connection's end: final once CLOSED, else what is
        known so far (the failure, the peer's close, or 1006)."""
        if self.close_code is not None:
            return ConnectionClosed.create(self.close_code, self.close_reason or "", self.was_clean)
        code, reason = self._final_code()
        return ConnectionClosed.create(code, reason, self._clean())

    # ---------------------------------------------------------------- closing and time
    def _final_code(self) -> Tuple[int, str]:
        if self.error is not None:
            return self.error.close_code, self.error.reason
        if self.close_received is not None:
            return self.close_received
        return 1006, self._abort_reason

    def _clean(self) -> bool:
        return self.close_sent is not None and self.close_received is not None and self.error is None

    def _set_closed(self) -> List[Event]:
        self.state = State.CLOSED
        self._input_closed = True
        self.should_close_transport = True
        self.close_code, self.close_reason = self._final_code()
        self.was_clean = self._clean()
        self._close_deadline = self._eof_deadline = self._transport_deadline = None
        self._ping_next = self._ping_deadline = None
        self._fail_pending = None
        return [Closed(self.close_code, self.close_reason, self.was_clean, self.closed_by or "local")]

    def next_deadline(self) -> Optional[float]:
        """When ``handle_timeout`` must run next (None: no timer is armed)."""
        if self.state is State.CLOSED:
            return None
        if self._fail_pending is not None:
            return self._fail_at
        best: Optional[float] = None
        for t in (
            self._close_deadline,
            self._eof_deadline,
            self._transport_deadline,
            self._ping_next,
            self._ping_deadline,
        ):
            if t is not None and (best is None or t < best):
                best = t
        if self.idle_timeout is not None and self.state is State.OPEN:
            t = self._last_activity + self.idle_timeout
            if best is None or t < best:
                best = t
        return best

    def handle_timeout(self, now: float) -> List[Event]:
        self._now = now
        if self.state is State.CLOSED:
            return []
        if self._fail_pending is not None:
            self._fail_close(*self._fail_pending)
        if self._close_deadline is not None and now >= self._close_deadline:
            return self.abort(reason="close timeout: no close frame from the peer")
        if self._transport_deadline is not None and now >= self._transport_deadline:
            return self.abort(reason="close timeout: the transport did not close")
        if self._eof_deadline is not None and now >= self._eof_deadline:
            self._eof_deadline = None  # the server did not close TCP: the client does it
            self._request_transport_close()
        if self._ping_deadline is not None and now >= self._ping_deadline:
            return self.abort(reason="ping timeout: no pong from the peer")
        if self.state is State.OPEN:
            if self.idle_timeout is not None and now >= self._last_activity + self.idle_timeout:
                self.close(self.idle_close_code, "idle timeout")
            elif self._ping_next is not None and now >= self._ping_next:
                self._ping_next = now + (self.ping_interval or 0.0)
                if self._ping_payload is None:  # one heartbeat ping outstanding at a time
                    self._ping_payload = self.ping()
                    if self.ping_timeout is not None:
                        self._ping_deadline = now + self.ping_timeout
        return []

    @property
    def failure_pending(self) -> bool:
        """With ``defer_failure_close``: a protocol error's close waits for the messages before
        it to be handled (see ``_fail``)."""
        return self._fail_pending is not None

    @property
    def open(self) -> bool:
        return self.state is State.OPEN

    def __repr__(self) -> str:
        return "<Connection %s %s code=%r>" % (self.role, self.state.name, self.close_code)
