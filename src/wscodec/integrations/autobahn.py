"""wscodec inside autobahn's WebSocket protocol (``autobahn.websocket.protocol.WebSocketProtocol``,
the base of autobahn.twisted and autobahn.asyncio, and so of daphne and Django Channels).

``install()`` patches, in place:

* ``create_xor_masker`` (the name ``autobahn.websocket.protocol`` calls, once per masked frame):
  a masker with autobahn's interface (``pointer``, ``reset``, ``process``) that is a plain
  ``__slots__`` object over wscodec's ``apply_mask`` (autobahn with NVX: a cffi object, a key
  buffer and a finalizer per frame, and three copies per ``process``).
* ``Utf8Validator`` (the name the protocol calls, once per connection and per close reason):
  autobahn's interface, ``validate(bytes) -> (valid, endsOnCodePoint, currentIndex,
  totalIndex)`` with the same indexes on failure (the octet at which the input stopped being a
  prefix of valid UTF-8), on wscodec's incremental validator (several GB/s; NVX's DFA runs at
  about 0.45 GB/s). All text checks go through :func:`validate_text`, the one place to swap.
* ``WebSocketProtocol.processData``: a frame header that is complete in the buffer and that
  autobahn accepts without a protocol violation is read with one ``parse_header`` call (autobahn:
  two byte reads, ``struct.unpack``, a dozen checks in Python), and the payload that is already
  buffered is unmasked straight out of the buffer in the same call (autobahn: a second
  ``processData`` call, a slice of the buffer, then the masker's copies). The state left behind
  (``current_frame``, ``current_frame_masker``, ``data``) and the ``onFrameBegin`` /
  ``onFrameData`` / ``onFrameEnd`` calls are autobahn's, in its order; only during
  ``onFrameBegin``'s hooks does ``data`` still hold the frame's header (it is cut once, after).
  Partial headers and every frame autobahn would complain about run autobahn's own method, so
  violations, their messages and close codes are autobahn's.
* ``WebSocketProtocol.sendFrame``: ``build_frame`` writes header, key and masked payload at once
  for the frames autobahn itself sends (no ``payload_len`` repetition, no explicit mask, no frame
  logging); everything else is autobahn's method.
* ``WebSocketProtocol.sendData``: unchanged, except that the debug line's arguments (three
  ``click.style`` calls) are only built when the logger's ``debug`` is not txaio's no-op; with
  debug logging on, the same line is logged with the same arguments.
* ``autobahn.twisted.websocket.WebSocketAdapterProtocol.dataReceived`` (once per TCP read, for
  daphne and every Twisted user): the same change to its debug line. Importing that module
  selects Twisted for txaio, so it is never imported here: it is patched at install when already
  imported, else by the first connection made after it was (``WebSocketProtocol._connectionMade``
  checks, under the lock); uninstall restores it with the rest.

Not replaced: message assembly and the ``on*`` hooks (applications and daphne override them),
permessage-deflate, the handshake. Existing connections keep the validator they were created
with; ``uninstall()`` restores the original functions for everything created after it.
"""

from __future__ import annotations

import struct
import sys
import types
from typing import Any, Callable, List, Optional, Set, Tuple

from ._patch import (
    LOCK,
    Codec,
    IntegrationError,
    PatchSet,
    check_version,
    install_integration,
    installed_integrations,
    uninstall_integration,
    unmasker,
)

__all__ = ["install", "uninstall", "installed", "NAME", "SUPPORTED", "validate_text"]

NAME = "autobahn"
MODULE = "autobahn.websocket.protocol"
TWISTED_MODULE = "autobahn.twisted.websocket"
#: Tested range [low, high): the upstream WebSocket tests (Twisted and asyncio) of 26.11.1 and
#: our tests on it.
SUPPORTED = ((26, 11), (27,))

#: UTF-8 sequence length by lead byte (0: a continuation byte, or a byte that never leads).
_SEQ_LEN = bytes(
    1 if b < 0x80 else 0 if b < 0xC2 else 2 if b < 0xE0 else 3 if b < 0xF0 else 4 if b < 0xF5 else 0
    for b in range(256)
)


def install(codec: Codec = None, *, force: bool = False) -> bool:
    """Patch autobahn (idempotent; thread-safe). ``codec``: "c", "python", a backend namespace,
    or None for wscodec's selected backend. True when something changed."""
    return install_integration(NAME, MODULE, _build, codec, force)


def uninstall() -> bool:
    """Put autobahn's original functions back (exactly the same objects). True if it was installed."""
    return uninstall_integration(NAME)


