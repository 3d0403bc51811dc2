"""broadcast(): one frame for many connections, over loopback with both backends (bounded by
``run``/``within``): exact delivery with and without permessage-deflate, skipped connections
reported with their reason, and a slow reader's buffer held at write_limit."""

from __future__ import annotations

import array
import asyncio
from typing import Any, AsyncIterator, List, Tuple

import pytest

from wscodec.asyncio import DeflateOptions, SkipReason, broadcast, connect, serve

from .connection_helpers import RawClient, run, within

FAST = dict(close_timeout=0.3)
TEXT = "broadcast é ж € 😀 " * 40  # 1- to 4-byte sequences, above the deflate thresholds


def url(server: Any) -> str:
    return "ws://127.0.0.1:%d/" % server.port


class Room:
    """A server whose handler only registers its connections."""

    def __init__(self) -> None:
        self.members: List[Any] = []
        self.changed = asyncio.Event()

    async def handler(self, ws: Any) -> None:
        self.members.append(ws)
        self.changed.set()
        await ws.wait_closed()

    async def wait_for(self, count: int) -> List[Any]:
        while len(self.members) < count:
            self.changed.clear()
            await within(self.changed.wait())
        return self.members


CLIENTS: List[Tuple[str, Any]] = [
    ("plain", None),
    ("plain", None),
    ("no takeover", DeflateOptions(server_no_context_takeover=True)),
    ("no takeover", DeflateOptions(server_no_context_takeover=True)),
    ("no takeover, 10 bits", DeflateOptions(server_no_context_takeover=True, server_max_window_bits=10)),
    ("takeover", DeflateOptions()),
    ("takeover", DeflateOptions()),
]


def test_every_client_receives_exactly_the_message(backend):
    async def main() -> None:
        room = Room()
        async with serve(room.handler, codec=backend, **FAST) as server:
            clients = [await connect(url(server), codec=backend, compression=c, **FAST) for _, c in CLIENTS]
            members = await room.wait_for(len(clients))
            takeover = sum(1 for ws in members if ws.deflate is not None and
                           not ws.deflate.params.server_no_context_takeover)
            assert takeover == 2 and sum(ws.deflate is None for ws in members) == 2
            for message in (TEXT, TEXT[::-1], b"\x00\xff" * 700, bytearray(b"ab" * 10), ""):
                result = broadcast(members, message)
                assert (result.sent, result.individually, result.skipped) == (len(clients), takeover, [])
                for client in clients:
                    assert await within(client.recv()) == message
            # one compressed frame per distinct parameter set, each counted on every connection
            for ws in members:
                if ws.deflate is not None:
                    assert ws.deflate.sent_compressed == 3
            for client in clients:
                await client.close()

    run(main())


def test_buffers_are_copied_and_bad_messages_refused(backend):
    async def main() -> None:
        room = Room()
        async with serve(room.handler, codec=backend, compression=None, **FAST) as server:
            async with connect(url(server), codec=backend, **FAST) as client:
                members = await room.wait_for(1)
                data = array.array("H", [1, 2, 3])  # item size 2: sent as its 6 bytes
                assert broadcast(members, data).sent == 1
                assert await within(client.recv()) == data.tobytes()
                with pytest.raises(TypeError):
                    broadcast(members, 42)  # type: ignore[arg-type]

    run(main())


def test_closing_and_streaming_connections_are_skipped_and_reported(backend):
    async def main() -> None:
        room = Room()
        release = asyncio.Event()

        async def pieces() -> AsyncIterator[str]:
            yield "first "
            await release.wait()
            yield "last"

        async with serve(room.handler, codec=backend, **FAST) as server:
            clients = [await connect(url(server), codec=backend, **FAST) for _ in range(3)]
            members = list(await room.wait_for(3))
            closing, streaming, ok = members
            closer = asyncio.ensure_future(closing.close())
            await asyncio.sleep(0)
            streamer = asyncio.ensure_future(streaming.send(pieces()))
            while streaming._sending is None:
                await asyncio.sleep(0)
            seen: List[Any] = []
            result = broadcast(members, "news", on_skip=lambda ws, reason: seen.append((ws, reason)))
            expected = [(closing, SkipReason.NOT_OPEN), (streaming, SkipReason.STREAMING)]
            assert [tuple(s) for s in result.skipped] == expected == seen
            assert result.sent == 1
            assert await within(clients[2].recv()) == "news"
            release.set()
            await within(streamer)
            # the streamed message is whole, nothing interleaved; the broadcast after it arrives
            assert await within(clients[1].recv()) == "first last"
            assert broadcast([streaming], "after").sent == 1
            assert await within(clients[1].recv()) == "after"
            await within(closer)
            assert broadcast([closing], "late").skipped[0].reason is SkipReason.NOT_OPEN
            for client in clients:
                await client.close()

    run(main())


