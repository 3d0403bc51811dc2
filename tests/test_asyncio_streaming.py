"""Streaming large messages with the asyncio server and client: ``send`` of an iterable or async
iterable of pieces, ``recv_streaming``, ``fragment_size``; a message far larger than what either
side holds at once."""

from __future__ import annotations

import asyncio
import hashlib
from typing import Any, AsyncIterator, Awaitable, Callable, List, Tuple

import pytest

from wscodec.asyncio import ConnectionClosedError, connect, serve

from .connection_helpers import run, within
from .memtrace import tracemalloc_or_skip


def url(server: Any) -> str:
    return "ws://127.0.0.1:%d/" % server.port


async def pieces_of(ws: Any) -> List[Any]:
    return [piece async for piece in ws.recv_streaming()]


def gated(first: List[str], rest: List[str]) -> Tuple[asyncio.Event, AsyncIterator[str]]:
    """Pieces: ``first`` at once, ``rest`` once the gate is set. send() holds each piece until
    the next is known, so all of ``first`` but its last go out before the gate."""
    gate = asyncio.Event()

    async def pieces() -> AsyncIterator[str]:
        for piece in first:
            yield piece
        await gate.wait()
        for piece in rest:
            yield piece

    return gate, pieces()


async def wire_frames(backend: Any, send: Callable[[Any], Awaitable[None]], **options: Any) -> List[Any]:
    """The frames a wscodec client puts on the wire for ``send(ws)``: a bare server answers
    the handshake and keeps every byte until the client closes."""
    received = bytearray()

    async def bare(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        fields = dict(line.split(b": ", 1) for line in head.split(b"\r\n")[1:] if line)
        key = {k.lower(): v for k, v in fields.items()}[b"sec-websocket-key"]
        writer.write(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     b"Sec-WebSocket-Accept: %s\r\n\r\n" % backend.accept_key(key).encode())
        while chunk := await reader.read(65536):
            received.extend(chunk)
        writer.close()

    server = await asyncio.start_server(bare, "127.0.0.1", 0)
    async with server:
        ws = await connect("ws://127.0.0.1:%d/" % server.sockets[0].getsockname()[1], codec=backend,
                           compression=None, close_timeout=0.1, **options)
        await send(ws)
        await ws.close()  # unanswered: dropped after close_timeout
    frames = backend.FrameDecoder(require_mask=True, max_frame_size=None).feed(bytes(received))
    return [(f.opcode, f.fin, bytes(f.payload)) for f in frames if f.opcode < 8]


def test_iterables_go_out_as_one_fragmented_message(backend):
    async def agen() -> AsyncIterator[bytes]:
        for i in range(3):
            await asyncio.sleep(0)
            yield bytes([i]) * 1000

    async def send(ws: Any) -> None:
        await ws.send(["hé", "llo"])
        await ws.send(agen())
        await ws.send(iter([b"only"]))
        await ws.send(b"z" * 10_000)  # fragment_size splits plain sends

    frames = run(wire_frames(backend, send, fragment_size=4000))
    assert frames == [
        (1, False, "hé".encode()), (0, True, b"llo"),
        (2, False, b"\x00" * 1000), (0, False, b"\x01" * 1000), (0, True, b"\x02" * 1000),
        (2, True, b"only"),
        (2, False, b"z" * 4000), (0, False, b"z" * 4000), (0, True, b"z" * 2000),
    ]


@pytest.mark.parametrize("compression", [None, "deflate"])
def test_streamed_messages_arrive_whole(backend, compression):
    got: List[Any] = []

    async def handler(ws: Any) -> None:
        got.append("".join(await pieces_of(ws)))
        got.append(await ws.recv())

    async def main() -> None:
        opts = dict(codec=backend, compression=compression)
        async with serve(handler, **opts) as server:
            async with connect(url(server), fragment_size=1000, **opts) as ws:
                await ws.send(["hé", "llo", " wörld"] * 100)
                await ws.send(bytes(range(256)) * 40)
                await within(ws.wait_closed())

    run(main())
    assert got == ["héllo wörld" * 100, bytes(range(256)) * 40]


def test_bad_pieces(backend):
    seen: List[Any] = []

    async def handler(ws: Any) -> None:
        try:
            async for message in ws:
                seen.append(message)
        except ConnectionClosedError as exc:
            seen.append(exc.code)

    async def main() -> None:
        async with serve(handler, codec=backend) as server:
            async with connect(url(server), codec=backend) as ws:
                for bad in (42, {"a": "b"}, [1, 2]):
                    with pytest.raises(TypeError):
                        await ws.send(bad)  # nothing went out: still open
                await ws.send("ok")
                with pytest.raises(TypeError, match="all be str or all bytes-like"):
                    await ws.send(["text", b"bytes"])  # found before the first piece went out
                assert ws.open
                with pytest.raises(TypeError, match="all be str or all bytes-like"):
                    await ws.send(["a", "b", b"c"])
                assert not ws.open  # half a message was out: we closed
                await within(ws.wait_closed())
                assert ws.close_code == 1011

    run(main())
    assert seen == ["ok", 1011]


def test_abandoned_stream_and_queued_sends(backend):
    """Leaving recv_streaming() early drops the rest of that message only; a send() issued
    while a streamed one runs goes out after it, not inside it."""
    got: List[Any] = []

    async def handler(ws: Any) -> None:
        pieces = ws.recv_streaming()
        async for piece in pieces:
            got.append(piece)
            break
        await pieces.aclose()  # what an abandoned iterator gets at once on CPython, late on PyPy
        await asyncio.sleep(0.1)
        got.append(await ws.recv())
        got.append(await ws.recv())

    async def main() -> None:
        gate, slow = gated(["a", "b"], ["c"])  # "a" goes out alone: the handler takes it and leaves
        async with serve(handler, codec=backend) as server:
            async with connect(url(server), codec=backend) as ws:
                streamed = asyncio.ensure_future(ws.send(slow))
                await asyncio.sleep(0.1)
                other = asyncio.ensure_future(ws.send("after"))
                await asyncio.sleep(0.05)
                assert not other.done()  # waits for the streamed message
                gate.set()
                await within(asyncio.gather(streamed, other))
                await ws.send("next")
                await within(ws.wait_closed())

    run(main())
    assert got == ["a", "after", "next"]


def test_a_large_message_streams_through_both_sides(backend):
    """64 MiB out, echoed back piece by piece (``send(ws.recv_streaming())``), read piece by
    piece: neither side ever holds more than a small part of it."""
    size, piece = 64 << 20, 256 << 10
    block = hashlib.sha256(b"wscodec").digest() * (piece // 32)

    async def echo(ws: Any) -> None:
        await ws.send(ws.recv_streaming())

    async def source() -> AsyncIterator[bytes]:
        for _ in range(size // piece):
            yield block
            await asyncio.sleep(0)

    async def main() -> int:
        opts = dict(codec=backend, max_message_size=None, compression=None)
        async with serve(echo, **opts) as server:
            async with connect(url(server), **opts) as ws:
                sender = asyncio.ensure_future(ws.send(source()))
                total, digest = 0, hashlib.sha256()
                async for part in ws.recv_streaming():
                    total += len(part)
                    digest.update(part)
                await sender
        expected = hashlib.sha256()
        for _ in range(size // piece):
            expected.update(block)
        assert (total, digest.digest()) == (size, expected.digest())
        return total

    tracemalloc = tracemalloc_or_skip()
    tracemalloc.start()
    try:
        run(main(), 60.0)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < size // 4, peak  # the receive queue's byte mark, not the message size


def test_a_cancelled_recv_loses_nothing(backend):
    got: List[Any] = []

    async def handler(ws: Any) -> None:
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(ws.recv(), 0.2)  # takes "first " and gives up waiting
        got.append(await ws.recv())  # the same message, whole

    async def main() -> None:
        gate, pieces = gated(["first ", "second "], ["third"])
        async with serve(handler, codec=backend) as server:
            async with connect(url(server), codec=backend) as ws:
                sending = asyncio.ensure_future(ws.send(pieces))
                await asyncio.sleep(0.4)
                gate.set()
                await within(sending)
                await within(ws.wait_closed())

    run(main())
    assert got == ["first second third"]
