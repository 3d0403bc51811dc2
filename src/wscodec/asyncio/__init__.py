"""asyncio WebSocket server and client over the sans-I/O :class:`wscodec.connection.Connection`.

``serve(handler, host, port, ...)`` and ``connect(url, ...)`` (both awaitable and async context
managers), ``connect_with_retry``/``reconnecting`` for clients that must come back, ``broadcast``
to send one message to many connections with its frame built once.
"""

from __future__ import annotations

from ..deflate import DeflateOptions
from ..errors import (
    ConnectionClosed,
    ConnectionClosedError,
    ConnectionClosedOK,
    InvalidHandshake,
    InvalidStatus,
)
from .broadcast import BroadcastResult, Skipped, SkipReason, broadcast
from .client import Backoff, ClientConnection, connect, connect_with_retry, reconnecting
from .protocol import Options, WebSocket
from .server import Server, ServerConnection, serve

__all__ = [
    "serve",
    "broadcast",
    "BroadcastResult",
    "Skipped",
    "SkipReason",
    "Server",
    "ServerConnection",
    "connect",
    "ClientConnection",
    "connect_with_retry",
    "reconnecting",
    "Backoff",
    "WebSocket",
    "Options",
    "DeflateOptions",
    "ConnectionClosed",
    "ConnectionClosedOK",
    "ConnectionClosedError",
    "InvalidHandshake",
    "InvalidStatus",
]
