"""wscodec inside websockets' sans-I/O protocol (``websockets.protocol.Protocol`` and everything
built on it: the asyncio, threading and trio implementations).

``install()`` patches, in place:

* ``Frame.parse``: when the frame header is in the ``StreamReader`` buffer, one ``parse_header``
  call replaces up to three ``read_exact`` round trips of the generator, ``struct.unpack`` and an
  enum lookup; the payload is unmasked straight out of the buffer and cut in one step, once it
  has all arrived (one copy, not two). Extensions (permessage-deflate) still
  decode the frame and ``Frame.check()`` still judges it, as in websockets.
* ``Frame.serialize``: ``build_frame`` writes header, key and masked payload at once (websockets:
  a ``BytesIO`` and four writes), after ``check()`` and the extensions as in websockets.
* ``Close.parse``: ``parse_close`` (the same rules: code ranges, UTF-8 of the reason).
* ``websockets.frames.apply_mask``, with the compiled codec only (websockets' own C speedup
  beats the pure-Python codec): used for frames that arrive in pieces.

Not replaced: ``Close.serialize`` (once per connection; wscodec's ``build_close`` also refuses a
reason over 123 bytes, which websockets reports later, as "control frame too long"), and UTF-8
decoding of messages, done by ``asyncio/messages.py`` with CPython's codec to build the ``str``.

Exactness rule: the fast paths take only what websockets accepts. On anything else (an incomplete
header, a wrong mask bit, a frame over ``max_size``, any wscodec error, an unusual reader or payload
type) websockets' original code runs on untouched state, so its exceptions are raised with its
messages, and the protocol maps them to close codes as before (ProtocolError 1002, PayloadTooBig
1009, UnicodeDecodeError 1007).
"""

from __future__ import annotations

import io
import secrets
import types
from typing import Any, Callable, Generator, List, Optional, Sequence

from ._patch import (
    Codec,
    IntegrationError,
    PatchSet,
    check_version,
    frame_header,
    install_integration,
    installed_integrations,
    uninstall_integration,
    unmasker,
)

__all__ = ["install", "uninstall", "installed", "NAME", "SUPPORTED"]

NAME = "websockets"
MODULE = "websockets.frames"
#: Tested range [low, high): the upstream suite of 16.1.1 and our tests on 16 and 17 (Frame.parse,
#: Frame.serialize and StreamReader look unchanged since 13, but 13-15 are not tested).
SUPPORTED = ((16,), (18,))


def install(codec: Codec = None, *, force: bool = False) -> bool:
    """Patch websockets (idempotent; thread-safe). ``codec``: "c", "python", a backend namespace,
    or None for wscodec's selected backend. True when something changed."""
    return install_integration(NAME, MODULE, _build, codec, force)


def uninstall() -> bool:
    """Put websockets' original functions back (exactly the same objects)."""
    return uninstall_integration(NAME)


def installed() -> Optional[str]:
    """The codec backend name if installed, else None."""
    return installed_integrations().get(NAME)


def _is_plain_bytes(data: Any) -> bool:
    cls = data.__class__
    if cls is bytes or cls is bytearray:
        return True
    return cls is memoryview and data.c_contiguous and data.itemsize == 1 and data.ndim == 1


