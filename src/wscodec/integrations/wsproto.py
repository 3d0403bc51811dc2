"""wscodec inside wsproto: the same events, errors and partial frames, fewer Python steps per frame.

``install()`` patches methods of ``wsproto.connection.Connection`` and ``wsproto.frame_protocol``
in place (every ``Connection`` and ``FrameProtocol``, existing or new, uses them; the classes,
events, ``Opcode``, ``CloseReason`` and ``ParseFailed`` stay wsproto's own):

* ``Connection.events``: a final text or binary frame that is complete in the buffer becomes its
  ``TextMessage``/``BytesMessage`` in one step (wsproto: four nested generators and a ``Frame``
  per step); every other frame is one step of wsproto's own parser, mapped to its event as
  wsproto maps it, and that parser still stops for good after a close or an error.
* ``Connection.send``: a whole ``Message``/``BytesMessage``/``TextMessage`` in the OPEN state is one
  ``build_frame`` call (wsproto: ``send`` -> ``send_data`` -> ``_serialize_frame`` and a copy); a
  server's ``str`` goes into the frame as it is, a client's is encoded by ``encode_text``.
* ``FrameDecoder.process_buffer``: a frame that is entirely in the buffer, on a connection without
  extensions, is parsed with one ``parse_header`` call, unmasked with one ``apply_mask`` call and
  cut from the buffer once (wsproto: ~8 buffer slices and commits, a namedtuple per step, an XOR
  masker object). Anything else (a partial frame, a connection with extensions) runs wsproto's own
  method, which then uses the two patches below.
* ``FrameDecoder.parse_header``: the header in one call, with the same state, the same extension
  hooks called the same number of times in the same order.
* ``XorMaskerSimple.process``: ``mask_inplace`` on the copy wsproto makes anyway (wsproto: four
  ``translate`` passes).
* ``FrameProtocol._serialize_frame``: ``build_frame`` (header, key and masked payload in one
  buffer) when no extension transforms the payload.
* ``MessageDecoder.process_frame``: a complete one-frame text message is decoded by the codec's
  ``decode_text`` (validation and the str in one pass; wsproto: an incremental CPython decoder per
  text frame); invalid UTF-8 goes to wsproto's method, so the ParseFailed is wsproto's own.
  Fragmented messages are wsproto's own code.

Both take only plain ``Connection``/``FrameProtocol`` instances without extensions (subclasses
and permessage-deflate connections run wsproto's methods).

Exactness rule: the fast paths only take frames that wsproto accepts. Whenever wscodec sees
anything unusual (a reserved opcode, a non-minimal length, a wrong mask bit, an error of any
kind, a payload type other than bytes/bytearray) it hands the untouched state to wsproto's
original method, so every ``ParseFailed`` (message and code) and every edge case is wsproto's.
"""

from __future__ import annotations

import os
import types
from typing import Any, List, Optional

from ..errors import InvalidUTF8
from ._patch import (
    Codec,
    IntegrationError,
    PatchSet,
    check_version,
    install_integration,
    installed_integrations,
    uninstall_integration,
    unmasker,
    copy_out,
    frame_header,
    VIEW_THRESHOLD,
)

__all__ = ["install", "uninstall", "installed", "NAME", "SUPPORTED"]

NAME = "wsproto"
MODULE = "wsproto.frame_protocol"
#: Tested range: [low, high). 1.2 returned bytes from XorMaskerSimple.process, 1.3 bytearray.
SUPPORTED = ((1, 3), (2,))


def install(codec: Codec = None, *, force: bool = False) -> bool:
    """Patch wsproto (idempotent; thread-safe). ``codec``: "c", "python", a backend namespace, or
    None for wscodec's selected backend. True when something changed."""
    return install_integration(NAME, MODULE, _build, codec, force)


def uninstall() -> bool:
    """Put wsproto's original methods back (exactly the same objects). True if it was installed."""
    return uninstall_integration(NAME)


def installed() -> Optional[str]:
    """The codec backend name if installed, else None."""
    return installed_integrations().get(NAME)


