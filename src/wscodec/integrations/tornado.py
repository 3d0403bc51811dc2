"""wscodec inside tornado's WebSocket implementation (``tornado.websocket.WebSocketProtocol13``:
``WebSocketHandler`` servers such as Jupyter's, and ``websocket_connect`` clients).

``install()`` patches, in place:

* ``WebSocketProtocol13._receive_frame``: a frame whose header is in the stream's read buffer is
  parsed with one ``parse_header`` call and, when its payload is there too, unmasked straight
  out of the buffer with one ``apply_mask`` call (tornado: four ``read_bytes`` round trips per
  frame, each a Future, and ``struct.unpack``). A payload still arriving is read with tornado's
  own ``_read_bytes``. When the buffer is empty, the first two bytes are awaited with tornado's
  read, as tornado does, and the header is then parsed in one piece.
* ``WebSocketProtocol13._handle_message``: text messages decoded by the codec's ``decode_text``
  (validation and the str in one pass; tornado: CPython's codec), through ``text_steps`` below;
  everything else is tornado's own method.
* ``WebSocketProtocol13.write_message``: ``str`` messages are encoded by the codec's
  ``encode_text`` and framed by ``_write_frame``; the returned Future is relayed from the
  stream's write by a callback (tornado: a Task and a coroutine per message). It completes on
  the same loop iteration as tornado's, with the same result or exception
  (``WebSocketClosedError`` for a closed stream). It is a Future, the documented return type,
  not a Task; cancelling it leaves the stream's own write Future alone (tornado's Task cancels
  that one once it waits for it).
* ``WebSocketProtocol13._write_frame``: ``build_frame`` writes header, key and masked payload
  at once (tornado: ``struct.pack`` and three concatenations).
* ``tornado.websocket._websocket_mask``, with the compiled codec only (tornado's own C speedup
  beats the pure-Python codec): used by tornado's code for the frames left to it.

Exactness rule: the fast paths take only frames tornado accepts and that are ordinary. Anything
else (a header not yet complete, RSV bits tornado rejects, a reserved opcode, a fragmented or
over-long control frame, a continuation without a message, a data frame inside a fragmented
message, a frame over ``max_message_size``, an unusual stream or payload type) runs tornado's
original code on the untouched buffer, so its aborts, its ``close(1009, "message too big")`` and
every edge case stay tornado's. Messages are delivered whole, as tornado delivers them.
"""

from __future__ import annotations

import asyncio
import os
import types
from typing import Any, Callable, Optional, Tuple

from ._patch import (
    Codec,
    IntegrationError,
    codec_text,
    PatchSet,
    check_version,
    copy_out,
    install_integration,
    installed_integrations,
    uninstall_integration,
    unmasker,
    VIEW_THRESHOLD,
)

__all__ = ["install", "uninstall", "installed", "NAME", "SUPPORTED", "text_steps"]

NAME = "tornado"
MODULE = "tornado.websocket"
#: Tested range [low, high): our tests and tornado's own websocket tests on 6.5.x and 6.6.x.
SUPPORTED = ((6, 5), (6, 7))


def install(codec: Codec = None, *, force: bool = False) -> bool:
    """Patch tornado (idempotent; thread-safe). ``codec``: "c", "python", a backend namespace, or
    None for wscodec's selected backend. True when something changed."""
    return install_integration(NAME, MODULE, _build, codec, force)


def uninstall() -> bool:
    """Put tornado's original functions back (exactly the same objects). True if it was installed."""
    return uninstall_integration(NAME)


def installed() -> Optional[str]:
    """The codec backend name if installed, else None."""
    return installed_integrations().get(NAME)


def text_steps(codec: types.SimpleNamespace) -> Tuple[Callable[[bytes], str], Callable[[str], bytes]]:
    """The (decode, encode) functions the patched methods use: the codec's one-pass
    ``decode_text``/``encode_text``. ``decode`` raises UnicodeDecodeError (a ValueError, on which
    tornado aborts the connection) exactly as ``bytes.decode``; ``encode`` UnicodeEncodeError for
    lone surrogates, as ``tornado.escape.utf8`` does."""
    return codec_text(codec)


_USED = ("_receive_frame", "_handle_message", "write_message", "_write_frame", "_read_bytes")


def _check_structure(ws: types.ModuleType, iostream: types.ModuleType) -> None:
    proto = getattr(ws, "WebSocketProtocol13", None)
    if proto is None or any(m not in proto.__dict__ for m in _USED):
        raise IntegrationError("tornado.websocket.WebSocketProtocol13 is not what this integration expects")
    if "_websocket_mask" not in ws.__dict__ or not hasattr(ws, "WebSocketClosedError"):
        raise IntegrationError("tornado.websocket is not what this integration expects")
    base = getattr(iostream, "BaseIOStream", None)
    wanted = ("read_bytes", "_maybe_add_error_listener", "_consume", "_find_read_pos")
    if base is None or any(m not in base.__dict__ for m in wanted):
        raise IntegrationError("tornado.iostream.BaseIOStream is not what this integration expects")


