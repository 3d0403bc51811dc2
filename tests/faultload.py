"""Load with faults: many clients echoing through one asyncio server while some of them drop
abruptly, stall (stop reading), or send garbage. Every surviving client must get back exactly
what it sent, in order; the server's connection count must return to zero; nothing may reach the
loop's exception handler. Shared by tests/test_fault_load.py (small) and bench/fault_load.py.
"""
from __future__ import annotations

import asyncio
import dataclasses
import os
import random
import socket
import struct
from typing import Any, Dict, List, Optional

from wscodec.asyncio import connect, serve
from wscodec.errors import ConnectionClosed

from .connection_helpers import HANDSHAKE, RawClient

KINDS = ("good", "abort", "stall", "garbage")


@dataclasses.dataclass
class Tally:
    clients: Dict[str, int] = dataclasses.field(default_factory=lambda: dict.fromkeys(KINDS, 0))
    sent: int = 0  # messages good clients sent
    received: int = 0  # echoes they got back, equal and in order
    lost: int = 0  # sent - received for good clients: must be 0
    mismatched: int = 0  # an echo that was not the message sent at that position
    bytes_echoed: int = 0
    good_failures: List[str] = dataclasses.field(default_factory=list)
    server_close_codes: Dict[int, int] = dataclasses.field(default_factory=dict)
    ping_timeouts: int = 0  # connections the server's heartbeat dropped (the stalled ones)
    loop_errors: List[str] = dataclasses.field(default_factory=list)
    left_connections: int = -1
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return (self.lost == 0 and self.mismatched == 0 and not self.good_failures
                and not self.loop_errors and self.left_connections == 0 and self.received == self.sent)

    def summary(self) -> str:
        return ("clients %s | good: sent %d, received %d, lost %d, mismatched %d, %.1f MB echoed | "
                "server close codes %s, %d by ping timeout | connections left %d | loop errors %d | %.1f s" % (
                    self.clients, self.sent, self.received, self.lost, self.mismatched,
                    self.bytes_echoed / 1e6, dict(sorted(self.server_close_codes.items())), self.ping_timeouts,
                    self.left_connections, len(self.loop_errors), self.seconds))


