"""The asyncio driver of a :class:`wscodec.connection.Connection`: one asyncio.Protocol per socket.

All protocol logic and timers live in the sans-I/O Connection; this layer moves bytes, arms one
loop timer at ``next_deadline()`` and queues messages for ``recv``. Flow control:

* reading pauses only while the application's receive queue is over its high-water mark
  (``max_queue`` messages or ``max_queue_bytes`` bytes) and resumes at a quarter of both; never
  because writes are backed up, since two peers that both did that would deadlock. So Close and
  Ping frames are read and answered while the application is busy sending;
* once our close is sent the peer's data frames are discarded, so reading resumes whatever the
  queue holds: the peer's close gets through and ``close_timeout`` bounds the rest;
* ``send`` waits while the transport's buffer is over ``write_limit``, and raises
  ConnectionClosed if the connection ends before its data could be written; while it is over,
  an automatic pong stays in the Connection, replaced by the next ping's (one pong at most).

Messages that arrive in several frames are queued as their frames arrive (``Fragment`` events,
gathered into one queue entry until the application takes it): ``recv`` joins them,
``recv_streaming`` hands them out as they come, so the receive queue's byte mark bounds a large
message too, and ``max_queue`` counts messages however many frames they have.
"""

from __future__ import annotations

import asyncio
import collections
from collections import abc
from typing import Any, AsyncIterable, Deque, Dict, Iterable, List, Optional, Tuple, Union

from ..connection import Closed, Connection, Message, Pong, State, default_codec
from ..events import Fragment
from ..deflate import PerMessageDeflate
from ..errors import ConnectionClosed
from .._writes import write_buffers
from .options import Options
from .queue import NO_PARTS, NO_QUEUE, Data, ReceiveQueue, _Pieces
from .streaming import Piece, send_pieces

__all__ = ["Options", "WebSocket"]

Sendable = Union[Piece, Iterable[Piece], AsyncIterable[Piece]]

# How long a protocol error's close may wait for the application to read (and answer) the
# messages that arrived before the error.
FAIL_GRACE = 1.0
# With permessage-deflate, input is fed to the Connection in slices of this many wire bytes and
# the receive queue checked between them: one slice inflates to at most ~4 MiB (deflate expands
# at most ~1032:1), whatever one socket read (256 KiB) holds.
INFLATE_STEP = 4096
# send() writes at once past this many bytes (characters for text) queued since the last write;
# below it, at the next turn of the loop: one write (one system call) for a burst of small
# messages. So at most this much waits in the Connection on top of write_limit.
FLUSH_SIZE = 64 * 1024


