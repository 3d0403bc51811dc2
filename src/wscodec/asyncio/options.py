"""Per-connection settings of ``serve`` and ``connect``, checked when they are given.

A bad value fails at the call (``Options(...)``, ``serve(...)``, ``connect(...)``) with a
ValueError or TypeError that names the field, not later in every connection.
"""

from __future__ import annotations

import dataclasses
import math
import types
from typing import Any, Optional, Union

from ..connection import DEFAULT_MAX_MESSAGE_SIZE, Connection
from ..deflate import DeflateOptions, PerMessageDeflate, resolve

__all__ = ["Options", "DEFAULT_MAX_QUEUE_BYTES"]

DEFAULT_MAX_QUEUE_BYTES = 4 << 20  # received bytes (inflated) waiting for recv() before reading pauses

_CODEC_API = ("FrameDecoder", "build_frame", "build_close", "parse_close", "Utf8Validator")


@dataclasses.dataclass
class Options:
    """Per-connection settings shared by ``serve`` and ``connect`` (keyword arguments of both).

    Sizes are bytes and times seconds; None turns a limit or timer off. Reading from the peer
    pauses while ``max_queue`` messages or ``max_queue_bytes`` bytes wait for ``recv()`` and
    resumes once both are down to a quarter; ``send()`` waits while more than ``write_limit``
    bytes wait for the peer to read them. ``fragment_size`` splits outgoing messages into
    frames of at most that many payload bytes (None: one frame per message).
    """

    max_message_size: Optional[int] = DEFAULT_MAX_MESSAGE_SIZE
    max_frame_size: Optional[int] = None
    max_queue: Optional[int] = 16
    max_queue_bytes: Optional[int] = DEFAULT_MAX_QUEUE_BYTES
    close_timeout: Optional[float] = 10.0
    ping_interval: Optional[float] = 20.0
    ping_timeout: Optional[float] = 20.0
    idle_timeout: Optional[float] = None
    idle_close_code: int = 1001
    write_limit: int = 64 * 1024
    fragment_size: Optional[int] = None
    codec: Optional[types.SimpleNamespace] = None
    # permessage-deflate: "deflate" (defaults), a DeflateOptions, or None (off)
    compression: Union[str, DeflateOptions, None] = "deflate"

    def __post_init__(self) -> None:
        for name in ("max_message_size", "max_frame_size", "max_queue", "max_queue_bytes", "fragment_size"):
            _check_int(name, getattr(self, name), minimum=1, optional=True)
        _check_int("write_limit", self.write_limit, minimum=0, optional=False)
        _check_seconds("close_timeout", self.close_timeout, allow_zero=True)
        for name in ("ping_interval", "ping_timeout", "idle_timeout"):
            _check_seconds(name, getattr(self, name), allow_zero=False)
        if self.codec is not None and not all(hasattr(self.codec, attr) for attr in _CODEC_API):
            raise TypeError("codec must be a wscodec backend namespace (wscodec._backends.load()), not %r"
                            % (self.codec,))
        _check_int("idle_close_code", self.idle_close_code, minimum=0, optional=False)
        from ..connection import default_codec

        if not (self.codec or default_codec()).is_valid_close_code(self.idle_close_code):
            raise ValueError("idle_close_code: %d may not be sent in a close frame" % self.idle_close_code)
        if not isinstance(self.compression, (str, DeflateOptions, bool, type(None))):
            raise TypeError("compression must be 'deflate', a DeflateOptions or None, not %r"
                            % (self.compression,))
        resolve(self.compression)  # ValueError for an unknown name or invalid DeflateOptions

    def connection(self, role: str, now: float, deflate: Optional[PerMessageDeflate] = None) -> Connection:
        return Connection(
            role,
            deflate=deflate,
            max_message_size=self.max_message_size,
            max_frame_size=self.max_frame_size,
            codec=self.codec,
            close_timeout=self.close_timeout,
            ping_interval=self.ping_interval,
            ping_timeout=self.ping_timeout,
            idle_timeout=self.idle_timeout,
            idle_close_code=self.idle_close_code,
            now=now,
            # recv() joins the pieces; recv_streaming() hands them out as they come, so a large
            # fragmented message never has to be held whole
            deliver_fragments=True,
            # the replies to messages before a protocol error go out before its close (FAIL_GRACE)
            defer_failure_close=True,
        )


def _check_int(name: str, value: Any, *, minimum: int, optional: bool) -> None:
    if value is None and optional:
        return
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError("%s must be an int%s, not %r" % (name, " or None" if optional else "", value))
    if value < minimum:
        raise ValueError("%s must be >= %d%s, got %d" % (name, minimum, " (None: no limit)" if optional else "",
                                                          value))


def _check_seconds(name: str, value: Any, *, allow_zero: bool) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError("%s must be a number of seconds or None, not %r" % (name, value))
    if not math.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
        raise ValueError("%s must be %s seconds (None: off), got %r" % (name, ">= 0" if allow_zero else "> 0", value))