def installed() -> Optional[str]:
    """The codec backend name if installed, else None."""
    return installed_integrations().get(NAME)


def validate_text(validator: Any, data: Any, need: int) -> Tuple[bool, int]:
    """Feed ``data`` to a wscodec ``Utf8Validator`` that has accepted everything so far, with
    ``need`` continuation bytes still owed by the previous chunk: (valid, bytes still owed after
    ``data``; 0 means the text ends on a code point). On failure ``validator.error_offset`` is set."""
    if not validator.feed(data):
        return False, 0
    n = len(data)
    if not n:
        return True, need
    if data[n - 1] < 0x80:  # the common case: ASCII last
        return True, 0
    # Valid so far, so the last sequence starts within the last 4 bytes; if all of this chunk's
    # bytes are continuations, they pay off part of what the previous chunk owed.
    for i in range(n - 1, max(n - 4, 0) - 1, -1):
        lead = _SEQ_LEN[data[i]]
        if lead:
            return True, lead - (n - i)
    return True, need - n


def _utf8_validator_class(codec_validator: Callable[[], Any], nvx: bool) -> type:
    class Utf8Validator:
        """autobahn's incremental UTF-8 validator interface on wscodec's validator."""

        __slots__ = ("_validator", "_need", "_failed_at")

        def __init__(self) -> None:
            self._validator = codec_validator()
            self._need = 0
            self._failed_at: Optional[int] = None

        def reset(self) -> None:
            self._validator.reset()
            self._need = 0
            self._failed_at = None

        def validate(self, ba: Any) -> Tuple[bool, bool, int, int]:
            """(valid, endsOnCodePoint, currentIndex, totalIndex), as autobahn's validator."""
            failed_at = self._failed_at
            if failed_at is not None:
                # After a failure autobahn's two validators differ, and each is matched: the
                # DFA in Python stays rejected, NVX's skips the chunk but counts it as valid.
                if nvx:
                    self._failed_at = failed_at = failed_at + len(ba)
                    return True, False, len(ba), failed_at
                return len(ba) == 0, False, 0, failed_at
            validator = self._validator
            start = validator.offset
            valid, self._need = validate_text(validator, ba, self._need)
            if valid:
                return True, self._need == 0, len(ba), validator.offset
            self._failed_at = error = validator.error_offset
            return False, False, error - start, error

    return Utf8Validator


def _masker_class(apply_mask: Callable[[Any, Any], bytes]) -> type:
    unmask = unmasker(apply_mask)

    class XorMasker:
        """autobahn's masker interface (pointer/reset/process) on wscodec's apply_mask."""

        __slots__ = ("_mask", "_ptr")

        def __init__(self, mask: bytes) -> None:
            self._mask = mask
            self._ptr = 0

        def pointer(self) -> int:
            return self._ptr

        def reset(self) -> None:
            self._ptr = 0

        def process(self, data: Any) -> bytes:
            ptr = self._ptr
            self._ptr = ptr + len(data)
            mask = self._mask
            if ptr & 3:
                phase = ptr & 3
                mask = mask[phase:] + mask[:phase]
            return apply_mask(data, mask)

        def process_slice(self, buf: bytes, start: int, end: int) -> bytes:
            """``process(buf[start:end])`` without making that slice."""
            ptr = self._ptr
            self._ptr = ptr + (end - start)
            mask = self._mask
            if ptr & 3:
                phase = ptr & 3
                mask = mask[phase:] + mask[:phase]
            return unmask(buf, start, end, mask)

    return XorMasker


def _is_txaio_no_op(func: Any) -> bool:
    return getattr(func, "__qualname__", None) == "_no_op" and getattr(func, "__module__", None) in (
        "txaio.tx",
        "txaio.aio",
    )