def _build(patches: PatchSet, codec: types.SimpleNamespace, force: bool) -> None:
    import tornado
    from tornado import iostream
    from tornado import websocket as ws

    check_version(NAME, getattr(tornado, "version", "0"), SUPPORTED, force)
    _check_structure(ws, iostream)

    parse_header = codec.parse_header
    build_frame = codec.build_frame
    apply_mask = codec.apply_mask
    unmask = unmasker(apply_mask)
    decode, encode = text_steps(codec)

    Protocol = ws.WebSocketProtocol13
    WebSocketClosedError = ws.WebSocketClosedError
    StreamClosedError = iostream.StreamClosedError
    #: streams whose read buffer the fast path may read (their own subclasses could buffer
    #: differently)
    STREAMS = (iostream.IOStream, iostream.SSLIOStream)
    orig_receive_frame = Protocol._receive_frame
    orig_handle_message = Protocol._handle_message
    orig_write_message = Protocol.write_message
    orig_write_frame = Protocol._write_frame
    orig_read_bytes = Protocol._read_bytes
    orig_mask = ws._websocket_mask
    FRAME_OPCODES = (0, 1, 2, 8, 9, 10)

    def usable(self: Any, stream: Any) -> bool:
        """Whether the fast path may read the stream's buffer itself: a plain stream with no read
        in progress, and tornado's own ``_read_bytes``."""
        return (
            stream.__class__ in STREAMS
            and stream._read_future is None
            and not stream._user_read_buffer
            and self.__class__._read_bytes is orig_read_bytes
        )

    def ordinary(self: Any, h: Any) -> bool:
        """Whether tornado would read this frame whole and act on it: else its own code runs
        (and aborts, or closes with 1009, at the point it does)."""
        if h.rsv2 or h.rsv3:
            return False
        opcode = h.opcode
        if h.rsv1 and (self._decompressor is None or opcode == 0 or opcode >= 8):
            return False  # tornado aborts (or, for a control frame, takes an odd path)
        fragments = self._fragmented_message_buffer
        if opcode == 0:
            if fragments is None:
                return False  # tornado aborts after the payload
        elif opcode < 8 and fragments is not None:
            return False  # tornado aborts after the payload
        total = h.length if fragments is None else h.length + len(fragments)
        return total <= self.params.max_message_size  # else tornado's close(1009) and abort

    def put_back(self: Any, stream: Any, head: bytes) -> None:
        """Undo the consumption of ``head`` (the first header bytes read while waiting), so that
        tornado's own code reads the frame from its start."""
        if head:
            stream._read_buffer[:0] = head
            stream._read_buffer_size += len(head)
            self._wire_bytes_in -= len(head)

    async def fast_receive_frame(self: Any) -> None:
        stream = self.stream
        if not usable(self, stream):
            return await orig_receive_frame(self)
        buf = stream._read_buffer
        if stream._read_buffer_size >= 2:
            head = b""
            try:
                h = parse_header(buf)
            except Exception:
                h = None  # a reserved opcode, a bad control frame...: tornado decides
        else:
            # Nothing to parse: wait for the first two bytes with tornado's read, as tornado
            # does (its first read, which fills the buffer), then parse the header in one piece.
            head = await self._read_bytes(2)
            buf = stream._read_buffer
            try:
                h = parse_header(head + bytes(buf[:12]))
            except Exception:
                h = None
            if h is None:
                put_back(self, stream, head)
                return await orig_receive_frame(self)
        if h is None:
            return await orig_receive_frame(self)
        if not ordinary(self, h):
            put_back(self, stream, head)
            return await orig_receive_frame(self)
        opcode = h.opcode
        fin = h.fin
        length = h.length
        fragments = self._fragmented_message_buffer
        # From here on, tornado's own steps on the same values.
        if self._decompressor is not None and opcode != 0:
            self._frame_compressed = h.rsv1
        if length < 126:
            self._frame_length = length
        mask = h.mask
        if mask is not None:
            self._frame_mask = mask
        start = h.header_size - len(head)  # head: bytes of the header already consumed
        end = start + length
        data: Any
        if end <= stream._read_buffer_size:
            if mask is not None:
                data = unmask(buf, start, end, mask)
            else:
                data = bytes(buf[start:end]) if length < VIEW_THRESHOLD else copy_out(buf, start, end)
            del buf[:end]
            stream._read_buffer_size -= end
            self._wire_bytes_in += end
            stream._maybe_add_error_listener()  # as each of tornado's reads does
        else:
            del buf[:start]
            stream._read_buffer_size -= start
            self._wire_bytes_in += start
            # As tornado's read of the header's last bytes does: with the buffer now empty, it
            # starts listening for reads, so an EOF that arrives while the payload read is
            # satisfied inline and the message handler runs closes the stream (and drops frames
            # still buffered) exactly when it does with tornado alone.
            stream._maybe_add_error_listener()
            # The payload with tornado's read: its last chunk brings the next frame's header
            # along. (read_into a buffer of the payload's size would save a copy, but a fresh
            # large buffer per message costs more in page faults than the copy.)
            data = await self._read_bytes(length)
            if mask is not None:
                data = apply_mask(data, mask)
        if opcode == 0:
            fragments.extend(data)
            if fin:
                opcode = self._fragmented_message_opcode
                data = bytes(fragments)
                self._fragmented_message_buffer = None
        elif opcode < 8 and not fin:
            self._fragmented_message_opcode = opcode
            self._fragmented_message_buffer = bytearray(data)
        if fin:
            handled = self._handle_message(opcode, data)
            if handled is not None:
                await handled

    def fast_handle_message(self: Any, opcode: int, data: bytes) -> Any:
        if opcode != 1 or self.client_terminated:
            return orig_handle_message(self, opcode, data)
        if self._frame_compressed:
            try:
                data = self._decompressor.decompress(data)
            except ws._DecompressTooLargeError:
                self.close(1009, "message too big after decompression")
                self._abort()
                return None
        self._message_bytes_in += len(data)
        try:
            decoded = decode(data)
        except ValueError:  # UnicodeDecodeError
            self._abort()
            return None
        return self._run_callback(self.handler.on_message, decoded)

    def relay(written: Any) -> Any:
        """A Future for ``written`` (the stream's write), resolved one loop iteration after it
        as tornado's Task is, with StreamClosedError turned into WebSocketClosedError."""
        result = written.get_loop().create_future()

        def done(f: Any) -> None:
            if result.cancelled():
                return
            if f.cancelled():
                result.cancel()
                return
            exc = f.exception()
            if exc is None:
                result.set_result(None)
            elif isinstance(exc, StreamClosedError):
                error = WebSocketClosedError()
                error.__context__ = exc
                result.set_exception(error)
            else:
                result.set_exception(exc)

        written.add_done_callback(done)
        return result

    def fast_write_message(self: Any, message: Any, binary: bool = False) -> Any:
        cls = message.__class__
        if cls is str:
            data = encode(message)
        elif cls is bytes:
            data = message
        else:  # dict (JSON), None, other types: tornado's conversions and errors
            return orig_write_message(self, message, binary)
        self._message_bytes_out += len(data)
        flags = 0
        if self._compressor:
            data = self._compressor.compress(data)
            flags = 0x40
        try:
            written = self._write_frame(True, 0x2 if binary else 0x1, data, flags=flags)
        except StreamClosedError:
            raise WebSocketClosedError()
        if isinstance(written, asyncio.Future):
            return relay(written)

        async def wrapper() -> None:  # tornado's, for a _write_frame that returns something else
            try:
                await written
            except StreamClosedError:
                raise WebSocketClosedError()

        return asyncio.ensure_future(wrapper())

    def fast_write_frame(self: Any, fin: bool, opcode: int, data: bytes, flags: int = 0) -> Any:
        if (
            data.__class__ is not bytes
            or opcode.__class__ is not int
            or opcode not in FRAME_OPCODES
            or (opcode >= 8 and (not fin or flags or len(data) > 125))
            or (flags != 0 and flags != 0x40)
        ):
            return orig_write_frame(self, fin, opcode, data, flags)
        # os.urandom looked up per call, as tornado does (tests patch it).
        key = os.urandom(4) if self.mask_outgoing else None
        frame = build_frame(opcode, data, fin=True if fin else False, rsv1=flags == 0x40, mask=key)
        self._wire_bytes_out += len(frame)
        return self.stream.write(frame)

    def fast_websocket_mask(mask: Any, data: Any) -> bytes:
        if mask.__class__ is bytes and len(mask) == 4 and data.__class__ is bytes:
            return apply_mask(data, mask)
        return orig_mask(mask, data)  # tornado's own errors and conversions

    for name, fast, orig in (
        ("_receive_frame", fast_receive_frame, orig_receive_frame),
        ("_handle_message", fast_handle_message, orig_handle_message),
        ("write_message", fast_write_message, orig_write_message),
        ("_write_frame", fast_write_frame, orig_write_frame),
    ):
        fast.__doc__ = orig.__doc__
        patches.set(Protocol, name, fast)
    if codec.name == "c":
        patches.set(ws, "_websocket_mask", fast_websocket_mask)
