"""Hostile peers against the asyncio server: slowloris handshakes, oversized heads, absurd frame
lengths, fragment and ping floods, data after a close, a peer that stops reading, and abrupt
disconnects in every state.

Every test runs in a loop whose exception handler records and fails (nothing may escape to it),
checks the close code or HTTP status the peer gets, that the server's memory for the connection
stays bounded (head buffer, write buffer), and that its connection count returns to zero.
"""

from __future__ import annotations

import asyncio
import gc
import socket
import struct
from typing import Any, Awaitable, Callable, Dict, List

import pytest

from wscodec.asyncio import serve
from wscodec.asyncio.cli import echo
from wscodec.errors import ConnectionClosed

from .connection_helpers import HANDSHAKE, MASK, RawClient, cframe, close_frames, frames_of, run, within

FAST: Dict[str, Any] = dict(close_timeout=0.3)


def hostile(main: Callable[[], Awaitable[None]], timeout: float = 15.0) -> None:
    """Run ``main`` with a loop exception handler that records; fail if anything reached it."""
    errors: List[Dict[str, Any]] = []

    async def wrapper() -> None:
        asyncio.get_running_loop().set_exception_handler(lambda loop, ctx: errors.append(ctx))
        await main()
        gc.collect()  # "Task exception was never retrieved" is reported when a task is collected
        await asyncio.sleep(0.01)

    run(wrapper(), timeout)
    assert not errors, errors


async def drained(server: Any, timeout: float = 3.0) -> None:
    """The server holds no connection (handshakes included) within ``timeout``."""
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while (server.connections or server._all) and loop.time() < end:
        await asyncio.sleep(0.02)
    assert not server.connections and not server._all, (server.connections, server._all)


def reset(raw: RawClient) -> None:
    """Abort the client socket: RST instead of FIN."""
    raw.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    raw.close()


async def opened(port: int) -> RawClient:
    raw = await RawClient.connect(port)
    assert (await raw.read_head()).startswith(b"HTTP/1.1 101")
    return raw


async def read_frames(backend: Any, raw: RawClient, count: int) -> List[Any]:
    """The next ``count`` frames from the server (bounded wait)."""
    decoder, frames = backend.FrameDecoder(require_mask=False, max_frame_size=None), []
    frames += decoder.feed(raw.buf)
    raw.buf = b""
    while len(frames) < count:
        chunk = await within(raw.loop.sock_recv(raw.sock, 65536))
        assert chunk, "connection closed after %d frames" % len(frames)
        frames += decoder.feed(chunk)
    return frames


async def read_to_end(raw: RawClient, timeout: float = 3.0) -> bytes:
    """Everything until EOF, or until a reset: a server that closes while our unread flood is
    still in its receive buffer makes the kernel send RST (the close frame may be lost then)."""
    try:
        return await raw.read_all(timeout)
    except ConnectionResetError:
        return raw.buf


def codes(backend: Any, data: bytes) -> List[int]:
    return [c for c, _ in close_frames(backend, data, from_client=False)]


# ---------------------------------------------------------------------------------- handshake
def test_slowloris_trickle_is_cut_by_the_handshake_timeout(backend):
    async def main() -> None:
        async with serve(echo, codec=backend, handshake_timeout=0.3, **FAST) as server:
            loop = asyncio.get_running_loop()
            raws = [await RawClient.connect(server.port, request=None) for _ in range(20)]
            readers = [asyncio.ensure_future(read_to_end(raw)) for raw in raws]
            start = loop.time()
            request = HANDSHAKE.encode()
            for i in range(len(request)):  # one byte every 40 ms: never done in time
                for raw, reader in zip(raws, readers):
                    if not reader.done():  # (writing after the server's close would RST it)
                        await raw.send(request[i : i + 1])
                if all(r.done() for r in readers) or loop.time() - start > 3.0:
                    break
                await asyncio.sleep(0.04)
            for raw, reader in zip(raws, readers):
                data = await within(reader)
                assert data.startswith(b"HTTP/1.1 408"), data[:40]
                raw.close()
            assert loop.time() - start < 2.0  # the timeout counts from the connection, not per byte
            await drained(server)

    hostile(main)


