"""Text messages: UTF-8 bytes to str and back in one call, pure Python.

``decode_text`` validates and decodes at once; an error is :class:`~wscodec.errors.InvalidUTF8`
(close code 1007) whose ``offset`` is what ``utf8_error_offset`` reports for the same bytes.
``TextDecoder`` does the same for a message that arrives in fragments: a fragment may end inside a
character (the tail is carried to the next one), but an impossible prefix fails at once, with the
offset counted from the start of the message. ``encode_text`` is ``str.encode("utf-8")``: a
surrogate in the str raises the same UnicodeEncodeError.
"""
from __future__ import annotations

import codecs
from typing import Any

from ..errors import InvalidUTF8
from ._buf import byte_view
from .utf8 import _offset, _Stream

__all__ = ["decode_text", "encode_text", "TextDecoder"]

_decode = codecs.utf_8_decode
_encode = str.encode


def _invalid(offset: int, length: int) -> InvalidUTF8:
    """The error for a failure at stream ``offset`` of a message ``length`` bytes long so far."""
    if offset == length:  # no byte was impossible: the message ended inside a character
        return InvalidUTF8("incomplete UTF-8 sequence at the end of a text message", offset=offset)
    return InvalidUTF8("invalid UTF-8 in text message", offset=offset)


def decode_text(data: Any) -> str:
    """``data`` (a bytes-like object) decoded from UTF-8; InvalidUTF8 (1007) if it is not UTF-8."""
    view = byte_view(data)
    try:
        return _decode(view, "strict", True)[0]
    except UnicodeDecodeError as exc:
        raise _invalid(_offset(exc, len(view)), len(view)) from None


def encode_text(text: str) -> bytes:
    """``text`` encoded as UTF-8, exactly as ``str.encode("utf-8")`` (surrogates raise
    UnicodeEncodeError)."""
    if not isinstance(text, str):
        raise TypeError("encode_text() argument must be str, not %s" % type(text).__name__)
    return _encode(text, "utf-8")


class TextDecoder(_Stream):
    """Incremental decoder for a text message that arrives in fragments.

    ``decode(chunk)`` returns the characters completed so far; a character cut by the chunk end is
    carried to the next call. ``decode(chunk, final=True)`` ends the message (an unfinished
    character is then an error) and makes the decoder ready for the next message. After an error
    every call raises the same InvalidUTF8 again until ``reset()``. ``offset`` is the number of
    bytes of the current message decoded so far.
    """

    __slots__ = ()

    def decode(self, chunk: Any, final: bool = False) -> str:
        """The text of ``chunk`` (bytes-like) continuing the message; see the class doc."""
        if self._error is None:
            text = self._step(byte_view(chunk), bool(final))
            if self._error is None:
                if final:
                    self.reset()
                return text
        raise _invalid(self._error, self._offset)
