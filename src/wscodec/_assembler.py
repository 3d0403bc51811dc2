"""Data frames -> messages, for :class:`wscodec.connection.Connection`.

Continuation rules, the message size limit (pushed into the frame decoder so that it is checked
at each frame header), and text checked as it arrives, so that invalid UTF-8 fails in the chunk
that brings the first impossible byte, even inside a frame that is still incomplete (``peek``):
a fragmented message is decoded in one pass by the codec's ``TextDecoder`` fed fragment by
fragment (and chunk by chunk while a frame arrives), its pieces joined once at the end; a
single-frame message is decoded by ``decode_text`` (validated by a ``Utf8Validator`` while it
arrives in pieces: building one str beats joining a large frame's pieces). Compressed messages
(permessage-deflate, RSV1 on the first frame) are inflated frame by frame, the decompressed size
held to the message limit as it grows, and decoded as they are inflated.

With ``fragments`` a message of several frames is not assembled: each frame becomes a
:class:`~wscodec.events.Fragment` as soon as it is complete and valid, so no more than one frame
of a message is ever held.
"""

from __future__ import annotations

import types
from typing import Any, List, Optional, Union

from ._py._buf import byte_view
from .errors import InvalidUTF8, PayloadTooBig, ProtocolError
from .events import Fragment, Message

__all__ = ["MessageAssembler"]

_CONT, _TEXT = 0, 1
_MIN_FRAME_BUDGET = 125  # never squeeze the decoder below a control frame's maximum
_MAX_HEADER = 14  # 2 + 8 (length) + 4 (mask)
_SMALL_PART = 4096  # fragments below this are copied together (see _add_part)
_SMALL_TEXT = 256  # decoded pieces below this many characters are joined in runs (_add_text)
_TEXT_RUN = 64
_UNTRACKED = object()  # the header of a partial frame whose start peek() did not see


class _Partial:
    """The incomplete frame the decoder holds."""

    __slots__ = ("head", "header", "fed", "masker", "active", "check")

    def __init__(self) -> None:
        self.head = b""  # the frame's first bytes while its header is incomplete
        self.header: Any = None
        self.fed = 0  # payload bytes already checked (by the TextDecoder or by check)
        self.masker: Any = None
        self.active = False  # a text payload being decoded (else ignored)
        self.check: Any = None  # a single-frame message's Utf8Validator (see peek)