@pytest.mark.parametrize(
    "first, filler, status",
    [
        (b"GET /", b"a" * 1024, b"414"),  # request line that never ends
        (b"GET / HTTP/1.1\r\nX-Long: ", b"b" * 1024, b"431"),  # header line that never ends
        (b"GET / HTTP/1.1\r\n", b"X-Many: y\r\n" * 100, b"431"),  # endless header fields
    ],
    ids=["request-line", "header-line", "header-count"],
)
def test_oversized_heads_are_refused_while_streaming(backend, first, filler, status):
    async def main() -> None:
        async with serve(echo, codec=backend, max_line=4096, max_head=16384, **FAST) as server:
            raw = await RawClient.connect(server.port, request=None)
            await raw.send(first)
            sent, peak = len(first), 0
            for _ in range(2000):  # up to ~2 MB, stopped as soon as the server closes
                try:
                    await raw.send(filler)
                except OSError:
                    break
                sent += len(filler)
                for ws in list(server._all):
                    if ws._reader is not None:  # (dropped once the head is refused)
                        peak = max(peak, len(ws._reader._buf))
                if sent > 64 * 1024:
                    break
                await asyncio.sleep(0)
            head = await raw.read_head()
            assert head.startswith(b"HTTP/1.1 " + status), head[:60]
            assert peak <= 16384 + 2 * 1024 + len(filler)  # never more than the limit and a read
            raw.close()
            await drained(server)

    hostile(main)


def test_too_many_header_fields_in_one_piece(backend):
    async def main() -> None:
        async with serve(echo, codec=backend, max_headers=50, **FAST) as server:
            fields = "".join("X-%d: y\r\n" % i for i in range(60))
            raw = await RawClient.connect(server.port, HANDSHAKE.replace("Host", fields + "Host"))
            assert (await raw.read_head()).startswith(b"HTTP/1.1 431")
            raw.close()
            await drained(server)

    hostile(main)


# ---------------------------------------------------------------------------------- frames
def test_frame_announcing_2_63_minus_1_bytes(backend):
    async def main() -> None:
        async with serve(echo, codec=backend, **FAST) as server:
            raw = await opened(server.port)
            await raw.send(bytes((0x82, 0xFF)) + ((1 << 63) - 1).to_bytes(8, "big") + MASK + b"x" * 1000)
            assert codes(backend, await raw.read_all()) == [1009]
            raw.close()
            await drained(server)

    hostile(main)


def test_one_byte_fragments_over_the_wire(backend):
    async def main() -> None:
        async with serve(echo, codec=backend, **FAST) as server:
            raw = await opened(server.port)
            text = "é" * 1000
            data = text.encode()
            stream = cframe(backend, 1, data[:1], fin=False)
            stream += b"".join(cframe(backend, 0, data[i : i + 1], fin=False) for i in range(1, len(data) - 1))
            stream += cframe(backend, 0, data[-1:])
            for i in range(0, len(stream), 1400):
                await raw.send(stream[i : i + 1400])
            [echoed] = await read_frames(backend, raw, 1)
            assert (echoed.opcode, bytes(echoed.payload).decode()) == (1, text)
            raw.close()
            await drained(server)

    hostile(main)


def test_endless_continuation_frames_end_at_the_message_limit(backend):
    async def main() -> None:
        ends: List[Any] = []

        async def handler(ws: Any) -> None:
            try:
                await ws.recv()
            except ConnectionClosed as exc:
                ends.append(exc.code)

        async with serve(handler, codec=backend, max_message_size=100_000, **FAST) as server:
            raw = await opened(server.port)
            reader = asyncio.ensure_future(read_to_end(raw))  # reads while we flood
            await raw.send(cframe(backend, 2, b"a" * 1000, fin=False))
            frag = cframe(backend, 0, b"b" * 1000, fin=False)
            for i in range(300):  # 3 MB offered, 100 KB allowed
                try:
                    await raw.send(frag * 10)
                except OSError:
                    break
                await asyncio.sleep(0.002)
                if reader.done():
                    break
            assert codes(backend, await within(reader)) in ([1009], [])  # [] if the RST won
            raw.close()
            await drained(server)
        assert ends == [1009]

    hostile(main)


def test_ping_flood_from_a_reader_gets_the_latest_pong(backend):
    """Pings read together are answered by one pong for the latest (RFC 6455 5.5.3): the
    pongs come in order and the last ping is answered."""

    async def main() -> None:
        async with serve(echo, codec=backend, **FAST) as server:
            raw = await opened(server.port)
            await raw.send(b"".join(cframe(backend, 9, b"%04d" % i) for i in range(3000)))
            await raw.send(cframe(backend, 8, backend.build_close(1000)))
            frames = frames_of(backend, await raw.read_all(), from_client=False)
            pongs = [int(bytes(f.payload)) for f in frames if f.opcode == 10]
            assert pongs and pongs == sorted(set(pongs)) and pongs[-1] == 2999, pongs
            raw.close()
            await drained(server)

    hostile(main)