def message(rng: random.Random, client: int, seq: int) -> Any:
    """Text or binary, 0 bytes to ~64 KiB, tagged so a swap or loss would show."""
    size = rng.choice((0, 1, 10, 125, 126, 1000, 65535, 65536, rng.randrange(70000)))
    tag = "%d:%d:" % (client, seq)
    if rng.random() < 0.5:
        return tag + "é" * (size // 2)
    return tag.encode() + rng.randbytes(size)


async def good_client(url: str, cid: int, messages: int, window: int, codec: Any, tally: Tally, seed: int) -> None:
    rng = random.Random(seed)
    try:
        async with connect(url, codec=codec, close_timeout=5.0) as ws:
            pending: List[Any] = []
            sent = 0
            while sent < messages or pending:
                while sent < messages and len(pending) < window:  # pipelined
                    msg = message(rng, cid, sent)
                    await ws.send(msg)
                    pending.append(msg)
                    sent += 1
                    tally.sent += 1
                echo = await asyncio.wait_for(ws.recv(), 20)
                expected = pending.pop(0)
                if echo == expected:
                    tally.received += 1
                    tally.bytes_echoed += len(echo)
                else:
                    tally.mismatched += 1
    except Exception as exc:  # any failure of a good client is a finding
        tally.good_failures.append("client %d: %r" % (cid, exc))


def _rst(sock: socket.socket) -> None:
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


async def abort_client(url: str, port: int, cid: int, codec: Any, seed: int) -> None:
    """Echo a few messages, then vanish: RST mid-stream, or half a frame then RST."""
    rng = random.Random(seed)
    if rng.random() < 0.5:
        try:
            ws = await connect(url, codec=codec)
            for seq in range(rng.randrange(1, 5)):
                await ws.send(message(rng, cid, seq))
            await asyncio.sleep(rng.random() * 0.05)
            assert ws.transport is not None
            ws.transport.abort()  # no close frame, RST
        except (ConnectionClosed, OSError, asyncio.TimeoutError):
            pass
    else:
        raw = await RawClient.connect(port, None if rng.random() < 0.2 else HANDSHAKE)
        frame = codec.build_frame(2, os.urandom(5000), mask=True)
        try:
            await raw.send(frame[: rng.randrange(1, len(frame))])  # or half a request line
            await asyncio.sleep(rng.random() * 0.05)
        except OSError:
            pass
        _rst(raw.sock)


async def stall_client(port: int, codec: Any, seconds: float) -> None:
    """Handshake, send a big message, then never read again (tiny receive buffer)."""
    raw = await RawClient.connect(port, rcvbuf=4096)
    try:
        await raw.send(codec.build_frame(2, b"s" * 500_000, mask=True))
        await asyncio.sleep(seconds)  # the server's heartbeat must drop us meanwhile
    except OSError:
        pass
    raw.close()


async def garbage_client(port: int, seed: int) -> None:
    """Random bytes after the handshake (or instead of it)."""
    rng = random.Random(seed)
    raw = await RawClient.connect(port, HANDSHAKE if rng.random() < 0.8 else None)
    try:
        for _ in range(rng.randrange(1, 5)):
            await raw.send(rng.randbytes(rng.randrange(1, 3000)))
        await raw.read_all(timeout=3.0)  # the server closes us
    except (OSError, asyncio.TimeoutError):
        pass
    raw.close()


async def run_load(codec: Any, clients: int = 40, messages: int = 20, window: int = 4,
                   fractions: Optional[Dict[str, float]] = None, seed: int = 7, heartbeat: float = 0.5,
                   stall_seconds: float = 3.0) -> Tally:
    """``clients`` at once; ``fractions`` of abort/stall/garbage clients (the rest are good)."""
    fractions = fractions or {"abort": 0.15, "stall": 0.05, "garbage": 0.1}
    tally = Tally()
    loop = asyncio.get_running_loop()
    loop.set_exception_handler(lambda _loop, ctx: tally.loop_errors.append(str(ctx.get("message"))))
    start = loop.time()

    async def echo(ws: Any) -> None:
        try:
            async for msg in ws:
                await ws.send(msg)
        finally:
            code = ws.close_code if ws.close_code is not None else -1
            tally.server_close_codes[code] = tally.server_close_codes.get(code, 0) + 1
            tally.ping_timeouts += "ping timeout" in (ws.close_reason or "")

    # heartbeat: a stalled peer cannot answer pings and is dropped (1006) after ping_timeout
    server = await serve(echo, codec=codec, ping_interval=heartbeat, ping_timeout=heartbeat * 2,
                         close_timeout=2.0, handshake_timeout=2.0, max_message_size=1 << 20)
    url = "ws://127.0.0.1:%d/" % server.port
    rng = random.Random(seed)
    tasks = []
    for cid in range(clients):
        r, kind = rng.random(), "good"
        for k in ("abort", "stall", "garbage"):
            r -= fractions.get(k, 0.0)
            if r < 0:
                kind = k
                break
        tally.clients[kind] += 1
        s = rng.randrange(1 << 30)
        if kind == "good":
            coro = good_client(url, cid, messages, window, codec, tally, s)
        elif kind == "abort":
            coro = abort_client(url, server.port, cid, codec, s)
        elif kind == "stall":
            coro = stall_client(server.port, codec, stall_seconds)
        else:
            coro = garbage_client(server.port, s)
        tasks.append(asyncio.ensure_future(coro))
    await asyncio.wait_for(asyncio.gather(*tasks), 120)
    end = loop.time() + heartbeat * 4 + 3.0  # stragglers: heartbeat and close timeouts
    while (server.connections or server._all) and loop.time() < end:
        await asyncio.sleep(0.05)
    tally.left_connections = len(server.connections) + len(server._all)
    await server.shutdown(timeout=1.0)
    tally.lost = tally.sent - tally.received - tally.mismatched
    tally.seconds = loop.time() - start
    return tally
