"""Sec-WebSocket-Key / Sec-WebSocket-Accept (RFC 6455 section 4.2.2), pure Python."""
from __future__ import annotations

import base64
import hashlib
import os
from typing import Union

from ..errors import InvalidKey
from ._buf import byte_view

__all__ = ["accept_key", "generate_key", "validate_key", "GUID"]

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
_B64 = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")


def _key_bytes(key: Union[str, bytes]) -> bytes:
    if isinstance(key, str):
        try:
            return key.encode("ascii")
        except UnicodeEncodeError:
            return b""  # cannot be base64: validate_key says False
    return byte_view(key).tobytes()  # TypeError for anything that is not bytes-like


def _valid(raw: bytes) -> bool:
    # Base64 of 16 bytes is 22 alphabet characters and "==" (the last character's 4 spare bits
    # are not checked, as base64.b64decode does not check them).
    return len(raw) == 24 and raw.endswith(b"==") and all(c in _B64 for c in raw[:22])


def validate_key(key: Union[str, bytes]) -> bool:
    """True when ``key`` is base64 (with padding) of exactly 16 bytes."""
    return _valid(_key_bytes(key))


def accept_key(key: Union[str, bytes]) -> str:
    """The Sec-WebSocket-Accept value for a (valid) Sec-WebSocket-Key; raises InvalidKey."""
    raw = _key_bytes(key)
    if not _valid(raw):
        raise InvalidKey("Sec-WebSocket-Key must be base64 of 16 bytes")
    return base64.b64encode(hashlib.sha1(raw + GUID).digest()).decode("ascii")


def generate_key() -> str:
    """A fresh Sec-WebSocket-Key: 16 bytes from the OS CSPRNG, base64-encoded."""
    return base64.b64encode(os.urandom(16)).decode("ascii")