def _build(patches: PatchSet, codec: types.SimpleNamespace, force: bool) -> None:
    import websockets
    from websockets import frames as wf
    from websockets import streams as wstreams

    check_version(NAME, getattr(websockets, "__version__", "0"), SUPPORTED, force)
    for owner, attr in (
        (wf.Frame, "parse"),
        (wf.Frame, "serialize"),
        (wf.Frame, "check"),
        (wf.Close, "parse"),
        (wstreams.StreamReader, "read_exact"),
    ):
        if attr not in owner.__dict__:
            raise IntegrationError("websockets %s.%s is missing" % (owner.__name__, attr))
    if not isinstance(wf.Frame.__dict__["parse"], classmethod) or "apply_mask" not in wf.__dict__:
        raise IntegrationError("websockets.frames is not what this integration expects")

    parse_header = codec.parse_header
    build_frame = codec.build_frame
    codec_apply_mask = codec.apply_mask
    parse_close = codec.parse_close

    Frame, Close, StreamReader = wf.Frame, wf.Close, wstreams.StreamReader
    OPCODES: List[Any] = [wf.Opcode(i) if i in wf.Opcode._value2member_map_ else None for i in range(16)]
    orig_parse: Callable[..., Generator[None, None, Any]] = wf.Frame.__dict__["parse"].__func__
    orig_close_parse: Callable[..., Any] = wf.Close.__dict__["parse"].__func__
    orig_serialize = wf.Frame.serialize
    orig_apply_mask = wf.apply_mask
    read_exact = StreamReader.read_exact
    unmask = unmasker(codec_apply_mask)

    def finish(cls: Any, h: Any, data: Any, max_size: Optional[int], extensions: Any) -> Any:
        frame = cls(OPCODES[h.opcode], data, h.fin, h.rsv1, h.rsv2, h.rsv3)
        if extensions:
            for extension in reversed(extensions):
                frame = extension.decode(frame, max_size=max_size)
        frame.check()
        return frame

    def fast_parse(
        cls: Any,
        read: Callable[[int], Generator[None, None, Any]],
        *,
        mask: bool,
        max_size: Optional[int] = None,
        extensions: Optional[Sequence[Any]] = None,
    ) -> Generator[None, None, Any]:
        reader = getattr(read, "__self__", None)
        if reader.__class__ is StreamReader and getattr(read, "__func__", None) is read_exact:
            buf = reader.buffer
            try:
                h = parse_header(buf)
            except Exception:
                h = None  # websockets raises its own error below
            if h is not None and h.masked == mask and (max_size is None or h.length <= max_size):
                start = h.header_size
                end = start + h.length
                if end > len(buf):
                    # Header here, payload still arriving (large frames, split reads): consume the
                    # header, as websockets' parser would, and wait for the payload without
                    # parsing the header again; it is then unmasked straight out of the buffer.
                    del buf[:start]
                    start, end = 0, h.length
                    while len(buf) < end and not reader.eof:
                        yield
                    if len(buf) < end:
                        yield from read(end)  # raises websockets' own EOFError
                data: Any
                if mask:
                    data = unmask(buf, start, end, h.mask)
                else:
                    data = buf[start:end]  # bytearray, as read_exact returns it
                del buf[:end]
                return finish(cls, h, data, max_size, extensions)
        return (yield from orig_parse(cls, read, mask=mask, max_size=max_size, extensions=extensions))

    def serialize_generic(frame: Any, mask: bool) -> bytes:
        # websockets' own byte layout, for what build_frame does not take (RSV2/RSV3 set by an
        # extension, a control frame an extension made fragmented or RSV1, odd payload types).
        output = io.BytesIO()
        head1 = (
            (0b10000000 if frame.fin else 0)
            | (0b01000000 if frame.rsv1 else 0)
            | (0b00100000 if frame.rsv2 else 0)
            | (0b00010000 if frame.rsv3 else 0)
            | frame.opcode
        )
        output.write(frame_header(head1, mask, len(frame.data)))
        if mask:
            mask_bytes = secrets.token_bytes(4)
            output.write(mask_bytes)
            output.write(wf.apply_mask(frame.data, mask_bytes))
        else:
            output.write(frame.data)
        return output.getvalue()

    def fast_serialize(self: Any, *, mask: bool, extensions: Optional[Sequence[Any]] = None) -> bytes:
        self.check()
        if extensions:
            for extension in extensions:
                self = extension.encode(self)
        data = self.data
        opcode = self.opcode
        if (
            self.rsv2
            or self.rsv3
            or opcode.__class__ is not wf.Opcode
            or (data.__class__ is not bytes and not _is_plain_bytes(data))
            or (opcode >= 8 and (self.rsv1 or not self.fin or len(data) > 125))
        ):
            return serialize_generic(self, mask)
        # secrets.token_bytes looked up per call, as websockets does (its tests patch it).
        key = secrets.token_bytes(4) if mask else None
        return build_frame(
            opcode, data, fin=True if self.fin else False, rsv1=True if self.rsv1 else False, mask=key
        )

    def fast_close_parse(cls: Any, data: Any) -> Any:
        if (data.__class__ is bytes or data.__class__ is bytearray) and len(data) >= 2:
            try:
                code, reason = parse_close(data)
            except Exception:
                pass  # websockets raises its own ProtocolError or UnicodeDecodeError
            else:
                close = cls(int(code), reason)
                close.check()
                return close
        return orig_close_parse(cls, data)

    def fast_apply_mask(data: Any, mask: Any) -> bytes:
        if len(mask) != 4 or not _is_plain_bytes(data):
            return orig_apply_mask(data, mask)  # websockets' own errors and conversions
        return codec_apply_mask(data, mask)

    fast_parse.__doc__ = orig_parse.__doc__
    fast_serialize.__doc__ = orig_serialize.__doc__
    fast_close_parse.__doc__ = orig_close_parse.__doc__
    patches.set(Frame, "parse", classmethod(fast_parse))
    patches.set(Frame, "serialize", fast_serialize)
    patches.set(Close, "parse", classmethod(fast_close_parse))
    if codec.name == "c":
        patches.set(wf, "apply_mask", fast_apply_mask)
