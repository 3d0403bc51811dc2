"""wscodec: a fast, strict WebSocket (RFC 6455) frame codec with a pure-Python twin.

The public API is identical in both backends; ``BACKEND`` says which one is in use ("c" or
"python"). ``WSCODEC_NO_EXTENSIONS=1`` forces the Python backend; ``WSCODEC_REQUIRE_EXTENSIONS=1``
turns a missing compiled backend into an ImportError instead of a silent fallback.
"""
from __future__ import annotations

from ._backends import choose as _choose
from ._types import MAX_CLOSE_REASON, MAX_CONTROL_PAYLOAD, CloseCode, Frame, FrameHeader, Opcode
from .errors import (
    ConnectionClosed,
    ConnectionClosedError,
    ConnectionClosedOK,
    InvalidHandshake,
    InvalidRequest,
    InvalidStatus,
    InvalidKey,
    InvalidUTF8,
    PayloadTooBig,
    ProtocolError,
    WebSocketError,
)

__version__ = "0.1.0"

BACKEND, HAS_EXTENSIONS = _choose()

if BACKEND == "c":
    from ._c.close import build_close, is_valid_close_code, parse_close
    from ._c.frames import FrameDecoder, build_frame, parse_header
    from ._c.handshake import accept_key, generate_key, validate_key
    from ._c.mask import Masker, apply_mask, mask_inplace
    from ._c.text import TextDecoder, decode_text, encode_text
    from ._c.utf8 import Utf8Validator, utf8_error_offset, validate_utf8
else:
    from ._py.close import build_close, is_valid_close_code, parse_close
    from ._py.frames import FrameDecoder, build_frame, parse_header
    from ._py.handshake import accept_key, generate_key, validate_key
    from ._py.mask import Masker, apply_mask, mask_inplace
    from ._py.text import TextDecoder, decode_text, encode_text
    from ._py.utf8 import Utf8Validator, utf8_error_offset, validate_utf8

__all__ = [
    "BACKEND",
    "HAS_EXTENSIONS",
    "__version__",
    # masking
    "apply_mask",
    "mask_inplace",
    "Masker",
    # UTF-8
    "validate_utf8",
    "utf8_error_offset",
    "Utf8Validator",
    # text messages
    "decode_text",
    "encode_text",
    "TextDecoder",
    # frames
    "parse_header",
    "build_frame",
    "FrameDecoder",
    "Frame",
    "FrameHeader",
    "Opcode",
    "MAX_CONTROL_PAYLOAD",
    # close
    "parse_close",
    "build_close",
    "is_valid_close_code",
    "CloseCode",
    "MAX_CLOSE_REASON",
    # handshake
    "accept_key",
    "generate_key",
    "validate_key",
    # errors
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
    # sans-I/O connection (imported lazily: see __getattr__)
    "Connection",
]


def __getattr__(name: str) -> object:
    # The connection layer is not needed by codec-only users; import it on first use.
    if name == "Connection":
        from .connection import Connection

        return Connection
    raise AttributeError("module 'wscodec' has no attribute %r" % name)
