"""asyncio client: handshake checks, open timeout, retry and reconnection with backoff (fake sleep)."""

from __future__ import annotations

import asyncio
import socket
from typing import Any, List

import pytest

from wscodec.asyncio import (
    Backoff,
    ConnectionClosedError,
    InvalidHandshake,
    InvalidStatus,
    connect,
    connect_with_retry,
    reconnecting,
    serve,
)
from wscodec.asyncio.cli import echo

from .connection_helpers import run, within

FAST = dict(close_timeout=0.3)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class FakeSleep:
    def __init__(self, on_sleep: Any = None) -> None:
        self.delays: List[float] = []
        self.on_sleep = on_sleep

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)
        if self.on_sleep is not None:
            await self.on_sleep(len(self.delays))


async def fake_server(answer: bytes) -> Any:
    """A TCP server that reads the request head and answers ``answer`` (b"" = hang up)."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        if answer:
            writer.write(answer)
            await writer.drain()
        writer.close()

    return await asyncio.start_server(handle, "127.0.0.1", 0)


@pytest.mark.parametrize(
    "answer, error",
    [
        (b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n", InvalidStatus),
        (
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Accept: wrong\r\n\r\n",
            InvalidHandshake,
        ),
        (b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n\r\n", InvalidHandshake),
        (b"", ConnectionError),
    ],
    ids=["404", "bad-accept", "no-upgrade", "hang-up"],
)
def test_client_handshake_failures(backend, answer, error):
    async def main() -> None:
        server = await fake_server(answer)
        port = server.sockets[0].getsockname()[1]
        with pytest.raises(error):
            await connect("ws://127.0.0.1:%d/" % port, codec=backend, open_timeout=2)
        server.close()

    run(main())


def test_open_timeout(backend):
    async def main() -> None:
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen()  # accepts TCP (backlog) but never answers the handshake
        loop = asyncio.get_running_loop()
        start = loop.time()
        with pytest.raises(asyncio.TimeoutError):
            await connect("ws://127.0.0.1:%d/" % listener.getsockname()[1], codec=backend, open_timeout=0.2)
        assert loop.time() - start < 2
        listener.close()

    run(main())


def test_backoff_delays(backend):
    plain = Backoff(base=0.1, factor=2, max_delay=1.0, jitter=0.0)
    assert [round(plain.delay(n), 6) for n in range(6)] == [0.1, 0.2, 0.4, 0.8, 1.0, 1.0]
    jittered = Backoff(base=0.1, factor=2, max_delay=1.0, jitter=0.5, rng=lambda: 1.0)
    assert [round(jittered.delay(n), 6) for n in range(3)] == [0.05, 0.1, 0.2]
    with pytest.raises(ValueError):
        Backoff(jitter=2)


def test_connect_with_retry_gives_up_after_max_retries(backend):
    async def main() -> None:
        sleep = FakeSleep()
        port = free_port()  # nothing listens there: connection refused
        with pytest.raises(OSError):
            await connect_with_retry(
                "ws://127.0.0.1:%d/" % port,
                codec=backend,
                max_retries=3,
                sleep=sleep,
                backoff=Backoff(base=1.0, factor=3, jitter=0.0),
            )
        assert sleep.delays == [1.0, 3.0, 9.0]

    run(main())


def test_connect_with_retry_retries_503_not_4xx(backend):
    async def main() -> None:
        async with serve(echo, codec=backend, max_connections=1, **FAST) as server:
            url = "ws://127.0.0.1:%d/" % server.port
            holder = await connect(url, codec=backend, **FAST)

            async def free_a_slot(n: int) -> None:
                await holder.close()
                await asyncio.sleep(0.05)

            sleep = FakeSleep(free_a_slot)
            ws = await connect_with_retry(
                url, codec=backend, sleep=sleep, backoff=Backoff(jitter=0.0), **FAST
            )
            assert sleep.delays == [0.5] and ws.open
            await ws.close()

        forbidden = await fake_server(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
        sleep = FakeSleep()
        with pytest.raises(InvalidStatus):
            await connect_with_retry(
                "ws://127.0.0.1:%d/" % forbidden.sockets[0].getsockname()[1], codec=backend, sleep=sleep
            )
        assert sleep.delays == []  # a 403 will not change by retrying
        forbidden.close()

    run(main())


def test_reconnecting_stops_after_normal_close(backend):
    codes = [1011, 1001, 1000]

    async def handler(ws):
        await ws.close(codes.pop(0), "")

    async def main() -> None:
        async with serve(handler, codec=backend, **FAST) as server:
            sleep = FakeSleep()
            seen: List[Any] = []
            async for ws in reconnecting(
                "ws://127.0.0.1:%d/" % server.port,
                codec=backend,
                sleep=sleep,
                backoff=Backoff(base=0.2, jitter=0.0),
                **FAST,
            ):
                await within(ws.wait_closed())
                seen.append(ws.close_code)
            assert seen == [1011, 1001, 1000]  # no retry after the 1000
            assert sleep.delays == [0.2, 0.2]

    run(main())


def test_reconnecting_after_normal_close_when_asked(backend):
    async def handler(ws):
        await ws.close(1000)

    async def main() -> None:
        async with serve(handler, codec=backend, **FAST) as server:
            sleep = FakeSleep()
            count = 0
            async for ws in reconnecting(
                "ws://127.0.0.1:%d/" % server.port,
                codec=backend,
                sleep=sleep,
                retry_on_normal_close=True,
                **FAST,
            ):
                await within(ws.wait_closed())
                count += 1
                if count == 3:
                    break
            assert count == 3 and len(sleep.delays) == 2

    run(main())


def test_client_answers_messages_that_came_with_the_101_before_failing(backend):
    async def main() -> None:
        got = asyncio.get_running_loop().create_future()

        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            head = await reader.readuntil(b"\r\n\r\n")
            key = [
                l.split(b": ")[1] for l in head.split(b"\r\n") if l.lower().startswith(b"sec-websocket-key")
            ][0]
            writer.write(
                b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                b"Sec-WebSocket-Accept: %s\r\n\r\n" % backend.accept_key(key.decode()).encode()
                + backend.build_frame(1, "hi")
                + backend.build_frame(0, b"no message to continue")
            )
            data = b""
            while True:
                chunk = await reader.read(65536)
                if not chunk:
                    break
                data += chunk
                if b"\x88" in data:  # a close frame started: give it a moment to complete
                    await asyncio.sleep(0.05)
                    data += await reader.read(65536)
                    break
            got.set_result(backend.FrameDecoder(require_mask=True, max_frame_size=None).feed(data))
            writer.close()

        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        ws = await connect("ws://127.0.0.1:%d/" % server.sockets[0].getsockname()[1], codec=backend, **FAST)
        try:
            async for msg in ws:
                await ws.send(msg)
        except ConnectionClosedError as exc:
            assert exc.code == 1002
        frames = await within(got)
        assert [f.opcode for f in frames] == [1, 8]
        assert bytes(frames[0].payload) == b"hi"
        server.close()

    run(main())