def test_ping_flood_from_a_non_reader_is_bounded(backend):
    """The peer reads nothing, so our writes are paused, and floods pings: they are all read
    (reading never waits for writes) and only the latest one's pong waits, once."""

    async def main() -> None:
        peers: List[Any] = []

        async def handler(ws: Any) -> None:
            peers.append(ws)
            try:
                while True:
                    await ws.send(b"x" * 65536)  # until the peer's buffers are full
            except ConnectionClosed:
                pass

        async with serve(handler, codec=backend, write_limit=65536, max_message_size=None, **FAST) as server:
            raw = await RawClient.connect(server.port, rcvbuf=4096)  # and it never reads
            await raw.read_head()
            while not (peers and peers[0]._write_paused):
                await asyncio.sleep(0.01)
            transport = peers[0].transport
            before = transport.get_write_buffer_size()
            flood = cframe(backend, 9, b"p" * 125) * 1000
            for _ in range(60):  # 8 MB of pings, each answered by a 127-byte pong
                await within(raw.send(flood), 2.0)
            await asyncio.sleep(0.05)
            assert peers[0].conn.pong_pending  # the pings were read
            assert transport.get_write_buffer_size() - before <= 127  # not 60,000 pongs
            reset(raw)
            await drained(server)

    hostile(main)


def test_close_followed_by_data(backend):
    async def main() -> None:
        got: List[Any] = []

        async def handler(ws: Any) -> None:
            try:
                async for msg in ws:
                    got.append(msg)
            finally:
                got.append((ws.close_code, ws.was_clean))

        async with serve(handler, codec=backend, **FAST) as server:
            raw = await opened(server.port)
            close = cframe(backend, 8, backend.build_close(1000, "bye"))
            await raw.send(cframe(backend, 1, "before") + close + cframe(backend, 1, "after") + b"\xff" * 100)
            assert codes(backend, await raw.read_all()) == [1000]  # echoed, no 1002 for the rest
            raw.close()
            await drained(server)
        assert got == ["before", (1000, True)]

    hostile(main)


def test_peer_that_stops_reading_bounds_our_write_buffer(backend):
    async def main() -> None:
        stats: List[Any] = []

        async def handler(ws: Any) -> None:
            message, peak = b"x" * 100_000, 0
            try:
                for _ in range(300):  # 30 MB if nothing pushed back
                    await within(ws.send(message), 1.0)
                    peak = max(peak, ws.transport.get_write_buffer_size())
            except asyncio.TimeoutError:  # send() waits for the reader: back-pressure
                stats.append(("blocked", peak, ws.transport.get_write_buffer_size()))
                await ws.close(1001, timeout=0.3)  # the peer cannot even read our close
                stats.append((ws.close_code, ws.was_clean))
            except ConnectionClosed:
                stats.append("closed")

        async with serve(handler, codec=backend, write_limit=65536, max_message_size=None, **FAST) as server:
            raw = await RawClient.connect(server.port, rcvbuf=4096)
            await raw.read_head()  # and never reads again
            await drained(server, timeout=8.0)
            raw.close()
        (what, peak, now), end = stats
        assert what == "blocked" and max(peak, now) <= 65536 + 100_000 + 14  # limit + one frame
        assert end == (1006, False)  # close timeout: dropped

    hostile(main)


# ---------------------------------------------------------------------------------- disconnects
DISCONNECT_AT = {
    "partial-request": lambda b: None,
    "after-101": lambda b: b"",
    "mid-header": lambda b: cframe(b, 2, b"x" * 300)[:3],
    "mid-payload": lambda b: cframe(b, 2, b"x" * 300)[:100],
    "mid-fragmented": lambda b: cframe(b, 1, "a", fin=False) + cframe(b, 0, "é".encode()[:1], fin=False),
    "after-close-sent": lambda b: cframe(b, 8, b"\x03\xe8")[:3],
    "in-flood": lambda b: cframe(b, 9, b"p" * 125) * 5000,
}


@pytest.mark.parametrize("how", ["fin", "rst"])
@pytest.mark.parametrize("state", list(DISCONNECT_AT))
def test_abrupt_disconnect_in_every_state(backend, state, how):
    async def main() -> None:
        ends: List[Any] = []

        async def handler(ws: Any) -> None:
            try:
                async for _ in ws:
                    pass
            finally:
                ends.append(ws.close_code)

        async with serve(echo if state == "partial-request" else handler, codec=backend, **FAST) as server:
            data = DISCONNECT_AT[state](backend)
            if data is None:
                raw = await RawClient.connect(server.port, HANDSHAKE[:40])
            else:
                raw = await opened(server.port)
                if state == "after-close-sent":
                    for ws in list(server.connections):  # the server starts closing; we vanish
                        asyncio.ensure_future(ws.close(1001))
                if data:
                    await raw.send(data)
            await asyncio.sleep(0.05)
            (reset if how == "rst" else RawClient.close)(raw)
            await drained(server)
        assert ends == ([] if data is None else [1006])

    hostile(main)


