"""Helpers for the Connection and asyncio tests: raw frames, peers, bounded event loops."""

from __future__ import annotations

import asyncio
import socket
import types
from typing import Any, Awaitable, Coroutine, List, Optional, Tuple, TypeVar

from wscodec.connection import Connection
from wscodec.events import Event

T = TypeVar("T")
MASK = b"\x37\xfa\x21\x3d"


def raw_frame(
    backend: types.SimpleNamespace, b0: int, payload: bytes = b"", mask: Optional[bytes] = MASK
) -> bytes:
    """A frame from its first byte (FIN/RSV/opcode, anything goes), as build_frame won't make
    invalid ones. Masked with ``mask`` unless it is None."""
    n = len(payload)
    mask_bit = 0x80 if mask is not None else 0
    if n < 126:
        head = bytes((b0, mask_bit | n))
    elif n < 65536:
        head = bytes((b0, mask_bit | 126)) + n.to_bytes(2, "big")
    else:
        head = bytes((b0, mask_bit | 127)) + n.to_bytes(8, "big")
    if mask is None:
        return head + payload
    return head + mask + backend.apply_mask(payload, mask)


def cframe(backend: types.SimpleNamespace, opcode: int, payload: Any = b"", fin: bool = True) -> bytes:
    """A client (masked) frame."""
    return backend.build_frame(opcode, payload, fin=fin, mask=MASK)


def sframe(backend: types.SimpleNamespace, opcode: int, payload: Any = b"", fin: bool = True) -> bytes:
    """A server (unmasked) frame."""
    return backend.build_frame(opcode, payload, fin=fin)


def frames_of(backend: types.SimpleNamespace, data: bytes, from_client: bool) -> List[Any]:
    """Decode what a connection sent (its data_to_send())."""
    return backend.FrameDecoder(require_mask=from_client, max_frame_size=None).feed(data)


def close_frames(backend: types.SimpleNamespace, data: bytes, from_client: bool) -> List[Tuple[int, str]]:
    return [
        tuple(backend.parse_close(f.payload)) for f in frames_of(backend, data, from_client) if f.opcode == 8
    ]


def pair(backend: types.SimpleNamespace, **kwargs: Any) -> Tuple[Connection, Connection]:
    """(client, server) connections with the same options."""
    return Connection("client", codec=backend, **kwargs), Connection("server", codec=backend, **kwargs)


def pump(a: Connection, b: Connection, now: Optional[float] = None) -> Tuple[List[Event], List[Event]]:
    """Move bytes both ways until neither has anything to send; events seen by (a, b)."""
    ea: List[Event] = []
    eb: List[Event] = []
    while True:
        out_a, out_b = a.data_to_send(), b.data_to_send()
        if not out_a and not out_b:
            return ea, eb
        if out_a:
            eb += b.receive_data(out_a, now)
        if out_b:
            ea += a.receive_data(out_b, now)


def types_of(events: List[Event]) -> List[str]:
    return [type(e).__name__ for e in events]


def run(coro: Coroutine[Any, Any, T], timeout: float = 10.0) -> T:
    """Run a test coroutine in a fresh loop; never hangs past ``timeout``."""
    return asyncio.run(asyncio.wait_for(coro, timeout))


async def within(aw: Awaitable[T], timeout: float = 3.0) -> T:
    return await asyncio.wait_for(aw, timeout)


HANDSHAKE = (
    "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
)


class RawClient:
    """A bare socket speaking whatever the test writes; it reads only when asked, so it can
    play a peer that never answers (or never reads)."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.loop = asyncio.get_running_loop()
        self.buf = b""

    @classmethod
    async def connect(
        cls, port: int, request: Optional[str] = HANDSHAKE, rcvbuf: Optional[int] = None
    ) -> "RawClient":
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        sock.setblocking(False)
        self = cls(sock)
        await self.loop.sock_connect(sock, ("127.0.0.1", port))
        if request is not None:
            await self.send(request.encode("latin-1"))
        return self

    async def send(self, data: bytes) -> None:
        await self.loop.sock_sendall(self.sock, data)

    async def read_head(self) -> bytes:
        """The HTTP response head (through the blank line); keeps what follows buffered."""
        while b"\r\n\r\n" not in self.buf:
            chunk = await within(self.loop.sock_recv(self.sock, 65536))
            if not chunk:
                break
            self.buf += chunk
        head, _, self.buf = self.buf.partition(b"\r\n\r\n")
        return head

    async def read_all(self, timeout: float = 3.0) -> bytes:
        """Everything until the server closes the connection."""

        async def loop() -> bytes:
            while True:
                chunk = await self.loop.sock_recv(self.sock, 65536)
                if not chunk:
                    return self.buf
                self.buf += chunk

        data = await within(loop(), timeout)
        self.buf = b""
        return data

    def close(self) -> None:
        self.sock.close()