class MessageAssembler:
    """Turns data frames into messages; raises ProtocolError (1002), InvalidUTF8 (1007) or
    PayloadTooBig (1009). ``decoder`` is the connection's FrameDecoder, whose max_frame_size it
    narrows to what is left of the message budget while a fragmented message is in progress.

    Per-message state (the text decoder, the lists of parts) is created when a message needs it
    and dropped when it ends: an idle assembler holds none.
    """

    __slots__ = (
        "codec",
        "decoder",
        "max_message_size",
        "frame_limit",
        "fragments",
        "_text",
        "_chars",
        "_run",
        "_op",
        "_parts",
        "_tail",
        "_size",
        "_partial",
        "_can_peek",
        "deflate",
        "_compressed",
        "_inflated",
    )

    def __init__(
        self,
        codec: types.SimpleNamespace,
        decoder: Any,
        max_message_size: int,
        frame_limit: int,
        deflate: Any = None,
        fragments: bool = False,
    ) -> None:
        self.codec = codec
        self.decoder = decoder
        self.max_message_size = max_message_size
        self.frame_limit = frame_limit
        self.fragments = fragments  # deliver Fragment events instead of assembling
        self._text: Any = None  # the fragmented text message's TextDecoder, while one is in progress
        self._chars: Optional[List[str]] = None  # its text so far (with fragments: the frame's)
        self._run = 0  # small pieces at the end of _chars not yet joined
        self._op = 0  # opcode of the fragmented message in progress, 0 when none
        self._parts: Optional[List[Any]] = None
        self._tail: Optional[bytearray] = None  # where small fragments are gathered
        self._size = 0
        self._partial: Optional[_Partial] = None
        self._can_peek = hasattr(decoder, "buffered")
        self.deflate = deflate  # a wscodec.deflate.PerMessageDeflate when negotiated
        self._compressed = False  # the message in progress had RSV1 on its first frame
        self._inflated = 0  # its decompressed size so far

    def _start_text(self) -> None:
        """A new text message: a fresh decoder, no text yet."""
        if self._text is None:
            self._text = self.codec.TextDecoder()
        else:
            self._text.reset()
        self._chars, self._run = None, 0

    def _add_text(self, text: str) -> None:
        # Like _add_part: a flood of tiny fragments must not cost a str object per fragment, so
        # runs of small pieces are joined as they accumulate.
        if not text:
            return
        chars = self._chars
        if chars is None:
            chars = self._chars = []
        chars.append(text)
        if len(text) >= _SMALL_TEXT:
            self._run = 0
            return
        self._run += 1
        if self._run == _TEXT_RUN:
            chars[-_TEXT_RUN:] = ["".join(chars[-_TEXT_RUN:])]
            self._run = 0

    def _take_text(self, last: str) -> str:
        """The text gathered so far followed by ``last``; empties the gathering."""
        chars = self._chars
        if chars is None:
            return last
        self._chars, self._run = None, 0
        if last:
            chars.append(last)
        return chars[0] if len(chars) == 1 else "".join(chars)

    def take_skip(self) -> int:
        """Before a feed: payload bytes of the decoder's pending frame already validated (that
        frame is the first one the feed completes)."""
        p = self._partial
        return p.fed if p is not None and p.active else 0

    def frames_completed(self) -> None:
        self._partial = None

    def data_frame(
        self, op: int, fin: bool, payload: Any, skip: int = 0, rsv1: bool = False
    ) -> Union[Message, Fragment, None]:
        """One data frame; returns the Message it completes (or, with ``fragments``, the
        Fragment it is), else None. ``skip``: leading payload bytes already validated while the
        frame was incomplete."""
        if op == _CONT:
            if not self._op:
                raise ProtocolError("continuation frame without a message")
            if rsv1:  # RFC 7692 6.1: only the first frame of a message carries it
                raise ProtocolError("RSV1 set on a continuation frame")
            op = self._op
        else:
            if self._op:
                raise ProtocolError("new data frame inside a fragmented message")
            if rsv1:
                if self.deflate is None:
                    raise ProtocolError("reserved bits set")
                if fin:
                    return Message(self._whole_compressed(op, payload))
                self._compressed, self._inflated = True, 0
            elif fin:  # whole message in one frame: the decoder already held it to the limits
                if op != _TEXT:
                    return Message(payload if type(payload) is bytes else bytes(payload))
                # (peek() validated its start while it was incomplete: checked again here, at
                # GB/s, so that the str is built in one call instead of from pieces)
                return Message(self.codec.decode_text(payload))
            self._op = op
            self._size = 0
            if op == _TEXT and not skip:
                self._start_text()
        size = self._size + len(payload)
        if size > self.max_message_size:
            raise PayloadTooBig("message too big")
        if self._compressed:  # the wire size above keeps the frame budget; this, the real size
            payload = self.deflate.decompress(payload, fin, self.max_message_size - self._inflated)
            self._inflated += len(payload)
        if op == _TEXT:  # InvalidUTF8 at the first impossible byte, even mid-fragment
            text = self._text.decode(memoryview(payload)[skip:] if skip else payload, fin)
        self._size = size
        if self.fragments:
            piece: Union[str, bytes]
            if op == _TEXT:
                piece = self._take_text(text)
            else:
                piece = payload if type(payload) is bytes else bytes(payload)
        elif op == _TEXT:
            self._add_text(text)
        else:
            self._add_part(payload)
        if not fin:
            # Next frames may only fill what is left of the budget (checked at their header).
            self._set_frame_budget(
                min(self.frame_limit, max(self.max_message_size - size, _MIN_FRAME_BUDGET))
            )
            return Fragment(piece, False) if self.fragments else None
        if self.fragments:
            message: Union[str, bytes, None] = None
        elif op == _TEXT:
            message = self._take_text("")
        else:
            message = b"".join(self._parts) if self._parts is not None else b""
        self._compressed = False  # complete: the inflater keeps its context (if taken over)
        self.reset()
        if message is None:
            return Fragment(piece, True)
        return Message(message)

    def _whole_compressed(self, op: int, payload: Any) -> Union[str, bytes]:
        data = self.deflate.decompress(payload, True, self.max_message_size)
        return self.codec.decode_text(data) if op == _TEXT else data

    def _add_part(self, payload: Any) -> None:
        # Small fragments are gathered in one bytearray: a flood of 1-byte or empty fragments
        # costs its payload, not an object and a list slot per fragment (40x the message size).
        parts = self._parts
        if parts is None:
            parts = self._parts = []
        if len(payload) >= _SMALL_PART:
            parts.append(payload)
            self._tail = None
        elif len(payload):
            if self._tail is None:
                self._tail = bytearray()
                parts.append(self._tail)
            self._tail += payload

    def reset(self) -> None:
        """Drop the message in progress (and the per-message state)."""
        if self._compressed:
            self._compressed = False
            if self._op:  # abandoned half-way: its inflater state is of no use
                self.deflate.reset_decompressor()
        if self._op or self._parts is not None:
            self._set_frame_budget(self.frame_limit)
        self._op = 0
        self._parts = None
        self._tail = None
        self._text = None
        self._chars, self._run = None, 0
        self._size = 0

    def _set_frame_budget(self, limit: int) -> None:
        try:
            self.decoder.max_frame_size = limit
        except (AttributeError, TypeError):  # read-only: the total is still checked per frame
            pass

    def peek(self, data: Any, completed: bool) -> None:
        """After a feed of ``data`` (``completed``: it finished some frame): validate the text
        payload of the frame the decoder still holds, so that invalid UTF-8 fails before the rest
        of a large frame arrives. Raises InvalidUTF8."""
        buffered = self.decoder.buffered if self._can_peek else 0
        if not buffered:
            self._partial = None
            return
        view = byte_view(data)  # counted in bytes, as the decoder counts them
        p = self._partial
        if completed or p is None:  # a new incomplete frame starts in this chunk
            p = self._partial = _Partial()
            if buffered > len(view):
                p.header = _UNTRACKED  # its start is not in this chunk: nothing to track
                return
            raw = view[len(view) - buffered :]
        else:
            raw = view
        if p.header is None:
            head = p.head + raw[:_MAX_HEADER].tobytes()
            try:
                header = self.codec.parse_header(head)
            except ProtocolError:
                header = None  # the decoder reports it
            if header is None:
                p.head = head
                return
            raw = raw[header.header_size - len(p.head) :]
            p.header, p.head = header, b""
            if header.length == 0 or header.rsv1 or self._compressed:
                return  # compressed text is validated once inflated
            if header.opcode == _TEXT and not self._op:
                if header.fin:  # validated now, decoded at once by decode_text when complete
                    p.check = self.codec.Utf8Validator()
                else:
                    self._start_text()
            elif not (header.opcode == _CONT and self._op == _TEXT):
                return  # only text payloads need an early look
            p.active = True
            if header.mask is not None:
                p.masker = self.codec.Masker(header.mask)
        if not p.active or not len(raw):
            return
        chunk = p.masker.apply(raw) if p.masker is not None else raw
        p.fed += len(raw)
        if p.check is None:
            self._add_text(self._text.decode(chunk))  # InvalidUTF8 at the first impossible byte
        elif not p.check.feed(chunk):
            raise InvalidUTF8("invalid UTF-8 in text message", offset=p.check.error_offset)
