"""Independent, deliberately naive reference implementations the backends are checked against.

Nothing here calls wscodec (``outcome`` only imports its errors): each function restates the RFC rule in the simplest possible code, so
a bug shared by both backends (the compiled one being a port of the Python one) still shows.
"""
from __future__ import annotations

import sys

import base64
import binascii
import enum
from typing import Any, List, Optional, Sequence, Tuple

# RFC 6455 7.4.1/7.4.2 + IANA registry: codes a close frame may carry on the wire.
VALID_CLOSE_CODES = frozenset(range(1000, 1004)) | frozenset(range(1007, 1015)) | frozenset(range(3000, 5000))


def naive_mask(data: bytes, key: bytes, phase: int = 0) -> bytes:
    """XOR one byte at a time: byte i uses key[(phase + i) % 4]."""
    return bytes(b ^ key[(phase + i) % 4] for i, b in enumerate(data))


def _continuation_range(lead: int, index: int) -> Tuple[int, int]:
    """RFC 3629 section 4 table: allowed range of byte ``index`` (1-based) after ``lead``."""
    if index == 1:
        if lead == 0xE0:
            return 0xA0, 0xBF  # no overlong 3-byte forms
        if lead == 0xED:
            return 0x80, 0x9F  # no surrogates
        if lead == 0xF0:
            return 0x90, 0xBF  # no overlong 4-byte forms
        if lead == 0xF4:
            return 0x80, 0x8F  # nothing above U+10FFFF
    return 0x80, 0xBF


def _sequence_length(lead: int) -> int:
    if lead <= 0x7F:
        return 1
    if 0xC2 <= lead <= 0xDF:
        return 2
    if 0xE0 <= lead <= 0xEF:
        return 3
    if 0xF0 <= lead <= 0xF4:
        return 4
    return 0  # 80..C1 and F5..FF can never start a sequence


def utf8_scan(data: bytes) -> Tuple[Optional[int], bool]:
    """(index of the first byte that cannot start or continue a sequence or None, ends inside a
    sequence). Byte by byte, straight from the RFC 3629 table."""
    i, n = 0, len(data)
    while i < n:
        lead = data[i]
        need = _sequence_length(lead)
        if need == 0:
            return i, False
        for k in range(1, need):
            if i + k >= n:
                return None, True
            low, high = _continuation_range(lead, k)
            if not low <= data[i + k] <= high:
                return i + k, False
        i += need
    return None, False


def utf8_error_offset(data: bytes) -> Optional[int]:
    """The offset the wscodec docs define: first impossible byte, else len(data) if truncated."""
    bad, truncated = utf8_scan(data)
    if bad is not None:
        return bad
    return len(data) if truncated else None


def validator_trace(chunks: Sequence[bytes]) -> Tuple[List[bool], bool, Optional[int]]:
    """What an incremental validator must report: per-feed results, finish(), error_offset."""
    stream = b"".join(chunks)
    bad, truncated = utf8_scan(stream)
    results, fed = [], 0
    for chunk in chunks:
        fed += len(chunk)
        results.append(bad is None or bad >= fed)
    if bad is not None:
        return results, False, bad
    if truncated:
        return results, False, len(stream)
    return results, True, None


def key_is_valid(key: Any) -> bool:
    """RFC 6455 4.1: base64 (with padding) of exactly 16 bytes; str keys must be ASCII."""
    if isinstance(key, str):
        try:
            key = key.encode("ascii")
        except UnicodeEncodeError:
            return False
    key = bytes(key)
    if len(key) != 24:
        return False
    try:
        return len(base64.b64decode(key, validate=True)) == 16
    except (binascii.Error, ValueError):
        return False


