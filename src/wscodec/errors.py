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
