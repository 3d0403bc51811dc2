"""Two well-behaved endpoints at full speed in both directions, each with a sender task and a
receiver task running at once: wscodec <-> wscodec, websockets client <-> wscodec server and
wscodec client <-> websockets server, compression on and off, many small or a few large messages,
and a slow reader; and a server that echoes while it pushes a stream of its own. Every message
must arrive intact and in order; a hang fails the test (every case is bounded).

websockets comes with the [test] extras; without it those cases skip, unless
WSCODEC_REQUIRE_PEERS=1 makes its absence a failure.
"""

from __future__ import annotations

import asyncio
import random
from typing import Any, Dict, List, Tuple

import pytest

from wscodec.asyncio import connect, serve

from ._peers import skip_or_fail
from .connection_helpers import run

# (messages each way, bytes per message)
LOADS: Dict[str, Tuple[int, int]] = {"1KiBx5000": (5000, 1024), "256KiBx40": (40, 256 * 1024)}
PEERS = ("wscodec", "websockets-client", "websockets-server")
TIMEOUT = 20.0  # per case; the largest takes well under a second on an idle machine


def message(i: int, size: int, side: str) -> Any:
    """Message ``i`` from ``side``: text for even ``i``, binary for odd; half random (deflate
    cannot shrink it), half repetitive."""
    rng = random.Random("%s%d" % (side, i))
    half = size // 2
    body = b"%s %08d " % (side.encode(), i) + rng.randbytes(half).hex().encode()[:half]
    body = (body + b"abcdefgh" * (size // 8 + 1))[:size]
    return body.decode("ascii") if i % 2 == 0 else body


async def duplex(ws: Any, count: int, size: int, me: str, peer: str, slow: bool) -> int:
    """Send ``count`` messages while receiving ``count`` from the peer, concurrently."""

    async def sender() -> None:
        for i in range(count):
            await ws.send(message(i, size, me))

    async def receiver() -> int:
        for i in range(count):
            got = await ws.recv()
            if got != message(i, size, peer):
                raise AssertionError("%s: message %d from %s is not what was sent" % (me, i, peer))
            if slow and i % 4 == 0:
                await asyncio.sleep(0.01)  # the queue fills and reading pauses meanwhile
        return count

    _, received = await asyncio.gather(sender(), receiver())
    return received


async def echo_and_push(ws: Any, count: int, size: int) -> int:
    """Server: echo ``count`` messages while pushing ``count`` of its own. Its reading waits on
    its sending (an echo), which is what made two endpoints that pause reading on write
    back-pressure stop reading each other."""

    async def echo() -> None:
        for _ in range(count):
            await ws.send(await ws.recv())

    async def push() -> None:
        for i in range(count):
            await ws.send(message(i, size, "push"))

    await asyncio.gather(echo(), push())
    return count


async def send_and_check_echoes(ws: Any, count: int, size: int) -> int:
    """Client of ``echo_and_push``: send ``count`` while reading the echoes and the pushed
    messages, each in order."""

    async def sender() -> None:
        for i in range(count):
            await ws.send(message(i, size, "client"))

    async def receiver() -> int:
        seen = {"client": 0, "push": 0}
        for _ in range(2 * count):
            got = await ws.recv()
            side = (got[:8] if isinstance(got, str) else got[:8].decode()).split()[0]
            if got != message(seen[side], size, side):
                raise AssertionError("message %d from %s is not what was sent" % (seen[side], side))
            seen[side] += 1
        return count

    _, received = await asyncio.gather(sender(), receiver())
    return received


def websockets_asyncio() -> Any:
    try:
        from websockets.asyncio import client, server
    except ImportError as exc:
        skip_or_fail("WSCODEC_REQUIRE_PEERS", "websockets is not installed (%s)" % exc)
    return client, server


CASES = [(peer, load, comp, False) for peer in PEERS for load in LOADS for comp in (True, False)]
CASES += [(peer, "256KiBx40", False, True) for peer in PEERS]
CASES += [(peer, "1KiBx5000", comp, "echo+push") for peer in PEERS for comp in (True, False)]


@pytest.mark.parametrize(
    "peer, load, compression, slow",
    CASES,
    ids=["%s-%s-%s%s" % (p, l, "deflate" if c else "plain", "-" + (s if s is not True else "slow") if s else "")
         for p, l, c, s in CASES],
)
def test_full_duplex(backend, peer, load, compression, slow):
    count, size = LOADS[load]
    ours: Dict[str, Any] = dict(codec=backend, max_message_size=None, compression="deflate" if compression else None)
    theirs: Dict[str, Any] = dict(max_size=None, compression="deflate" if compression else None)
    done: List[Tuple[str, int]] = []

    async def handler(ws: Any) -> None:
        if slow == "echo+push":
            done.append(("server", await echo_and_push(ws, count, size)))
        else:
            done.append(("server", await duplex(ws, count, size, "server", "client", slow)))

    async def client_side(ws: Any) -> None:
        if slow == "echo+push":
            done.append(("client", await send_and_check_echoes(ws, count, size)))
        else:
            done.append(("client", await duplex(ws, count, size, "client", "server", slow)))

    async def main() -> None:
        if peer == "websockets-server":
            _, ws_server = websockets_asyncio()
            async with ws_server.serve(handler, "127.0.0.1", 0, **theirs) as server:
                port = server.sockets[0].getsockname()[1]
                async with connect("ws://127.0.0.1:%d/" % port, **ours) as ws:
                    await client_side(ws)
                    while len(done) < 2:  # the server's receiver may finish a moment later
                        await asyncio.sleep(0.01)
            return
        async with serve(handler, **ours) as server:
            url = "ws://127.0.0.1:%d/" % server.port
            if peer == "websockets-client":
                ws_client, _ = websockets_asyncio()
                async with ws_client.connect(url, **theirs) as ws:
                    await client_side(ws)
                    while len(done) < 2:
                        await asyncio.sleep(0.01)
            else:
                async with connect(url, **ours) as ws:
                    await client_side(ws)
                    while len(done) < 2:
                        await asyncio.sleep(0.01)

    run(main(), TIMEOUT)
    assert sorted(done) == [("client", count), ("server", count)]
