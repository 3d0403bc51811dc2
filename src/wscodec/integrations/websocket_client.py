"""wscodec inside websocket-client (``import websocket``): the same frames, exceptions and socket
reads, fewer Python steps and no pure-Python masking or UTF-8 validation.

websocket-client masks with ``int.from_bytes``/``to_bytes`` over the whole payload and validates
UTF-8 with a byte-by-byte Python DFA when the unmaintained ``wsaccel`` is not installed (about
70% of the client's CPU for a 1 MiB binary message, and nearly all of it for text).
``install()`` patches, in place (every ``WebSocket`` and ``WebSocketApp``, existing or new):

* ``ABNF.format``: ``build_frame`` writes header, key and masked payload in one buffer. The key
  comes from the frame's ``get_mask_key`` as before; when that is ``os.urandom`` (the default),
  from wscodec's buffered CSPRNG pool instead (fork-safe; still ``os.urandom`` per frame when a
  test has replaced it).
* ``ABNF.mask``: ``apply_mask`` (used for masked frames a server sends, and by applications).
* ``frame_buffer.recv_frame`` and ``recv_strict``: the same socket reads in the same order and
  sizes (exactly the frame's bytes, never more: ``WebSocketApp`` waits on the socket between
  frames) and the same state after each step (a timeout mid-frame resumes where it stopped),
  in fewer Python calls.
* ``validate_utf8`` as ``websocket._abnf`` uses it (close reasons, whole text messages): wscodec's
  validator, with websocket-client's meaning kept: only a byte that cannot start or continue a
  sequence makes it False; a message that ends inside a sequence passes, and ``WebSocket.recv``
  then raises its ``UnicodeDecodeError`` as before.
* ``WebSocket.recv`` and ``ABNF.create_frame``: text decoded and encoded by the codec's
  ``decode_text``/``encode_text`` (one pass instead of CPython's codec), with ``bytes.decode``'s
  own UnicodeDecodeError (the same arguments) for invalid UTF-8.

Exactness rule: the fast paths take only what websocket-client takes the same way (plain
``bytes``/``bytearray`` payloads, flags that are 0 or 1, the library's own classes and methods);
anything else (subclasses, methods replaced on an instance, odd mask keys, str payloads with a
binary opcode, control frames the codec would refuse) runs websocket-client's original code.
"""

from __future__ import annotations

import os
import struct
import types
from typing import Any, Callable, Optional

from ._patch import (
    Codec,
    codec_text,
    IntegrationError,
    PatchSet,
    check_version,
    frame_header,
    install_integration,
    installed_integrations,
    uninstall_integration,
)

__all__ = ["install", "uninstall", "installed", "NAME", "SUPPORTED"]

NAME = "websocket_client"
MODULE = "websocket._abnf"
#: Tested range [low, high): the upstream suite of 1.9.2 and our tests on 1.9.
SUPPORTED = ((1, 9), (1, 10))

#: websocket-client reads at most this much per recv() call (frame_buffer.recv_strict).
_RECV_CHUNK = 16384
_INTS = (int, bool)
#: What websocket-client's frame_buffer keeps per instance; another key is an override.
_FRAME_BUFFER_ATTRS = frozenset(
    ("recv", "skip_utf8_validation", "recv_buffer", "header", "length", "mask_value", "lock")
)


def install(codec: Codec = None, *, force: bool = False) -> bool:
    """Patch websocket-client (idempotent; thread-safe). ``codec``: "c", "python", a backend
    namespace, or None for wscodec's selected backend. True when something changed."""
    return install_integration(NAME, MODULE, _build, codec, force)


def uninstall() -> bool:
    """Put websocket-client's original functions back (exactly the same objects)."""
    return uninstall_integration(NAME)


def installed() -> Optional[str]:
    """The codec backend name if installed, else None."""
    return installed_integrations().get(NAME)


