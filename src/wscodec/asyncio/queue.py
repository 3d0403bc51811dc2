"""The receive queue of :class:`wscodec.asyncio.WebSocket`: its high/low-water marks and the
application's side (``recv``, ``recv_streaming``, ``async for``).

Entries are messages (``str``/``bytes``) and, for a message that arrives in several frames,
one :class:`_Pieces` gathering the frames that came while it waited. ``max_queue`` counts
entries (so messages), ``max_queue_bytes`` the bytes (characters for text) they hold.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any, AsyncIterator, Deque, List, Optional, Union

from ..errors import ConnectionClosed, ConnectionClosedOK

if TYPE_CHECKING:
    from .options import Options

__all__ = ["Data", "ReceiveQueue", "NO_QUEUE", "NO_PARTS"]

Data = Union[str, bytes]
# Until a connection receives a message (a fragmented one), its queue (recv()'s parts) is this
# shared empty placeholder: an idle connection allocates neither.
NO_QUEUE: Deque[Any] = ()  # type: ignore[assignment]
NO_PARTS: List[Any] = ()  # type: ignore[assignment]


class _Pieces:
    """A queue entry: frames of one fragmented message that arrived while it waited."""

    __slots__ = ("parts", "size", "fin")

    def __init__(self, data: Data, fin: bool) -> None:
        self.parts = [data]
        self.size = len(data)
        self.fin = fin

    def joined(self) -> Data:
        return _join(self.parts)


def _join(parts: List[Data]) -> Data:
    if len(parts) == 1:
        return parts[0]
    return "".join(parts) if isinstance(parts[0], str) else b"".join(parts)  # type: ignore[arg-type]



class ReceiveQueue:
    """Mixin for WebSocket: the queue's state is set up by WebSocket.__init__."""

    __slots__ = ()

    options: "Options"
    loop: asyncio.AbstractEventLoop
    _queue: Deque[Union[Data, _Pieces]]
    _queued: int
    _parts: List[Data]
    _skip_rest: bool
    _recv_waiter: Optional["asyncio.Future[None]"]
    _closed: "asyncio.Future[None]"
    _reading_paused: bool
    _fail_hold_until: Optional[float]

    def _resume_reading(self) -> None:
        raise NotImplementedError

    def _release_failure(self) -> None:
        raise NotImplementedError

    def _closed_exception(self) -> ConnectionClosed:
        raise NotImplementedError

    def _over_high_water(self) -> bool:
        options = self.options
        return (options.max_queue is not None and len(self._queue) >= options.max_queue) or (
            options.max_queue_bytes is not None and self._queued >= options.max_queue_bytes
        )

    def _at_low_water(self) -> bool:
        options = self.options
        return (options.max_queue is None or len(self._queue) <= options.max_queue // 4) and (
            options.max_queue_bytes is None or self._queued <= options.max_queue_bytes // 4
        )

    async def recv(self) -> Data:
        """The next message (``str`` or ``bytes``); raises ConnectionClosed when none will come.
        A fragmented message is joined here (at most ``max_message_size``)."""
        while True:
            item = await self._next()
            if type(item) is not _Pieces:
                return item  # type: ignore[return-value]
            parts = self._parts
            if parts is NO_PARTS:
                parts = self._parts = []
            parts.extend(item.parts)  # kept across a cancelled recv(): nothing is lost
            if item.fin:
                data = _join(parts)
                parts.clear()
                return data

    async def recv_streaming(self) -> AsyncIterator[Data]:
        """The next message piece by piece, as its frames arrive: ``async for piece in
        ws.recv_streaming()``. Pieces are ``str`` for a text message (a piece may be "" when a
        frame ends inside a character) or ``bytes``, each holding one or more frames; a message
        sent in one frame is one piece. Memory stays bounded by the receive queue whatever the
        message size. Leaving the loop early discards the rest of that message once the
        iterator is closed: at once on CPython; elsewhere (PyPy) close it yourself
        (``await it.aclose()`` or ``contextlib.aclosing``). Raises ConnectionClosed when none
        will come."""
        item: Union[Data, _Pieces]
        if self._parts:  # a cancelled recv() had started this message
            item = _Pieces(_join(self._parts), False)
            self._parts.clear()
        else:
            item = await self._next()
        if type(item) is not _Pieces:
            yield item  # type: ignore[misc]
            return
        done = False
        try:
            while True:
                done = item.fin  # type: ignore[union-attr]
                yield item.joined()  # type: ignore[union-attr]
                if done:
                    return
                item = await self._next()
        finally:
            if not done:
                self._skip_rest = True

    async def _next(self) -> Union[Data, _Pieces]:
        """The next queued message or pieces (waiting for one), with the queue's accounting."""
        while True:
            queue = self._queue  # (the placeholder is replaced by a deque while we wait)
            if queue:
                item = queue.popleft()
                pieces = type(item) is _Pieces
                self._queued -= item.size if pieces else len(item)  # type: ignore[union-attr,arg-type]
                if not queue and self._fail_hold_until is not None:
                    # runs after the caller's reply to this last message (same task step)
                    self.loop.call_soon(self._release_failure)
                if self._reading_paused and self._at_low_water():
                    self._resume_reading()
                if self._skip_rest:  # the rest of a message whose iterator was left
                    self._skip_rest = pieces and not item.fin  # type: ignore[union-attr]
                    if pieces:
                        continue
                return item
            if self._closed.done():
                raise self._closed_exception()
            if self._recv_waiter is not None:
                raise RuntimeError("recv() is already waiting in another task")
            self._recv_waiter = waiter = self.loop.create_future()
            try:
                await waiter
            finally:
                self._recv_waiter = None

    def __aiter__(self) -> AsyncIterator[Data]:
        return self

    async def __anext__(self) -> Data:
        try:
            return await self.recv()
        except ConnectionClosedOK:
            raise StopAsyncIteration from None
