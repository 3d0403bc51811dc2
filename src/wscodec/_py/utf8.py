"""UTF-8 validation (RFC 3629, as RFC 6455 requires for text and close reasons), pure Python.

The failure offset is the index of the first byte that cannot start or continue a sequence; when
the input ends inside a sequence, it is the length of the input (where the next byte was due).
CPython's decoder finds errors at C speed; its error positions map onto that definition, and its
incremental mode's deferred tail is checked here byte by byte, so that an impossible prefix at a
chunk end (``ED A0``, a surrogate) fails at once instead of at the next chunk.
"""
from __future__ import annotations

import codecs
from typing import Any, Optional, Tuple

from ._buf import byte_view

__all__ = ["validate_utf8", "utf8_error_offset", "Utf8Validator"]

_decode = codecs.utf_8_decode


def _second_byte_range(lead: int) -> Tuple[int, int]:
    """Valid range of the byte after ``lead`` (a multi-byte lead byte), per RFC 3629 table."""
    if lead == 0xE0:
        return 0xA0, 0xBF
    if lead == 0xED:
        return 0x80, 0x9F
    if lead == 0xF0:
        return 0x90, 0xBF
    if lead == 0xF4:
        return 0x80, 0x8F
    return 0x80, 0xBF


def _sequence_length(lead: int) -> int:
    if 0xC2 <= lead <= 0xDF:
        return 2
    if 0xE0 <= lead <= 0xEF:
        return 3
    if 0xF0 <= lead <= 0xF4:
        return 4
    return 0


def _tail_error(tail: bytes) -> Optional[int]:
    """Index of the first impossible byte in ``tail``, an unfinished sequence, or None."""
    need = _sequence_length(tail[0])
    if need == 0 or len(tail) >= need:
        return 0 if need == 0 else None
    low, high = _second_byte_range(tail[0])
    for i in range(1, len(tail)):
        if not (low <= tail[i] <= high):
            return i
        low, high = 0x80, 0xBF
    return None


def _offset(exc: UnicodeDecodeError, length: int) -> int:
    if exc.reason == "invalid start byte":
        return exc.start
    if exc.reason == "unexpected end of data":
        return length
    return exc.end


def utf8_error_offset(data: Any) -> Optional[int]:
    """Offset of the first invalid byte of ``data`` (see module doc), or None if it is valid."""
    view = byte_view(data)
    try:
        _decode(view, "strict", True)
    except UnicodeDecodeError as exc:
        return _offset(exc, len(view))
    return None


def validate_utf8(data: Any) -> bool:
    """True when ``data`` is entirely valid UTF-8."""
    try:
        _decode(byte_view(data), "strict", True)
    except UnicodeDecodeError:
        return False
    return True


def _decode_step(pending: bytes, base: int, view: memoryview, final: bool) -> Tuple[str, bytes, Optional[int]]:
    """Decode ``pending + view``, the bytes of a stream from stream offset ``base`` on.

    Returns (text, unfinished tail, None), or ("", b"", the stream offset of the failure) as soon
    as a byte cannot start or continue a sequence, also in an unfinished tail.
    """
    data = pending + view.tobytes() if pending else view
    try:
        text, consumed = _decode(data, "strict", final)
    except UnicodeDecodeError as exc:
        return "", b"", base + _offset(exc, len(data))
    tail = bytes(data[consumed:])
    if tail:
        bad = _tail_error(tail)
        if bad is not None:
            return "", b"", base + consumed + bad
    return text, tail, None


class _Stream:
    """What the incremental validator and decoder share: the bytes of an unfinished character
    carried to the next chunk, the stream offset, and the offset of the first failure."""

    __slots__ = ("_pending", "_offset", "_error")

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        """Start a new stream (forget carried bytes and any error)."""
        self._pending = b""
        self._offset = 0
        self._error: Optional[int] = None

    @property
    def offset(self) -> int:
        return self._offset

    def _step(self, view: memoryview, final: bool) -> str:
        """Decode the next chunk; on failure the text is "" and ``_error`` is set."""
        base = self._offset - len(self._pending)  # stream offset of the carried bytes
        self._offset += len(view)
        text, self._pending, self._error = _decode_step(self._pending, base, view, final)
        return text


class Utf8Validator(_Stream):
    """Incremental validator for a message that arrives in chunks.

    ``feed`` returns False as soon as the stream so far cannot be the start of valid UTF-8 (and
    keeps returning False until ``reset``); ``finish`` also requires that no sequence is left
    unfinished. ``error_offset`` is then the stream offset of the failure, ``offset`` the number
    of bytes fed since the last reset.
    """

    __slots__ = ()

    @property
    def error_offset(self) -> Optional[int]:
        return self._error

    @property
    def valid(self) -> bool:
        return self._error is None

    def feed(self, chunk: Any) -> bool:
        view = byte_view(chunk)
        if self._error is not None:
            self._offset += len(view)
            return False
        self._step(view, False)
        return self._error is None

    def finish(self) -> bool:
        """True when everything fed is valid and complete."""
        if self._error is None and self._pending:
            self._error = self._offset
        return self._error is None