def _check_structure(abnf: types.ModuleType, core: types.ModuleType) -> None:
    wanted = {
        abnf.ABNF: ("format", "mask", "create_frame", "validate", "_get_masked"),
        abnf.frame_buffer: ("recv_frame", "recv_strict", "clear"),
        core.WebSocket: ("recv", "recv_data"),
    }
    for owner, methods in wanted.items():
        if any(m not in owner.__dict__ for m in methods):
            raise IntegrationError("websocket-client's %s is not what this integration expects" % owner.__name__)
    for owner, attr in ((abnf.ABNF, "mask"), (abnf.ABNF, "create_frame")):
        if not isinstance(owner.__dict__[attr], staticmethod):
            raise IntegrationError("websocket-client's ABNF.%s is not a staticmethod" % attr)
    if "validate_utf8" not in abnf.__dict__ or abnf.ABNF.OPCODES != (0, 1, 2, 8, 9, 10):
        raise IntegrationError("websocket._abnf is not what this integration expects")


def _build(patches: PatchSet, codec: types.SimpleNamespace, force: bool) -> None:
    import websocket
    from websocket import _abnf, _core

    check_version(NAME, getattr(websocket, "__version__", "0"), SUPPORTED, force)
    _check_structure(_abnf, _core)

    build_frame = codec.build_frame
    apply_mask = codec.apply_mask
    validate_utf8 = codec.validate_utf8
    Utf8Validator = codec.Utf8Validator
    decode_text, encode_text = codec_text(codec)

    ABNF, FrameBuffer, WebSocket = _abnf.ABNF, _abnf.frame_buffer, _core.WebSocket
    module_globals = _abnf.__dict__  # looked up per call, as the library's own code does
    OPCODES = frozenset(ABNF.OPCODES)
    TEXT, BINARY = ABNF.OPCODE_TEXT, ABNF.OPCODE_BINARY
    orig_format = ABNF.format
    orig_mask: Callable[[Any, Any], bytes] = ABNF.__dict__["mask"].__func__
    orig_create_frame: Callable[..., Any] = ABNF.__dict__["create_frame"].__func__
    orig_recv_frame = FrameBuffer.recv_frame
    orig_recv_strict = FrameBuffer.recv_strict
    orig_validate_utf8 = _abnf.validate_utf8
    orig_recv = WebSocket.recv

    def fast_format(self: Any) -> bytes:
        fin, rsv1, rsv2, rsv3 = self.fin, self.rsv1, self.rsv2, self.rsv3
        opcode, masked, data = self.opcode, self.mask_value, self.data
        if (
            (data.__class__ is not bytes and data.__class__ is not bytearray)
            or fin.__class__ not in _INTS
            or masked.__class__ not in _INTS
            or rsv1.__class__ not in _INTS
            or rsv2.__class__ not in _INTS
            or rsv3.__class__ not in _INTS
            or rsv1
            or rsv2
            or rsv3
            or (fin != 0 and fin != 1)
            or (masked != 0 and masked != 1)
            or opcode.__class__ is not int
            or opcode not in OPCODES
            or (opcode >= 8 and (not fin or len(data) > 125))  # build_frame refuses these
        ):
            return orig_format(self)  # websocket-client's errors and byte layout
        fin = fin == 1
        if not masked:
            return build_frame(opcode, data, fin=fin)
        key_source = self.get_mask_key
        if key_source is os.urandom:
            return build_frame(opcode, data, fin=fin, mask=True)
        key = key_source(4)
        if key.__class__ is bytes and len(key) == 4:
            return build_frame(opcode, data, fin=fin, mask=key)
        # Another type (a bytearray key makes the frame a bytearray) or length: websocket-client's
        # own masking, after the same header.
        return frame_header((0x80 if fin else 0) | opcode, True, len(data)) + self._get_masked(key)

    def fast_mask(mask_key: Any, data: Any) -> bytes:
        if (
            (data.__class__ is bytes or data.__class__ is bytearray)
            and (mask_key.__class__ is bytes or mask_key.__class__ is bytearray)
            and len(mask_key) == 4
        ):
            return apply_mask(data, mask_key)
        return orig_mask(mask_key, data)

    def fast_create_frame(data: Any, opcode: int, fin: int = 1) -> Any:
        if opcode == TEXT and isinstance(data, str):
            data = encode_text(data)
        return module_globals["ABNF"](fin, 0, 0, 0, opcode, 1, data)

    def fast_recv_strict(self: Any, bufsize: int) -> bytes:
        # The common case: nothing buffered, one read gives exactly what was asked for.
        if bufsize.__class__ is not int or self.recv_buffer or not 0 < bufsize <= _RECV_CHUNK:
            return orig_recv_strict(self, bufsize)
        chunk = self.recv(bufsize)
        if chunk.__class__ is bytes and len(chunk) == bufsize:
            self.recv_buffer = []
            return chunk
        if isinstance(chunk, bytes):
            self.recv_buffer.append(chunk)  # the library's loop goes on from here
            return orig_recv_strict(self, bufsize)
        self.recv_buffer = [b""]  # the library stops at a non-bytes read with nothing buffered
        return b""

    def fast_recv_frame(self: Any) -> Any:
        if self.__class__ is not FrameBuffer or not self.__dict__.keys() <= _FRAME_BUFFER_ATTRS:
            return orig_recv_frame(self)
        # recv_header, recv_length, recv_mask inlined: the same reads, the same state after each.
        with self.lock:
            header = self.header
            if header is None:
                raw = self.recv_strict(2)
                b1 = raw[0]
                b2 = raw[1]
                header = self.header = (
                    b1 >> 7 & 1, b1 >> 6 & 1, b1 >> 5 & 1, b1 >> 4 & 1, b1 & 0xF, b2 >> 7 & 1, b2 & 0x7F
                )
            fin, rsv1, rsv2, rsv3, opcode, has_mask, length_bits = header
            length = self.length
            if length is None:
                if length_bits == 0x7E:
                    length = struct.unpack("!H", self.recv_strict(2))[0]
                elif length_bits == 0x7F:
                    length = struct.unpack("!Q", self.recv_strict(8))[0]
                else:
                    length = length_bits
                self.length = length
            mask_value = self.mask_value
            if mask_value is None:
                mask_value = self.mask_value = self.recv_strict(4) if has_mask else ""
            payload = self.recv_strict(length)
            abnf = module_globals["ABNF"]
            if has_mask:
                payload = abnf.mask(mask_value, payload)
            self.clear()
            frame = abnf(fin, rsv1, rsv2, rsv3, opcode, has_mask, payload)
            frame.validate(self.skip_utf8_validation)
        return frame

    def fast_validate_utf8(utfbytes: Any) -> bool:
        if utfbytes.__class__ is bytes or utfbytes.__class__ is bytearray:
            # websocket-client's DFA answers "no invalid byte so far": a truncated last sequence
            # passes. validate_utf8 decides the common (valid) case in one call.
            return validate_utf8(utfbytes) or Utf8Validator().feed(utfbytes)
        return orig_validate_utf8(utfbytes)

    def fast_recv(self: Any) -> Any:
        with self.readlock:
            opcode, data = self.recv_data()
        if opcode == TEXT:
            if isinstance(data, bytes):
                return decode_text(data)
            if isinstance(data, str):
                return data
            return None
        if opcode == BINARY:
            return data
        return ""

    fast_format.__doc__ = orig_format.__doc__
    fast_mask.__doc__ = orig_mask.__doc__
    fast_create_frame.__doc__ = orig_create_frame.__doc__
    fast_recv_frame.__doc__ = orig_recv_frame.__doc__
    fast_recv.__doc__ = orig_recv.__doc__
    patches.set(ABNF, "format", fast_format)
    patches.set(ABNF, "mask", staticmethod(fast_mask))
    patches.set(ABNF, "create_frame", staticmethod(fast_create_frame))
    patches.set(FrameBuffer, "recv_frame", fast_recv_frame)
    patches.set(FrameBuffer, "recv_strict", fast_recv_strict)
    patches.set(_abnf, "validate_utf8", fast_validate_utf8)
    patches.set(WebSocket, "recv", fast_recv)