def encode_header(
    opcode: int,
    length: int,
    *,
    fin: bool = True,
    rsv1: bool = False,
    rsv2: bool = False,
    rsv3: bool = False,
    mask: Optional[bytes] = None,
    form: Optional[int] = None,
) -> bytes:
    """A frame header written by hand from RFC 6455 5.2. ``form`` forces the length encoding
    (7, 16 or 64 bits, possibly non-minimal); by default the minimal one."""
    b0 = (0x80 if fin else 0) | (0x40 if rsv1 else 0) | (0x20 if rsv2 else 0) | (0x10 if rsv3 else 0) | opcode
    mbit = 0x80 if mask is not None else 0
    if form is None:
        form = 7 if length < 126 else 16 if length < 65536 else 64
    if form == 7:
        head = bytes([b0, mbit | length])
    elif form == 16:
        head = bytes([b0, mbit | 126]) + length.to_bytes(2, "big")
    else:
        head = bytes([b0, mbit | 127]) + length.to_bytes(8, "big")
    return head + (mask or b"")


def encode_frame(opcode: int, payload: bytes, *, mask: Optional[bytes] = None, **kw: Any) -> bytes:
    body = naive_mask(payload, mask) if mask is not None else payload
    return encode_header(opcode, len(payload), mask=mask, **kw) + body


def split(data: bytes, cuts: Sequence[int]) -> List[bytes]:
    """``data`` cut at the given positions (clamped, sorted, duplicates give empty chunks)."""
    points = sorted(min(max(c, 0), len(data)) for c in cuts)
    out, prev = [], 0
    for p in points:
        out.append(data[prev:p])
        prev = p
    out.append(data[prev:])
    return out


def norm(value: Any) -> Any:
    """A comparable, type-revealing form of a result (enums keep their class, named tuples too)."""
    if isinstance(value, enum.Enum):
        return (type(value).__name__, value.value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return ("bytes", bytes(value))
    if isinstance(value, tuple) and hasattr(value, "_fields"):
        return (type(value).__name__,) + tuple(norm(v) for v in value)
    if isinstance(value, (list, tuple)):
        return (type(value).__name__, [norm(v) for v in value])
    return (type(value).__name__, value)


def outcome(fn: Any, *args: Any, **kwargs: Any) -> Any:
    """What calling ``fn`` did, in a form two backends can be compared on: the normalized result,
    or the exception's type plus, for wscodec's own errors, everything they carry (for a
    ProtocolError: str, reason, close_code, offset and the frames decoded before it). Built-in
    argument errors (TypeError, ValueError, ...) compare by type only: their messages are the
    interpreter's, not part of the API."""
    from wscodec.errors import ProtocolError, WebSocketError

    try:
        result = fn(*args, **kwargs)
    except ProtocolError as exc:
        # errors.py: the reason must fit in the close frame the caller will send (123 bytes).
        assert len(exc.reason.encode("utf-8")) <= 123, exc.reason
        return ("raise", type(exc).__name__, str(exc), exc.reason, exc.close_code, exc.offset, norm(exc.frames))
    except WebSocketError as exc:
        return ("raise", type(exc).__name__, str(exc))
    except (TypeError, ValueError, OverflowError, BufferError) as exc:
        return ("raise", type(exc).__name__)
    return ("return", norm(result))


def compact_size(s: str) -> int:
    """sys.getsizeof of the compact str CPython builds for ``s``'s characters, without the cached
    UTF-8 copy that CPython 3.13 keeps in a str after encoding or decoding it."""
    if sys.implementation.name != "cpython":
        return 0  # no compact kinds (and no getsizeof for str) elsewhere: nothing to compare
    n, top = len(s), max(map(ord, s), default=0)
    for limit, fill, width in ((0x80, "a", 1), (0x100, "\xff", 1), (0x10000, "\u0100", 2)):
        if top < limit:
            return sys.getsizeof(fill * (n + 1)) - width
    return sys.getsizeof("\U00010000" * (n + 1)) - 4


def str_size(backend_name: str, s: str) -> int:
    """The size that shows a decoded str's compact kind: as it is for the compiled backend's str
    (which must be the one CPython would build), canonical for the Python backend's (CPython's
    own decoder, which may cache a UTF-8 copy)."""
    return sys.getsizeof(s) if backend_name == "c" else compact_size(s)  # (no "c" off CPython)
