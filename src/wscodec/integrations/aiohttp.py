"""wscodec inside aiohttp's WebSocket writer: a client frame built, keyed and masked in one pass.

``install()`` patches one method in place, ``aiohttp._websocket.writer.WebSocketWriter
._write_websocket_frame`` (every writer, existing or new, uses it; aiohttp looks the method up on
the class at each call, so the order of imports and installs does not matter):

* a masked frame (aiohttp as a client) is one ``build_frame`` call: header, key and masked payload
  written into one new buffer (aiohttp: a bytearray copy of the payload, its C masking loop, then
  the header, key and payload concatenated into a third buffer). The key is drawn from the
  writer's own ``get_random_bits``, as aiohttp draws it, so the bytes on the wire are the same;
* an unmasked frame (aiohttp as a server) up to aiohttp's ``MSG_SIZE`` (16 KiB) is one
  ``build_frame`` call too (aiohttp: a packed header plus a concatenation); larger ones are
  written as aiohttp writes them, header and payload in two writes, the payload not copied.

Anything unusual (a payload that is not plain bytes, bytearray or a byte memoryview, an opcode
``build_frame`` refuses, a control frame over 125 bytes or with RSV1, RSV bits other than RSV1) runs aiohttp's
original method, so its errors and its bytes stay its own. Frames are written with the same
``transport.write`` calls, the same checks (``ClientConnectionResetError`` on a closing transport,
raised before anything is written) and the same ``_output_size`` accounting that drives aiohttp's
flow control.

Not replaced, and why (profiles in the README, "aiohttp"): aiohttp's reader is compiled
(``reader_c``, Cython) and masks through a C-level call into its ``mask`` module, so nothing
inside it can be patched; wrapping it costs more per frame in Python than its whole compiled
parse. ``websocket_mask`` is bound by name into ``writer`` and ``reader_py`` at import; the
compiled reader does not use it and the writer no longer calls it on the fast path, so it is left
alone. Compression stays aiohttp's: its compressed payload reaches the patched method like any
other (RSV1 set).
"""

from __future__ import annotations

import types
from typing import Any, Optional

from ._patch import (
    Codec,
    IntegrationError,
    PatchSet,
    check_version,
    install_integration,
    installed_integrations,
    uninstall_integration,
)

__all__ = ["install", "uninstall", "installed", "NAME", "SUPPORTED"]

NAME = "aiohttp"
MODULE = "aiohttp._websocket.writer"
#: Tested range [low, high): aiohttp's own WebSocket tests of 3.14.5 and our tests on 3.14.
SUPPORTED = ((3, 14), (3, 15))
#: Opcodes build_frame takes (RFC 6455: the others are reserved).
OPCODES = frozenset((0x0, 0x1, 0x2, 0x8, 0x9, 0xA))


def install(codec: Codec = None, *, force: bool = False) -> bool:
    """Patch aiohttp (idempotent; thread-safe). ``codec``: "c", "python", a backend namespace, or
    None for wscodec's selected backend. True when something changed."""
    return install_integration(NAME, MODULE, _build, codec, force)


def uninstall() -> bool:
    """Put aiohttp's original method back (exactly the same object). True if it was installed."""
    return uninstall_integration(NAME)


def installed() -> Optional[str]:
    """The codec backend name if installed, else None."""
    return installed_integrations().get(NAME)


def _build(patches: PatchSet, codec: types.SimpleNamespace, force: bool) -> None:
    import aiohttp
    from aiohttp._websocket import helpers, writer

    check_version(NAME, getattr(aiohttp, "__version__", "0"), SUPPORTED, force)
    Writer = writer.WebSocketWriter
    for name in ("MSG_SIZE", "PACK_RANDBITS", "PACK_LEN2", "PACK_LEN3", "ClientConnectionResetError"):
        if name not in writer.__dict__:
            raise IntegrationError("aiohttp._websocket.writer.%s is missing" % name)
    if "_write_websocket_frame" not in Writer.__dict__ or helpers.MASK_LEN != 4:
        raise IntegrationError("aiohttp's WebSocketWriter is not what this integration expects")

    build_frame = codec.build_frame
    original = Writer.__dict__["_write_websocket_frame"]
    MSG_SIZE: int = writer.MSG_SIZE
    PACK_RANDBITS, PACK_LEN2, PACK_LEN3 = writer.PACK_RANDBITS, writer.PACK_LEN2, writer.PACK_LEN3
    ClientConnectionResetError = writer.ClientConnectionResetError

    def write_frame(self: Any, message: Any, opcode: int, rsv: int) -> None:
        cls = message.__class__
        use_mask = self.use_mask
        if (
            (cls is not bytes and cls is not bytearray and not _plain_memoryview(message))
            or (rsv != 0 and rsv != 0x40)
            or opcode not in OPCODES
            or (opcode >= 8 and (rsv or len(message) > 125))
        ):
            return original(self, message, opcode, rsv)
        msg_length = len(message)
        if self.transport.is_closing():
            raise ClientConnectionResetError("Cannot write to closing transport")
        header_len = 2 if msg_length < 126 else 4 if msg_length < 65536 else 10
        if use_mask:
            key = PACK_RANDBITS(self.get_random_bits())
            self.transport.write(build_frame(opcode, message, rsv1=rsv != 0, mask=key))
            self._output_size += 4
        elif msg_length > MSG_SIZE:  # as aiohttp writes it: header and payload apart, no copy
            if msg_length < 65536:
                self.transport.write(PACK_LEN2(0x80 | rsv | opcode, 126, msg_length))
            else:
                self.transport.write(PACK_LEN3(0x80 | rsv | opcode, 127, msg_length))
            self.transport.write(message)
        else:
            self.transport.write(build_frame(opcode, message, rsv1=rsv != 0))
        self._output_size += header_len + msg_length

    write_frame.__doc__ = original.__doc__
    write_frame.__name__ = original.__name__
    write_frame.__qualname__ = original.__qualname__
    patches.set(Writer, "_write_websocket_frame", write_frame)


def _plain_memoryview(data: Any) -> bool:
    return data.__class__ is memoryview and data.c_contiguous and data.itemsize == 1 and data.ndim == 1