@pytest.mark.parametrize("count, size", [(1000, 65536), (1, 8 << 20)], ids=["many-sends", "one-send"])
def test_disconnect_while_our_send_is_blocked(backend, count, size):
    """The send() that waits for the peer raises when it aborts: not only the next one."""

    async def main() -> None:
        ends: List[Any] = []

        async def handler(ws: Any) -> None:
            try:
                for _ in range(count):  # far more than the socket buffers take
                    await ws.send(b"y" * size)
                ends.append("returned")
            except ConnectionClosed as exc:
                ends.append(exc.code)

        async with serve(handler, codec=backend, max_message_size=None, **FAST) as server:
            raw = await RawClient.connect(server.port, rcvbuf=4096)
            await raw.read_head()
            await asyncio.sleep(0.2)  # the handler is now waiting in send()
            reset(raw)
            await drained(server)
        assert ends == [1006]

    hostile(main)


def test_disconnect_during_shutdown(backend):
    async def main() -> None:
        server = await serve(echo, codec=backend, **FAST)
        raws = [await opened(server.port) for _ in range(5)]
        pending = [await RawClient.connect(server.port, HANDSHAKE[:30]) for _ in range(3)]
        shutdown = asyncio.ensure_future(server.shutdown(1001, timeout=0.5))
        await asyncio.sleep(0.02)
        for raw in raws[:3] + pending:
            reset(raw)
        await within(shutdown, 5.0)
        for raw in raws[3:]:
            raw.close()
        await drained(server)

    hostile(main)


def test_failing_a_peer_that_keeps_sending_still_delivers_the_close(backend):
    """A protocol error with 1 MiB more on its way: the peer still reads our 1002 close and then
    a clean EOF (we half-close and drop its data), not a connection reset that destroys it."""

    async def main() -> None:
        async with serve(echo, codec=backend, **FAST) as server:
            raw = await opened(server.port)
            bad = bytes((0x83, 0x80)) + MASK  # reserved opcode 3
            sender = asyncio.ensure_future(raw.send(bad + cframe(backend, 2, b"x" * 65536) * 16))
            assert codes(backend, await raw.read_all()) == [1002]
            await within(sender)
            raw.close()
            await drained(server)

    hostile(main)


def test_failed_connection_without_close_timeout_still_ends(backend):
    """close_timeout=None: nothing would bound a wait for the peer's EOF, so a failed connection
    is closed at once (the peer keeps its socket open and says nothing)."""

    async def main() -> None:
        async with serve(echo, codec=backend, close_timeout=None) as server:
            raw = await opened(server.port)
            await raw.send(bytes((0x83, 0x80)) + MASK)  # reserved opcode 3
            await drained(server)
            assert codes(backend, await raw.read_all()) == [1002]
            raw.close()

    hostile(main)


def test_peer_close_is_read_while_the_application_only_sends(backend):
    """The handler only sends, the peer never reads and then closes: its close is read at once
    (our reading never waits for our writes), and the blocked send() raises with its code."""

    async def main() -> None:
        seen: List[Any] = []

        async def handler(ws: Any) -> None:
            try:
                while True:
                    await ws.send(b"z" * 65536)
            except ConnectionClosed as exc:
                seen.append(exc.code)

        async with serve(handler, codec=backend, max_message_size=None, close_timeout=0.5) as server:
            raws = [await RawClient.connect(server.port, rcvbuf=4096) for _ in range(10)]
            for raw in raws:
                await raw.read_head()
            await asyncio.sleep(0.2)  # every handler is blocked in send() now
            for raw in raws:
                await raw.send(cframe(backend, 8, backend.build_close(1000)))
            loop = asyncio.get_running_loop()
            end = loop.time() + 0.4  # well before close_timeout could end anything
            while loop.time() < end and any(ws.conn.close_received is None for ws in server.connections):
                await asyncio.sleep(0.01)
            assert all(ws.conn.close_received == (1000, "") for ws in server.connections)
            await drained(server)  # the close timeout drops peers that read nothing
            for raw in raws:
                raw.close()
        assert seen == [1000] * 10

    hostile(main)