def _build(patches: PatchSet, codec: types.SimpleNamespace, force: bool) -> None:
    import autobahn
    from autobahn.websocket import protocol as ap

    check_version(NAME, getattr(autobahn, "__version__", "0"), SUPPORTED, force)
    WSP = ap.WebSocketProtocol
    for attr in ("processData", "sendFrame", "sendData", "onFrameBegin", "_connectionMade"):
        if attr not in WSP.__dict__:
            raise IntegrationError("autobahn WebSocketProtocol.%s is missing" % attr)
    for attr in ("create_xor_masker", "Utf8Validator", "XorMaskerNull", "FrameHeader", "hltype", "hlval"):
        if attr not in ap.__dict__:
            raise IntegrationError("autobahn.websocket.protocol.%s is missing" % attr)

    parse_header = codec.parse_header
    build_frame = codec.build_frame
    orig_process_data = WSP.processData
    orig_send_frame = WSP.sendFrame
    XorMaskerNull, FrameHeader = ap.XorMaskerNull, ap.FrameHeader
    hltype, hlval = ap.hltype, ap.hlval
    STATE_OPEN = WSP.STATE_OPEN
    STATE_CLOSED = WSP.STATE_CLOSED
    STATE_CONNECTING = WSP.STATE_CONNECTING
    STATE_PROXY_CONNECTING = WSP.STATE_PROXY_CONNECTING
    XorMasker = _masker_class(codec.apply_mask)
    no_ops: Set[Any] = set()

    def create_xor_masker(mask: bytes, length: Optional[int] = None) -> Any:
        return XorMasker(mask)

    def accepted(self: Any, h: Any, opcode: int, rsv: int) -> bool:
        """Whether autobahn takes this complete header without a protocol violation."""
        length = h.length
        masked = h.masked
        size = h.header_size - (4 if masked else 0)
        if not (size == 2 or (size == 4 and length >= 126) or (size == 10 and length >= 65536)):
            return False  # not the minimal length encoding
        is_server = self.factory.isServer
        if (is_server and self.requireMaskedClientFrames and not masked) or (
            masked and not is_server and not self.acceptMaskedServerFrames
        ):
            return False
        if opcode > 7:  # parse_header refused reserved, fragmented and long control frames
            return rsv == 0 and not (opcode == 8 and length == 1)
        if (opcode == 0) != bool(self.inside_message):
            return False
        return rsv == 0 or (rsv == 4 and opcode != 0 and self._perMessageCompress is not None)

    def frame_data(self: Any, data: bytes, start: int) -> bool:
        # autobahn's payload step on self.data == data[start:], without copying that slice: the
        # payload is unmasked straight out of data.
        masker = self.current_frame_masker
        rest = self.current_frame.length - masker.pointer()
        end = start + rest if len(data) - start >= rest else len(data)
        self.data = data[end:]
        if end > start:
            if masker.__class__ is XorMasker:
                payload = masker.process_slice(data, start, end)
            else:
                payload = masker.process(data[start:end])
        else:
            payload = b""
        if self.onFrameData(payload) is False:
            return False
        if self.current_frame_masker.pointer() == self.current_frame.length:
            if self.onFrameEnd() is False:
                return False
        return len(self.data) > 0

    def processData(self: Any) -> bool:
        data = self.data
        if data.__class__ is not bytes:
            return orig_process_data(self)
        if self.current_frame is not None:
            return frame_data(self, data, 0)
        if len(data) < 2:
            return False
        try:
            h = parse_header(data)
        except Exception:
            h = None  # autobahn reports its own violation
        if h is None:
            return orig_process_data(self)
        b0 = data[0]
        opcode = b0 & 0x0F
        rsv = (b0 & 0x70) >> 4
        if not accepted(self, h, opcode, rsv):
            return orig_process_data(self)
        # autobahn's steps for an accepted header, in its order; self.data is cut once, after
        # the payload step (so onFrameBegin's hooks still see the header in it).
        length = h.length
        mask = h.mask
        if h.masked and length > 0 and self.applyMask:
            self.current_frame_masker = create_xor_masker(mask, length)
        else:
            self.current_frame_masker = XorMaskerNull()
        self.current_frame = FrameHeader(opcode, (b0 & 0x80) != 0, rsv, length, mask)
        self.onFrameBegin()
        start = h.header_size
        if (length and len(data) == start) or self.state == STATE_CLOSED:
            # where autobahn's consumeData loop stops after the header step
            self.data = data[start:]
            return length == 0 or len(self.data) > 0
        return frame_data(self, data, start)

    def sendFrame(
        self: Any,
        opcode: int,
        payload: bytes = b"",
        fin: bool = True,
        rsv: int = 0,
        mask: Optional[bytes] = None,
        payload_len: Optional[int] = None,
        chopsize: Optional[int] = None,
        sync: bool = False,
    ) -> None:
        if (
            payload_len is None
            and not mask
            and not self.logFrames
            and payload.__class__ is bytes
            and opcode.__class__ is int
            and (
                (0 <= opcode <= 2 and (rsv == 0 or rsv == 4))
                or (8 <= opcode <= 10 and rsv == 0 and fin and len(payload) <= 125)
            )
        ):
            is_server = self.factory.isServer
            if (not is_server and self.maskClientFrames) or (is_server and self.maskServerFrames):
                if not self.applyMask:  # mask bit and key, payload sent unmasked: autobahn's
                    return orig_send_frame(self, opcode, payload, fin, rsv, mask, payload_len, chopsize, sync)
                # the same key source as autobahn (looked up per call: tests may patch it)
                key = struct.pack("!I", ap.random.getrandbits(32))
                raw = build_frame(opcode, payload, fin=True if fin else False, rsv1=rsv == 4, mask=key)
            else:
                raw = build_frame(opcode, payload, fin=True if fin else False, rsv1=rsv == 4)
            if opcode <= 2:
                self.trafficStats.outgoingWebSocketFrames += 1
            self.sendData(raw, sync, chopsize)
            return None
        return orig_send_frame(self, opcode, payload, fin, rsv, mask, payload_len, chopsize, sync)

    def quiet_debug(self: Any, text: str, method: Any, size: int) -> None:
        debug = self.log.debug
        if debug not in no_ops:
            if _is_txaio_no_op(debug):
                no_ops.add(debug)
            else:
                debug(text, func=hltype(method), peer=hlval(self.peer), data_len=hlval(size))

    def sendData(self: Any, data: bytes, sync: bool = False, chopsize: Optional[int] = None) -> None:
        # autobahn's sendData, line for line, but the debug arguments are built only when the
        # debug line can be emitted.
        if chopsize and chopsize > 0:
            i = 0
            n = len(data)
            done = False
            while not done:
                j = i + chopsize
                if j >= n:
                    done = True
                    j = n
                self.send_queue.append((data[i:j], True))
                i += chopsize
            self._trigger()
        else:
            if sync or len(self.send_queue) > 0:
                self.send_queue.append((data, sync))
                self._trigger()
            else:
                self.transport.write(data)
                quiet_debug(self, "{func} sent {data_len} bytes for peer {peer}", self.sendData, len(data))

                state = self.state
                if state == STATE_OPEN:
                    self.trafficStats.outgoingOctetsWireLevel += len(data)
                elif state == STATE_CONNECTING or state == STATE_PROXY_CONNECTING:
                    self.trafficStats.preopenOutgoingOctetsWireLevel += len(data)

                if self.logOctets:
                    self.logTxOctets(data, False)

    def dataReceived(self: Any, data: bytes) -> None:
        quiet_debug(self, '{func} received {data_len} bytes for peer="{peer}"', self.dataReceived, len(data))
        # bytes received from Twisted, forward to the networking framework independent code for websocket
        self._dataReceived(data)

    orig_connection_made = WSP._connectionMade
    twisted_done: List[bool] = []

    def patch_twisted() -> None:
        """Patch the Twisted adapter if it is imported and this install is still in place."""
        twm = sys.modules.get(TWISTED_MODULE)
        adapter = getattr(twm, "WebSocketAdapterProtocol", None)
        if adapter is None:
            return
        with LOCK:
            if WSP.__dict__.get("_connectionMade") is not _connectionMade or twisted_done:
                return  # uninstalled meanwhile, or done by another thread
            if "dataReceived" not in adapter.__dict__:
                raise IntegrationError("autobahn's Twisted WebSocketAdapterProtocol.dataReceived is missing")
            _same_name(dataReceived, adapter.__dict__["dataReceived"])
            patches.set(adapter, "dataReceived", dataReceived)
            twisted_done.append(True)

    def _connectionMade(self: Any) -> None:
        if not twisted_done:
            patch_twisted()
        return orig_connection_made(self)

    for new, orig in (
        (processData, WSP.processData),
        (sendFrame, WSP.sendFrame),
        (sendData, WSP.sendData),
        (_connectionMade, orig_connection_made),
    ):
        _same_name(new, orig)
    patches.set(ap, "create_xor_masker", create_xor_masker)
    nvx = ap.Utf8Validator.__module__.startswith("autobahn.nvx")
    patches.set(ap, "Utf8Validator", _utf8_validator_class(codec.Utf8Validator, nvx))
    patches.set(WSP, "processData", processData)
    patches.set(WSP, "sendFrame", sendFrame)
    patches.set(WSP, "sendData", sendData)
    patches.set(WSP, "_connectionMade", _connectionMade)
    patch_twisted()


def _same_name(new: Any, orig: Any) -> None:
    # autobahn's debug lines name these methods (hltype): they must read the same
    for attr in ("__module__", "__name__", "__qualname__", "__doc__"):
        setattr(new, attr, getattr(orig, attr))