@pytest.mark.parametrize("compression", [None, DeflateOptions(server_no_context_takeover=True), DeflateOptions()])
def test_slow_reader_buffer_never_grows_past_write_limit(backend, compression):
    limit = 32 * 1024

    async def main() -> None:
        room = Room()
        async with serve(room.handler, codec=backend, write_limit=limit, **FAST) as server:
            fast = await connect(url(server), codec=backend, compression=compression, **FAST)
            slow = await RawClient.connect(server.port, rcvbuf=4096)  # never reads after this
            assert (await slow.read_head()).startswith(b"HTTP/1.1 101")
            members = await room.wait_for(2)
            slow_ws = members[1]  # the fast client's handshake completed first
            message = bytes(range(256)) * 32  # 8 KiB that does not compress well
            slow_skips = 0
            for i in range(3000):
                result = broadcast(members, message)
                assert slow_ws.transport.get_write_buffer_size() <= limit
                assert await within(fast.recv()) == message  # the fast reader gets every one
                if result.skipped:
                    assert [(s.connection, s.reason) for s in result.skipped] == [(slow_ws, SkipReason.SLOW)]
                    slow_skips += 1
                    if slow_skips == 20:
                        break
            assert slow_skips == 20
            slow.sock.close()
            await fast.close()

    run(main(), timeout=30)


def test_client_connections_are_masked_one_by_one(backend):
    async def main() -> None:
        got: List[Any] = []

        async def handler(ws: Any) -> None:
            got.append(await ws.recv())

        async with serve(handler, codec=backend, **FAST) as server:
            clients = [await connect(url(server), codec=backend, compression=c, **FAST)
                       for c in (None, DeflateOptions())]
            result = broadcast(clients, TEXT)
            assert (result.sent, result.individually, result.skipped) == (2, 2, [])
            for client in clients:
                await within(client.wait_closed())
            assert got == [TEXT, TEXT]

    run(main())


def test_broadcast_restarts_the_idle_timer(backend):
    async def main() -> None:
        room = Room()
        async with serve(room.handler, codec=backend, idle_timeout=0.4, **FAST) as server:
            async with connect(url(server), codec=backend, **FAST) as client:
                members = await room.wait_for(1)
                for _ in range(8):  # 0.8 s of broadcasts, twice the idle timeout
                    assert broadcast(members, b"tick").sent == 1
                    assert await within(client.recv()) == b"tick"
                    await asyncio.sleep(0.1)
                assert members[0].open
                # without traffic the server closes with its idle code
                await within(client.wait_closed())
                assert client.close_code == 1001

    run(main())


def test_a_burst_is_one_write_per_connection_in_order_with_send(backend):
    """Broadcasts queued in one loop turn leave with the connection's own sends of that turn,
    in order, in one transport write (as a burst of ``send`` does)."""

    async def main() -> None:
        room = Room()
        async with serve(room.handler, codec=backend, compression=None, **FAST) as server:
            clients = [await connect(url(server), codec=backend, **FAST) for _ in range(2)]
            members = await room.wait_for(2)
            writes: List[bytes] = []
            for ws in members:
                write = ws.transport.write
                ws.transport.write = lambda data, write=write: (writes.append(bytes(data)), write(data))[1]
            await members[0].send("own, before")
            for i in range(5):
                assert broadcast(members, "news %d" % i).sent == 2
            await members[0].send("own, after")
            assert writes == []  # nothing is written before the loop runs
            for number, client in enumerate(clients):
                expected = ["news %d" % i for i in range(5)]
                if number == 0:
                    expected = ["own, before"] + expected + ["own, after"]
                assert [await within(client.recv()) for _ in expected] == expected
            assert len(writes) == 2
            for client in clients:
                await client.close()

    run(main())
