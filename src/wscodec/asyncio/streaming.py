"""Streaming a message out piece by piece (``WebSocket.send`` of an iterable or async iterable)."""

from __future__ import annotations

from collections import abc
from typing import TYPE_CHECKING, AsyncIterable, AsyncIterator, Iterable, Optional, Union

from ..connection import Connection, State

if TYPE_CHECKING:
    from .protocol import WebSocket

__all__ = ["Piece", "send_pieces"]

Piece = Union[str, bytes, bytearray, memoryview]


async def send_pieces(
    ws: "WebSocket", conn: Connection, message: Union[Iterable[Piece], AsyncIterable[Piece]]
) -> None:
    """Send ``message``'s pieces as one fragmented message (see ``WebSocket.send``)."""
    held: Optional[Piece] = None  # each piece waits for the next: the last one carries FIN
    text: Optional[bool] = None
    try:
        async for piece in _pieces(message):
            is_text = isinstance(piece, str)
            if not is_text and not isinstance(piece, (bytes, bytearray, memoryview)):
                raise TypeError("message pieces must be str or bytes-like, not %s" % type(piece).__name__)
            if text is None:
                text = is_text
            elif is_text != text:
                raise TypeError("a message's pieces must all be str or all bytes-like")
            if held is not None:
                await _send_fragment(ws, conn, held, fin=False)
            held = piece
    except BaseException:
        if conn.state is State.OPEN and conn.streaming:  # part of the message is out
            conn.close(1011, "error in a fragmented message", ws.loop.time())
            ws._flush()
            ws._schedule()
        raise
    if held is not None:
        await _send_fragment(ws, conn, held, fin=True)


async def _send_fragment(ws: "WebSocket", conn: Connection, piece: Piece, fin: bool) -> None:
    conn.send_fragment(piece, ws.loop.time(), fin=fin)
    ws._flush()
    if ws._write_paused:
        await ws._drain()


async def _pieces(message: Union[Iterable[Piece], AsyncIterable[Piece]]) -> AsyncIterator[Piece]:
    if isinstance(message, abc.AsyncIterable):
        async for piece in message:
            yield piece
    else:
        for piece in message:
            yield piece