def _check_structure(fp: types.ModuleType) -> None:
    wanted = {
        "FrameDecoder": ("process_buffer", "parse_header", "extension_processing"),
        "MessageDecoder": ("process_frame",),
        "FrameProtocol": ("_serialize_frame",),
        "XorMaskerSimple": ("process",),
        "XorMaskerNull": ("process",),
        "Buffer": ("consume_exactly", "commit", "rollback"),
        "Frame": (),
        "Header": (),
        "RsvBits": (),
        "Opcode": (),
        "ParseFailed": (),
    }
    for cls, methods in wanted.items():
        owner = getattr(fp, cls, None)
        if owner is None or any(m not in owner.__dict__ for m in methods):
            raise IntegrationError("wsproto.frame_protocol.%s is not what this integration expects" % cls)
    if fp.Frame._fields != ("opcode", "payload", "frame_finished", "message_finished"):
        raise IntegrationError("wsproto.frame_protocol.Frame has other fields")


def _build(patches: PatchSet, codec: types.SimpleNamespace, force: bool) -> None:
    import wsproto
    from wsproto import frame_protocol as fp

    check_version(NAME, getattr(wsproto, "__version__", "0"), SUPPORTED, force)
    _check_structure(fp)

    parse_header = codec.parse_header
    apply_mask = codec.apply_mask
    mask_inplace = codec.mask_inplace
    build_frame = codec.build_frame
    decode_text = codec.decode_text
    encode_text = codec.encode_text

    unmask = unmasker(apply_mask)
    Opcode = fp.Opcode
    OPCODES: List[Any] = [Opcode(i) if i in Opcode._value2member_map_ else None for i in range(16)]
    TEXT, BINARY = Opcode.TEXT, Opcode.BINARY
    Frame, Header, RsvBits, Buffer = fp.Frame, fp.Header, fp.RsvBits, fp.Buffer
    XorMaskerSimple, XorMaskerNull = fp.XorMaskerSimple, fp.XorMaskerNull
    NO_RSV = RsvBits(False, False, False)

    orig_process_buffer = fp.FrameDecoder.process_buffer
    orig_parse_header = fp.FrameDecoder.parse_header
    orig_process_frame = fp.MessageDecoder.process_frame
    orig_serialize = fp.FrameProtocol._serialize_frame
    orig_masker_process = XorMaskerSimple.process

    def header(decoder: Any) -> Any:
        """wscodec's FrameHeader for a complete header that wsproto accepts up to its extension
        check; None whenever wsproto's own code must decide (incomplete, invalid, unusual)."""
        buffer = decoder.buffer
        if buffer.__class__ is not Buffer or buffer.bytes_used:
            return None
        buf = buffer.buffer
        try:
            h = parse_header(buf)
        except Exception:  # wscodec's ProtocolError, or anything unforeseen
            return None  # wsproto raises its own ParseFailed for it
        if h is None:
            return None
        if h.masked:
            if decoder.client:
                return None
        elif not decoder.client:
            return None
        short = buf[1] & 0x7F  # wsproto rejects lengths not in their shortest form
        if (short == 126 and h.length <= 125) or (short == 127 and h.length <= 0xFFFF):
            return None
        return h

    def fast_parse_header(self: Any) -> bool:
        h = header(self)
        if h is None:
            return orig_parse_header(self)
        opcode = OPCODES[h.opcode]
        rsv = RsvBits(h.rsv1, h.rsv2, h.rsv3) if (h.rsv1 or h.rsv2 or h.rsv3) else NO_RSV
        # The RSV check and the extensions' header hooks, at the point wsproto calls them.
        self.extension_processing(opcode, rsv, h.length)
        del self.buffer.buffer[: h.header_size]
        self.masker = XorMaskerSimple(bytearray(h.mask)) if h.masked else XorMaskerNull()
        self.header = Header(h.fin, rsv, opcode, h.length, None)
        self.effective_opcode = opcode
        self.payload_required = h.length if h.opcode >= 8 else 0
        self.payload_consumed = 0
        return True

    def take_frame(decoder: Any, data_only: bool) -> Any:
        """The next frame, when it is complete in the buffer of a decoder without extensions or a
        frame in progress, and wsproto would accept its header; None (nothing consumed)
        otherwise. ``data_only``: only a final text or binary frame."""
        h = header(decoder)
        if h is None or h.rsv1 or h.rsv2 or h.rsv3:
            return None
        if data_only and (not h.fin or (h.opcode != 1 and h.opcode != 2)):
            return None
        buf = decoder.buffer.buffer
        start = h.header_size
        length = h.length
        end = start + length
        if end > len(buf):
            return None  # partial frame: wsproto's own partial delivery
        if h.masked:
            payload = unmask(buf, start, end, h.mask)
        else:
            payload = bytes(buf[start:end]) if length < VIEW_THRESHOLD else copy_out(buf, start, end)
        del buf[:end]
        # The state wsproto leaves after a finished frame.
        decoder.payload_required = length if h.opcode >= 8 else 0
        decoder.payload_consumed = length
        return Frame(OPCODES[h.opcode], payload, True, h.fin)

    def fast_process_buffer(self: Any) -> Any:
        if self.header is not None or self.extensions:
            return orig_process_buffer(self)
        frame = take_frame(self, False)
        return orig_process_buffer(self) if frame is None else frame

    def fast_masker_process(self: Any, data: Any) -> bytearray:
        key = self._masking_key
        if key.__class__ not in (bytes, bytearray) or len(key) != 4:
            return orig_masker_process(self, data)
        data = bytearray(data)
        if data:
            mask_inplace(data, key)
            rotation = len(data) % 4
            self._masking_key = key[rotation:] + key[:rotation]
        return data

    def fast_process_frame(self: Any, frame: Any) -> Any:
        if self.opcode is None and frame.frame_finished and frame.message_finished:
            opcode = frame.opcode
            if opcode is BINARY:
                return Frame(opcode, frame.payload, True, True)
            if opcode is TEXT and frame.payload.__class__ is bytes:
                try:
                    return Frame(opcode, decode_text(frame.payload), True, True)
                except InvalidUTF8:
                    pass  # wsproto raises its ParseFailed with its message
        return orig_process_frame(self, frame)

    def fast_serialize_frame(self: Any, opcode: Any, payload: Any = b"", fin: bool = True) -> bytearray:
        if (
            self.extensions
            or payload.__class__ not in (bytes, bytearray)
            or (fin is not True and fin is not False)
            or opcode.__class__ is not Opcode
            or (opcode >= 8 and (len(payload) > 125 or not fin))
        ):
            return orig_serialize(self, opcode, payload, fin)
        # os.urandom looked up per call, as wsproto does, so that tests can patch it.
        key = os.urandom(4) if self.client else None
        if len(payload) < VIEW_THRESHOLD:
            return bytearray(build_frame(opcode, payload, fin=fin, mask=key))
        # Large: header, then the payload copied once into the frame and masked there
        # (build_frame's bytes converted to a bytearray would copy the payload twice).
        frame = bytearray(frame_header((0x80 if fin else 0) | opcode, key is not None, len(payload)))
        if key is not None:
            frame += key
        start = len(frame)
        frame += payload
        if key is not None:
            with memoryview(frame) as view, view[start:] as part:
                mask_inplace(part, key)
        return frame

    from wsproto import connection as wc
    from wsproto import events as we

    Connection, FrameProtocol, ParseFailed = wc.Connection, fp.FrameProtocol, fp.ParseFailed
    OPEN, LOCAL_CLOSING, CLOSED, REMOTE_CLOSING = (
        wc.ConnectionState.OPEN,
        wc.ConnectionState.LOCAL_CLOSING,
        wc.ConnectionState.CLOSED,
        wc.ConnectionState.REMOTE_CLOSING,
    )
    BytesMessage, TextMessage, CloseConnection = we.BytesMessage, we.TextMessage, we.CloseConnection
    Message = we.Message
    Ping, Pong = we.Ping, we.Pong
    PING, PONG, CLOSE = Opcode.PING, Opcode.PONG, Opcode.CLOSE
    orig_events = Connection.events
    orig_send = Connection.send

    def event_for(conn: Any, frame: Any) -> Any:
        """wsproto's Connection.events mapping of one frame to one event (None: no event)."""
        opcode = frame.opcode
        if opcode is PING:
            return Ping(payload=frame.payload)
        if opcode is PONG:
            return Pong(payload=frame.payload)
        if opcode is CLOSE:
            code, reason = frame.payload
            conn._state = CLOSED if conn.state is LOCAL_CLOSING else REMOTE_CLOSING
            return CloseConnection(code=code, reason=reason)
        if opcode is TEXT:
            return TextMessage(
                data=frame.payload, frame_finished=frame.frame_finished, message_finished=frame.message_finished
            )
        if opcode is BINARY:
            return BytesMessage(
                data=frame.payload, frame_finished=frame.frame_finished, message_finished=frame.message_finished
            )
        return None

    def fast_events(self: Any) -> Any:
        # wsproto: events() -> received_frames() -> _parse_more generator -> process_buffer ->
        # process_frame, per frame. Here, a final text or binary frame complete in the buffer
        # becomes its event in one step; anything else is one step of wsproto's own generator.
        queued = self._events
        while queued:
            yield queued.popleft()
        proto = self._proto
        if (
            self.__class__ is not Connection
            or proto.__class__ is not FrameProtocol
            or proto.extensions
            # After the peer's close (or EOF) wsproto's parser may be finished without showing
            # it yet (a consumer that stopped right after the close event): its own code decides.
            or (self._state is not OPEN and self._state is not LOCAL_CLOSING)
        ):
            yield from orig_events(self)
            return
        parse_more = proto._parse_more
        decoder = proto._frame_decoder
        messages = proto._message_decoder
        try:
            # A finished generator: wsproto reads nothing more (after a close or an error).
            while parse_more.gi_frame is not None:
                frame = None
                if decoder.header is None and messages.opcode is None and not decoder.extensions:
                    frame = take_frame(decoder, True)
                if frame is not None:
                    try:
                        frame = messages.process_frame(frame)
                    except ParseFailed:
                        parse_more.close()  # as wsproto's generator dies with the error
                        raise
                else:
                    frame = next(parse_more, None)
                    if frame is None:  # more data needed, or the parser has finished
                        return
                    if frame.opcode is CLOSE:
                        parse_more.close()  # wsproto's generator ends after a close frame
                event = event_for(self, frame)
                if event is not None:
                    yield event
        except ParseFailed as exc:
            yield CloseConnection(code=exc.code, reason=str(exc))

    def fast_send(self: Any, event: Any) -> bytes:
        cls = event.__class__
        # Message itself too: uvicorn sends wsproto.events.Message (the opcode follows the data).
        if (cls is BytesMessage or cls is TextMessage or cls is Message) and event.message_finished is True:
            proto = self._proto
            if (
                self._state is OPEN
                and self.__class__ is Connection
                and proto.__class__ is FrameProtocol
                and not proto.extensions
                and proto._outbound_opcode is None
            ):
                data = event.data
                if data.__class__ is bytes or data.__class__ is bytearray:
                    opcode = BINARY
                elif data.__class__ is str:
                    if not proto.client:  # the str encoded straight into the frame
                        return build_frame(TEXT, data)
                    # encoded before the key is drawn, as wsproto does (a lone surrogate raises
                    # UnicodeEncodeError with os.urandom untouched)
                    opcode, data = TEXT, encode_text(data)
                else:
                    return orig_send(self, event)
                # os.urandom looked up per call, as wsproto does, so that tests can patch it.
                return build_frame(opcode, data, mask=os.urandom(4) if proto.client else None)
        return orig_send(self, event)

    fast_events.__doc__ = orig_events.__doc__
    fast_send.__doc__ = orig_send.__doc__
    patches.set(Connection, "events", fast_events)
    patches.set(Connection, "send", fast_send)
    patches.set(fp.FrameDecoder, "process_buffer", fast_process_buffer)
    patches.set(fp.FrameDecoder, "parse_header", fast_parse_header)
    patches.set(fp.XorMaskerSimple, "process", fast_masker_process)
    patches.set(fp.MessageDecoder, "process_frame", fast_process_frame)
    patches.set(fp.FrameProtocol, "_serialize_frame", fast_serialize_frame)