class WebSocket(ReceiveQueue, asyncio.Protocol):
    """An open WebSocket: ``send``, ``recv``/``async for``, ``recv_streaming``, ``ping``,
    ``close``, ``terminate``.

    Subclasses run the opening handshake (``_handshake_data``) and then call ``_open``.
    """

    role = "server"

    # Slots: an idle connection's footprint matters when a server holds tens of thousands.
    __slots__ = (
        "options", "loop", "codec", "transport", "conn", "subprotocol", "_queue", "_queued",
        "_parts", "_skip_rest", "_sending", "_recv_waiter", "_reading_paused", "_held", "_step",
        "_write_paused", "_drain_waiter", "_closed", "_timer", "_timer_at", "_pong_waiters",
        "_closed_waiters",
        "_transport_closing", "_transport_aborted", "_fail_hold_until", "_unflushed", "_flush_soon",
    )

    def __init__(self, options: Options, loop: asyncio.AbstractEventLoop) -> None:
        self.options = options
        self.loop = loop
        self.codec = options.codec if options.codec is not None else default_codec()
        self.transport: Optional[asyncio.Transport] = None
        self.conn: Optional[Connection] = None  # None until the handshake succeeds
        self.subprotocol: Optional[str] = None
        self._queue: Deque[Union[Data, _Pieces]] = NO_QUEUE  # a deque from the first message on
        self._queued = 0  # bytes (characters for text) in _queue
        self._parts: List[Data] = NO_PARTS  # the pieces recv() took of a fragmented message so far
        self._skip_rest = False  # a recv_streaming() iterator was left mid-message
        self._sending: Optional[asyncio.Future[None]] = None  # a streamed send() in progress
        self._recv_waiter: Optional[asyncio.Future[None]] = None
        self._reading_paused = False  # by the receive queue, the only reason to stop reading
        self._held = b""  # input read before reading paused, fed once it resumes
        self._step: Optional[int] = None  # input slice size (INFLATE_STEP with deflate)
        self._write_paused = False
        self._drain_waiter: Optional[asyncio.Future[None]] = None
        self._closed: asyncio.Future[None] = loop.create_future()
        self._timer: Optional[asyncio.TimerHandle] = None
        self._timer_at = 0.0
        self._pong_waiters: Optional[Dict[bytes, asyncio.Future[float]]] = None  # created on first ping()
        self._closed_waiters: Optional[List[asyncio.Future[None]]] = None  # see wait_closed()
        self._transport_closing = False
        self._transport_aborted = False
        self._fail_hold_until: Optional[float] = None
        self._unflushed = 0  # size of the messages send() queued since the last write
        self._flush_soon = False  # a write of them is scheduled (see send)

    # ------------------------------------------------------------ asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        transport.set_write_buffer_limits(high=self.options.write_limit)

    def data_received(self, data: bytes) -> None:
        if self.conn is None:
            self._handshake_data(data)
        elif self._reading_paused:  # a TLS transport may still deliver what it had decrypted
            self._held += data
        else:
            self._feed(data)

    def _feed(self, data: bytes) -> None:
        conn = self.conn
        assert conn is not None
        now, step = self.loop.time(), self._step
        if step is None or len(data) <= step:
            events = conn.receive_data(data, now)
            if events:
                self._handle(events)
        else:
            for pos in range(0, len(data), step):
                events = conn.receive_data(data[pos : pos + step], now)
                if events:
                    self._handle(events)
                if self._reading_paused:  # the queue is full: keep the rest for later
                    self._held = data[pos + step :]
                    break
        self._flush()
        self._schedule()

    def eof_received(self) -> Optional[bool]:
        if self.conn is not None:
            self._handle(self.conn.receive_eof(self.loop.time()))
            self._flush()
        return None  # let the transport close itself

    def connection_lost(self, exc: Optional[Exception]) -> None:
        self._transport_closing = True
        if self.conn is None:
            self._handshake_lost(exc)
            self._set_closed()
        else:
            self._handle(self.conn.receive_eof(self.loop.time()))
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._wake_drain()

    def pause_writing(self) -> None:
        # Reading goes on: the peer's close and pings must get through (see the module doc);
        # meanwhile only the latest ping's pong waits to be written.
        self._write_paused = True
        if self.conn is not None:
            self.conn.coalesce_pongs = True

    def resume_writing(self) -> None:
        self._write_paused = False
        if self.conn is not None:
            self.conn.coalesce_pongs = False
        self._flush()  # a pong held back while the buffer was full
        self._wake_drain()

    # ------------------------------------------------------------ receive-queue flow control
    def _pause_reading(self) -> None:
        transport = self.transport
        if not self._reading_paused and transport is not None and not transport.is_closing():
            self._reading_paused = True
            transport.pause_reading()

    def _resume_reading(self) -> None:
        self._reading_paused = False
        held, self._held = self._held, b""
        if held and self.conn is not None:
            self._feed(held)  # may pause again
        transport = self.transport
        if not self._reading_paused and transport is not None and not transport.is_closing():
            transport.resume_reading()

    # ------------------------------------------------------------ handshake hooks
    def _handshake_data(self, data: bytes) -> None:
        raise NotImplementedError

    def _handshake_lost(self, exc: Optional[Exception]) -> None:
        pass

    def _on_closed(self) -> None:
        """Hook: the connection reached CLOSED."""

    def _open(self, leftover: bytes, deflate: Optional[PerMessageDeflate] = None) -> None:
        self.conn = self.options.connection(self.role, self.loop.time(), deflate)
        self.conn.coalesce_pongs = self._write_paused  # the 101 itself may have filled the buffer
        self._step = None if deflate is None else INFLATE_STEP
        if leftover:
            self.data_received(leftover)
        else:
            self._schedule()

    # ------------------------------------------------------------ event handling
    def _handle(self, events: Any) -> None:
        queue = self._queue
        got_message = False
        for event in events:
            cls = type(event)
            if (cls is Message or cls is Fragment) and queue is NO_QUEUE:
                queue = self._queue = collections.deque()  # (not for the heartbeat's pongs)
            if cls is Message:
                queue.append(event.data)
                self._queued += len(event.data)
                got_message = True
            elif cls is Fragment:
                last = queue[-1] if queue else None
                if type(last) is _Pieces and not last.fin:  # the same message, still waiting
                    last.parts.append(event.data)
                    last.size += len(event.data)
                    last.fin = event.fin
                else:
                    queue.append(_Pieces(event.data, event.fin))
                self._queued += len(event.data)
                got_message = True
            elif cls is Pong:
                for payload, rtt in event.acked:
                    fut = self._pong_waiters.pop(payload, None) if self._pong_waiters else None
                    if fut is not None and not fut.done():
                        fut.set_result(rtt)
            elif cls is Closed:
                self._closed_now()
        if got_message:
            waiter = self._recv_waiter
            if waiter is not None and not waiter.done():
                waiter.set_result(None)
            if not self._reading_paused and self._over_high_water():
                self._pause_reading()

    def _closed_now(self) -> None:
        self._set_closed()
        waiter = self._recv_waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
        if self._pong_waiters:
            exc = self._closed_exception()
            for fut in self._pong_waiters.values():
                if not fut.done():
                    fut.set_exception(exc)
            self._pong_waiters.clear()
        self._wake_drain()
        self._on_closed()

    def _set_closed(self) -> None:
        if not self._closed.done():
            self._closed.set_result(None)
        for waiter in self._closed_waiters or ():
            if not waiter.done():
                waiter.set_result(None)

    def _flush(self) -> None:
        conn = self.conn
        transport = self.transport
        if conn is None or transport is None:
            return
        self._unflushed = 0
        # While the peer does not read, a lone automatic pong waits (and is replaced by the
        # next ping's) until resume_writing: a ping flood cannot grow the write buffer.
        if conn.output_pending or not self._write_paused:
            buffers = conn.buffers_to_send()
            if not self._transport_closing:
                write_buffers(transport, buffers)
        if self._reading_paused and conn.close_sent is not None:
            # Data frames are discarded from now on: read on, for the peer's close.
            self._resume_reading()
        if conn.should_close_transport:
            if conn.transport_abort:
                if not self._transport_aborted:
                    self._transport_aborted = self._transport_closing = True
                    transport.abort()
            elif not self._transport_closing:
                self._transport_closing = True
                if conn.error is not None and conn.close_timeout is not None and transport.can_write_eof():
                    # We failed the connection while the peer may still be sending. Closing with
                    # its data unread makes the kernel reset the connection, and a reset can
                    # destroy our close frame before the peer reads it: half-close instead, drop
                    # what still arrives, and let the peer's EOF (or the close timeout) end it.
                    # Without a close timeout nothing would bound that wait: close at once.
                    transport.write_eof()
                else:
                    transport.close()

    def _schedule(self) -> None:
        # One timer at the earliest deadline; a timer that fires early just re-arms.
        conn = self.conn
        if conn is None:
            return
        deadline = conn.next_deadline()
        if deadline is None:
            return
        if self._timer is not None:
            if self._timer_at <= deadline:
                return
            self._timer.cancel()
        self._timer_at = deadline
        self._timer = self.loop.call_at(deadline, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        conn = self.conn
        if conn is None:
            return
        # call_at may run a little before the deadline (clock resolution): never pass an earlier now.
        now = max(self.loop.time(), self._timer_at)
        if conn.failure_pending and self._queue:
            # Messages that preceded a protocol error are still queued: recv() releases the
            # close once they are read, so that their replies go out before it.
            if self._fail_hold_until is None:
                self._fail_hold_until = now + min(FAIL_GRACE, self.options.close_timeout or FAIL_GRACE)
            if now < self._fail_hold_until:
                self._timer_at = self._fail_hold_until
                self._timer = self.loop.call_at(self._fail_hold_until, self._on_timer)
                return
        self._fail_hold_until = None
        events = conn.handle_timeout(now)
        if events:
            self._handle(events)
        self._flush()
        self._schedule()

    def _release_failure(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._timer_at = self.loop.time()  # not the hold deadline: that is in the future
        self._on_timer()

    def _wake_drain(self) -> None:
        waiter = self._drain_waiter
        if waiter is not None:
            self._drain_waiter = None
            if not waiter.done():
                waiter.set_result(None)

    def _closed_exception(self) -> ConnectionClosed:
        if self.conn is None:
            return ConnectionClosed.create(1006, "connection closed during the handshake")
        return self.conn.closed_error()

    def _require(self) -> Connection:
        if self.conn is None:
            raise RuntimeError("the WebSocket handshake has not completed")
        return self.conn

    # ------------------------------------------------------------ public API
    async def send(self, message: Sendable) -> None:
        """Send a message: text for ``str``, binary for a bytes-like object, split in frames of
        ``fragment_size`` if set. An iterable or async iterable of pieces (all ``str`` or all
        bytes-like, else TypeError) is sent as one fragmented message, a frame per piece, without
        holding it whole; an empty one sends nothing. If the pieces fail after the first one
        went out, the connection is closed with 1011 and the error raised.

        Waits while the transport's buffer is over ``write_limit``. Raises ConnectionClosed once
        closing has started, or if the connection ends while this waits."""
        conn = self._require()
        while self._sending is not None:  # messages do not interleave with a streamed one
            await asyncio.shield(self._sending)
        if isinstance(message, (str, bytes, bytearray, memoryview)):
            conn.send(message, self.loop.time(), fragment_size=self.options.fragment_size)
            if self._write_soon(len(message)):
                await self._drain()
            return
        if isinstance(message, abc.Mapping) or not isinstance(message, (abc.Iterable, abc.AsyncIterable)):
            raise TypeError("send() takes str, a bytes-like object, or an iterable or async iterable "
                            "of them, not %s" % type(message).__name__)
        self._sending = self.loop.create_future()
        try:
            await send_pieces(self, conn, message)
        finally:
            done, self._sending = self._sending, None
            done.set_result(None)

    def _write_soon(self, size: int, later: Optional[List["WebSocket"]] = None) -> bool:
        """A message of about ``size`` bytes was queued on the Connection; True: writes are
        paused, the sender should drain. Small messages queued in one go (an echo of everything
        one read brought, a burst, broadcasts) leave in one write once the sender yields to the
        loop; past FLUSH_SIZE, at once. ``later``: where to add this connection when its write
        is to be scheduled, for a caller that schedules many at once (see broadcast)."""
        self._unflushed += size
        if self._unflushed >= FLUSH_SIZE or self._write_paused:
            self._flush()
            return self._write_paused
        if not self._flush_soon:
            self._flush_soon = True
            if later is None:
                self.loop.call_soon(self._flush_queued)
            else:
                later.append(self)
        return False

    def _flush_queued(self) -> None:
        self._flush_soon = False
        self._flush()  # (an empty message adds nothing to _unflushed, yet waits to be written)

    async def _drain(self) -> None:
        """Wait until the write buffer is under ``write_limit``; ConnectionClosed if the
        connection ends first (what we wrote may never reach the peer)."""
        while self._write_paused and not self._closed.done():
            if self._drain_waiter is None:
                self._drain_waiter = self.loop.create_future()
            await asyncio.shield(self._drain_waiter)
        if self._write_paused:
            raise self._closed_exception()

    def ping(self, data: Optional[bytes] = None) -> "asyncio.Future[float]":
        """Send a ping; the returned future resolves to the round-trip time when its pong
        arrives (``rtt = await ws.ping()``) and fails with ConnectionClosed if none will."""
        conn = self._require()
        payload = conn.ping(data, self.loop.time())
        fut: asyncio.Future[float] = self.loop.create_future()
        if self._pong_waiters is None:
            self._pong_waiters = {}
        self._pong_waiters[payload] = fut
        self._flush()
        return fut

    async def pong(self, data: bytes = b"") -> None:
        self._require().pong(data)
        self._flush()

    async def close(
        self, code: Optional[int] = 1000, reason: str = "", timeout: Optional[float] = None
    ) -> None:
        """Run the closing handshake and wait until the connection is closed. The peer has
        ``timeout`` seconds (default ``close_timeout``) to answer before the connection is
        dropped (close_code 1006). Invalid codes or reasons raise ValueError."""
        conn = self.conn
        if conn is None:
            if self.transport is not None:
                self.transport.abort()
        elif conn.state is State.OPEN:
            conn.close(code, reason, self.loop.time(), timeout)
            self._flush()
            self._schedule()
        await self.wait_closed()

    def terminate(self) -> None:
        """Drop the connection at once, without a closing handshake (the peer sees 1006)."""
        if self.conn is None:
            if self.transport is not None:
                self.transport.abort()
            return
        self._handle(self.conn.abort(self.loop.time(), "terminated"))
        self._flush()

    async def wait_closed(self) -> None:
        """Wait until the connection is closed (cancelling this wait changes nothing else)."""
        if self._closed.done():
            return
        # One future per waiter (not asyncio.shield, which costs several objects): idle
        # handlers that wait here are what a server with many connections holds.
        waiter = self.loop.create_future()
        if self._closed_waiters is None:
            self._closed_waiters = []
        self._closed_waiters.append(waiter)
        try:
            await waiter
        finally:
            self._closed_waiters.remove(waiter)

    @property
    def state(self) -> Optional[State]:
        return None if self.conn is None else self.conn.state

    @property
    def open(self) -> bool:
        return self.conn is not None and self.conn.state is State.OPEN

    @property
    def closed(self) -> bool:
        return self._closed.done()

    @property
    def close_code(self) -> Optional[int]:
        return None if self.conn is None else self.conn.close_code

    @property
    def close_reason(self) -> Optional[str]:
        return None if self.conn is None else self.conn.close_reason

    @property
    def was_clean(self) -> bool:
        return self.conn is not None and self.conn.was_clean

    @property
    def closed_by(self) -> Optional[str]:
        return None if self.conn is None else self.conn.closed_by

    @property
    def deflate(self) -> Optional[PerMessageDeflate]:
        """The negotiated permessage-deflate (``.header``, ``.params``), None without it."""
        return None if self.conn is None else self.conn.deflate

    @property
    def latency(self) -> Optional[float]:
        """The last measured ping round-trip time."""
        return None if self.conn is None else self.conn.last_rtt

    @property
    def remote_address(self) -> Optional[Tuple[Any, ...]]:
        return None if self.transport is None else self.transport.get_extra_info("peername")

    @property
    def local_address(self) -> Optional[Tuple[Any, ...]]:
        return None if self.transport is None else self.transport.get_extra_info("sockname")

    def __repr__(self) -> str:
        state = "HANDSHAKE" if self.conn is None else self.conn.state.name
        return "<%s %s %s>" % (type(self).__name__, state, self.remote_address)

