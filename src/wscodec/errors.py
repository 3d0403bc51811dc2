"""The one exception hierarchy shared by both backends.

Every error raised for bad input from the network is a :class:`ProtocolError` that carries the
close code to send (``close_code``) and a short reason (``reason``, at most 123 bytes of UTF-8 so
it fits in a close frame).
"""
from __future__ import annotations

from typing import Any, Optional, Sequence

__all__ = [
    "WebSocketError",
    "ProtocolError",
    "InvalidUTF8",
    "PayloadTooBig",
    "InvalidHandshake",
    "InvalidKey",
    "InvalidRequest",
    "InvalidStatus",
    "ConnectionClosed",
    "ConnectionClosedOK",
    "ConnectionClosedError",
]


class WebSocketError(Exception):
    """Base class of every exception wscodec raises on purpose."""


class ProtocolError(WebSocketError):
    """The peer violated RFC 6455; fail the connection with ``close_code``.

    ``offset`` is the byte offset of the failure where the API can name one (UTF-8 errors), else
    None. ``frames`` holds the complete frames a :class:`FrameDecoder` decoded in the same ``feed``
    call before it met the failure, so that nothing the peer sent correctly is lost.
    """

    close_code: int = 1002

    def __init__(
        self,
        reason: str,
        close_code: Optional[int] = None,
        offset: Optional[int] = None,
        frames: Sequence[Any] = (),
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        if close_code is not None:
            self.close_code = close_code
        self.offset = offset
        self.frames = list(frames)

    def __repr__(self) -> str:
        extra = "" if self.offset is None else ", offset=%d" % self.offset
        return "%s(%r, close_code=%d%s)" % (type(self).__name__, self.reason, self.close_code, extra)


class InvalidUTF8(ProtocolError):
    """A text message or close reason is not valid UTF-8 (close code 1007)."""

    close_code = 1007


class PayloadTooBig(ProtocolError):
    """A frame or message exceeds the configured limit (close code 1009)."""

    close_code = 1009


class InvalidHandshake(WebSocketError):
    """The opening handshake is malformed."""


class InvalidKey(InvalidHandshake, ValueError):
    """A Sec-WebSocket-Key is not base64 of exactly 16 bytes."""


class InvalidRequest(InvalidHandshake):
    """A server rejects an opening handshake request with HTTP ``status`` (4xx/5xx).

    ``headers`` are extra response headers (``Sec-WebSocket-Version: 13`` for a 426); the message
    is the short text/plain body sent back.
    """

    def __init__(self, status: int, message: str, headers: Sequence[Any] = ()) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = list(headers)


class InvalidStatus(InvalidHandshake):
    """A client's opening handshake got an HTTP response other than 101. Redirects are not
    followed: for a 3xx the message names the ``location``."""

    def __init__(self, status: int, reason: str = "", headers: Sequence[Any] = ()) -> None:
        self.status = status
        self.reason = reason
        self.headers = list(headers)
        message = "server rejected the WebSocket handshake: HTTP %d %s" % (status, reason)
        if self.location is not None:
            message += " (redirect to %s, not followed)" % self.location
        super().__init__(message)

    @property
    def location(self) -> Optional[str]:
        """The Location of a 3xx answer, else None."""
        if not 300 <= self.status < 400:
            return None
        return next((v for k, v in self.headers if k.lower() == "location"), None)


class ConnectionClosed(WebSocketError):
    """The connection is closed (or closing): ``code``/``reason`` as the connection reports them.

    ``code`` 1005 means the peer's close frame had no code, 1006 that the connection dropped
    without a close frame (EOF, abort, timeout).
    """

    def __init__(self, code: int, reason: str = "", was_clean: bool = False) -> None:
        super().__init__("connection closed: %d %s" % (code, reason) if reason else "connection closed: %d" % code)
        self.code = code
        self.reason = reason
        self.was_clean = was_clean

    @staticmethod
    def create(code: int, reason: str = "", was_clean: bool = False) -> "ConnectionClosed":
        """ConnectionClosedOK for a clean 1000/1001/1005 close, ConnectionClosedError otherwise."""
        cls = ConnectionClosedOK if was_clean and code in (1000, 1001, 1005) else ConnectionClosedError
        return cls(code, reason, was_clean)


class ConnectionClosedOK(ConnectionClosed):
    """A normal close (1000, 1001 or no code) after a complete closing handshake."""


class ConnectionClosedError(ConnectionClosed):
    """Any other end: a protocol error, an error code, or a connection lost without a handshake."""
