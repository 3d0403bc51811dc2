"""asyncio server and client over loopback: messages, closing scenarios, timers, back-pressure.

Each test runs once per backend (``codec=backend`` on both sides) inside ``run`` (bounded).
"""

from __future__ import annotations

import asyncio
from typing import Any, List

import pytest

from wscodec.asyncio import ConnectionClosed, ConnectionClosedError, ConnectionClosedOK, connect, serve
from wscodec.asyncio.cli import echo

from .connection_helpers import (
    HANDSHAKE,
    RawClient,
    cframe,
    close_frames,
    frames_of,
    raw_frame,
    run,
    sframe,
    within,
)

FAST = dict(close_timeout=0.3)


def url(server: Any) -> str:
    return "ws://127.0.0.1:%d/" % server.port


def test_echo_and_ping(backend):
    async def main() -> None:
        async with serve(echo, codec=backend, **FAST) as server:
            async with connect(url(server), codec=backend, **FAST) as ws:
                await ws.send("héllo")
                assert await within(ws.recv()) == "héllo"
                for empty in ("", b""):  # nothing queued in bytes, yet a message to write
                    await ws.send(empty)
                    assert await within(ws.recv()) == empty
                await ws.send(b"\x00" * 100_000)
                assert await within(ws.recv()) == b"\x00" * 100_000
                rtt = await within(ws.ping())
                assert rtt >= 0 and ws.latency == rtt
            assert (ws.close_code, ws.was_clean, ws.closed_by) == (1000, True, "local")

    run(main())


def test_client_close(backend):
    seen: List[Any] = []

    async def handler(ws):
        try:
            await ws.recv()
        except ConnectionClosedOK as exc:
            seen.append((exc.code, exc.reason))
        await ws.wait_closed()
        seen.append((ws.close_code, ws.was_clean, ws.closed_by))

    async def main() -> None:
        async with serve(handler, codec=backend, **FAST) as server:
            ws = await connect(url(server), codec=backend, **FAST)
            await within(ws.close(1000, "bye"))
            assert (ws.close_code, ws.close_reason, ws.was_clean, ws.closed_by) == (1000, "bye", True, "local")
            await asyncio.sleep(0.05)
        assert seen == [(1000, "bye"), (1000, True, "remote")]

    run(main())


def test_server_close(backend):
    async def handler(ws):
        await ws.close(4000, "app says bye")

    async def main() -> None:
        async with serve(handler, codec=backend, **FAST) as server:
            ws = await connect(url(server), codec=backend, **FAST)
            with pytest.raises(ConnectionClosedError) as info:  # 4000 is not a "normal" close
                await within(ws.recv())
            assert (info.value.code, info.value.reason) == (4000, "app says bye")
            assert (ws.was_clean, ws.closed_by) == (True, "remote")

    run(main())


def test_simultaneous_close(backend):
    async def main() -> None:
        server_side: List[Any] = []

        async def handler(ws):
            server_side.append(ws)
            await ws.wait_closed()

        async with serve(handler, codec=backend, **FAST) as server:
            ws = await connect(url(server), codec=backend, **FAST)
            while not server_side:
                await asyncio.sleep(0.01)
            await within(asyncio.gather(ws.close(1000, "c"), server_side[0].close(1001, "s")))
            assert (ws.close_code, ws.was_clean) == (1001, True)
            assert (server_side[0].close_code, server_side[0].was_clean) == (1000, True)

    run(main())


def test_peer_never_answers_close(backend):
    async def main() -> None:
        done: List[Any] = []

        async def handler(ws):
            loop = asyncio.get_running_loop()
            start = loop.time()
            await ws.close(1000, timeout=0.2)
            done.append((ws.close_code, ws.was_clean, loop.time() - start))

        async with serve(handler, codec=backend, **FAST) as server:
            raw = await RawClient.connect(server.port)
            assert (await raw.read_head()).startswith(b"HTTP/1.1 101")
            while not done:  # the raw client never reads nor answers
                await asyncio.sleep(0.02)
            raw.close()
        code, clean, elapsed = done[0]
        assert (code, clean) == (1006, False) and elapsed < 2.0

    run(main())


def test_terminate(backend):
    async def handler(ws):
        ws.terminate()

    async def main() -> None:
        async with serve(handler, codec=backend, **FAST) as server:
            ws = await connect(url(server), codec=backend, **FAST)
            with pytest.raises(ConnectionClosedError) as info:
                await within(ws.recv())
            assert info.value.code == 1006 and ws.close_code == 1006 and not ws.was_clean

    run(main())


def test_eof_without_close(backend):
    async def main() -> None:
        result: List[Any] = []

        async def handler(ws):
            try:
                await ws.recv()
            except ConnectionClosed as exc:
                result.append((type(exc), exc.code, ws.closed_by))

        async with serve(handler, codec=backend, **FAST) as server:
            raw = await RawClient.connect(server.port)
            await raw.read_head()
            raw.close()
            while not result:
                await asyncio.sleep(0.01)
        assert result == [(ConnectionClosedError, 1006, "remote")]

    run(main())


def test_close_without_code(backend):
    async def main() -> None:
        result: List[Any] = []

        async def handler(ws):
            async for _ in ws:  # a clean 1005 ends the loop without an exception
                pass
            result.append((ws.close_code, ws.was_clean))

        async with serve(handler, codec=backend, **FAST) as server:
            raw = await RawClient.connect(server.port)
            await raw.read_head()
            await raw.send(cframe(backend, 8, b""))
            answer = await raw.read_all()  # the server answers and then closes TCP
            [frame] = frames_of(backend, answer, from_client=False)
            assert frame.opcode == 8 and bytes(frame.payload) == b""
            raw.close()
            while not result:
                await asyncio.sleep(0.01)
        assert result == [(1005, True)]

    run(main())


@pytest.mark.parametrize(
    "frame, code",
    [
        (lambda b: raw_frame(b, 0x80 | 0x40 | 1, b"x"), 1002),  # RSV1 without extension
        (lambda b: raw_frame(b, 0x80 | 0x0B, b""), 1002),  # reserved opcode
        (lambda b: sframe(b, 1, b"unmasked"), 1002),
        (lambda b: cframe(b, 0, b"nothing to continue"), 1002),
        (lambda b: raw_frame(b, 0x09, b""), 1002),  # fragmented ping
        (lambda b: cframe(b, 1, b"ok", fin=False) + cframe(b, 0, b"\xff", fin=False), 1007),
        (lambda b: cframe(b, 8, b"\x03\xe8\xc3"), 1007),  # close reason not UTF-8
        (lambda b: cframe(b, 2, b"x" * 2000)[:8], 1009),  # header announces too much
    ],
    ids=[
        "rsv",
        "opcode",
        "unmasked",
        "continuation",
        "fragmented-control",
        "utf8",
        "close-reason",
        "too-big",
    ],
)
def test_protocol_errors_close_the_connection(backend, frame, code):
    async def main() -> None:
        async with serve(echo, codec=backend, max_message_size=1000, **FAST) as server:
            raw = await RawClient.connect(server.port)
            await raw.read_head()
            await raw.send(frame(backend))
            answer = await raw.read_all()  # the server sends its close, then closes TCP
            assert [c for c, _ in close_frames(backend, answer, from_client=False)] == [code]
            raw.close()

    run(main())


def test_heartbeat_miss(backend):
    async def main() -> None:
        result: List[Any] = []

        async def handler(ws):
            await ws.wait_closed()
            result.append((ws.close_code, ws.close_reason))

        async with serve(handler, codec=backend, ping_interval=0.1, ping_timeout=0.1, **FAST) as server:
            raw = await RawClient.connect(server.port)
            await raw.read_head()
            data = await raw.read_all()  # the ping arrives, nobody answers, the server drops us
            assert frames_of(backend, data, from_client=False)[0].opcode == 9
            raw.close()
            while not result:
                await asyncio.sleep(0.01)
        assert result[0][0] == 1006 and "ping timeout" in result[0][1]

    run(main())


def test_heartbeat_answered(backend):
    async def handler(ws):
        await asyncio.sleep(0.35)
        await ws.send("still here")

    async def main() -> None:
        async with serve(handler, codec=backend, ping_interval=0.1, ping_timeout=0.1, **FAST) as server:
            async with connect(url(server), codec=backend, **FAST) as ws:  # pongs automatically
                assert await within(ws.recv()) == "still here"

    run(main())


def test_idle_timeout(backend):
    async def main() -> None:
        async with serve(echo, codec=backend, idle_timeout=0.2, **FAST) as server:
            ws = await connect(url(server), codec=backend, **FAST)
            await ws.send("activity")
            assert await within(ws.recv()) == "activity"
            async for _ in ws:  # 1001 is a normal close: the loop just ends
                pass
            assert (ws.close_code, ws.close_reason, ws.closed_by) == (1001, "idle timeout", "remote")

    run(main())


def test_receive_queue_pauses_reading(backend):
    async def main() -> None:
        release = asyncio.Event()
        got: List[Any] = []

        async def handler(ws):
            await release.wait()
            got.append(ws._reading_paused)
            async for msg in ws:
                got.append(msg)

        async with serve(handler, codec=backend, max_queue=2, **FAST) as server:
            async with connect(url(server), codec=backend, **FAST) as ws:
                for i in range(50):
                    await ws.send("m%d" % i)
                await asyncio.sleep(0.1)
                release.set()
                await asyncio.sleep(0.1)
        assert got[0] is True  # reading was paused while the handler did not read
        assert got[1:] == ["m%d" % i for i in range(50)]  # and nothing was lost

    run(main())


async def against_a_non_reader(backend: Any, handler: Any, states: List[Any]) -> None:
    """Serve ``handler`` to a client that never reads, until the handler appends to ``states``."""
    async with serve(handler, codec=backend, max_message_size=None, **FAST) as server:
        raw = await RawClient.connect(server.port, rcvbuf=4096)
        await raw.read_head()
        while not states:
            await asyncio.sleep(0.02)
        raw.close()


def test_send_waits_for_a_reader(backend):
    async def main() -> None:
        states: List[Any] = []

        async def handler(ws):
            chunk = b"x" * 65536
            try:
                for _ in range(400):  # 25 MiB: more than the socket buffers can hold
                    await within(ws.send(chunk), 0.3)
                states.append("never blocked")
            except asyncio.TimeoutError:
                states.append(ws._write_paused)
            ws.terminate()

        await against_a_non_reader(backend, handler, states)
        assert states == [True]

    run(main())


@pytest.mark.parametrize("size", [512, 8192])
def test_small_sends_wait_for_the_loop_but_never_pile_up(backend, size):
    """A burst of small sends leaves in a few writes; a sender that never yields otherwise
    still stops at write_limit (the queued output is written once it passes FLUSH_SIZE)."""
    from wscodec.asyncio.protocol import FLUSH_SIZE

    async def main() -> None:
        writes: List[int] = []
        peak = [0]
        states: List[Any] = []

        async def handler(ws):
            transport_write = ws.transport.write

            def counting(data):
                writes.append(len(data))
                transport_write(data)

            ws.transport.write = counting
            for i in range(200):
                await ws.send(b"%d" % i)
            await asyncio.sleep(0)  # the burst leaves now
            burst_writes = len(writes)
            chunk = b"y" * size
            try:
                for _ in range(40_000_000 // size):
                    await within(ws.send(chunk), 0.3)
                    peak[0] = max(peak[0], sum(map(len, ws.conn._out)))
                states.append("never blocked")
            except asyncio.TimeoutError:
                states.append((burst_writes, ws._write_paused))
            ws.terminate()

        await against_a_non_reader(backend, handler, states)
        (burst_writes, paused), = states
        assert burst_writes <= 3 and paused
        assert peak[0] <= FLUSH_SIZE + 16

    run(main(), timeout=60)


def test_subprotocol_and_headers(backend):
    async def handler(ws):
        await ws.send("%s %s" % (ws.subprotocol, ws.request.headers.get("X-Token")))

    async def main() -> None:
        async with serve(handler, codec=backend, subprotocols=["v2", "v1"], **FAST) as server:
            async with connect(
                url(server),
                codec=backend,
                subprotocols=["v1", "v2"],
                extra_headers=[("X-Token", "t")],
                **FAST,
            ) as ws:
                assert ws.subprotocol == "v2"
                assert await within(ws.recv()) == "v2 t"

    run(main())


def test_frames_after_101_in_the_same_segment(backend):
    """A client may pipeline frames right behind its request: nothing is lost."""

    async def main() -> None:
        got: List[Any] = []

        async def handler(ws):
            async for msg in ws:
                got.append(msg)
            got.append(ws.close_code)

        async with serve(handler, codec=backend, **FAST) as server:
            raw = await RawClient.connect(server.port, request=None)
            close = cframe(backend, 8, backend.build_close(1000))
            await raw.send(HANDSHAKE.encode() + cframe(backend, 1, "early") + close)
            assert (await raw.read_head()).startswith(b"HTTP/1.1 101")
            data = await raw.read_all()  # includes what came with the head
            assert close_frames(backend, data, from_client=False) == [(1000, "")]
            raw.close()
            while len(got) < 2:
                await asyncio.sleep(0.01)
        assert got == ["early", 1000]

    run(main())


def test_replies_to_messages_before_a_protocol_error_go_out_first(backend):
    """Autobahn's "strict" ordering: the echo of a message that came before a bad frame (in
    the same TCP segment) is sent before the close that fails the connection."""

    async def main() -> None:
        async with serve(echo, codec=backend, **FAST) as server:
            raw = await RawClient.connect(server.port)
            await raw.read_head()
            await raw.send(
                cframe(backend, 1, "first")
                + raw_frame(backend, 0x80 | 0x20 | 1, b"rsv2")
                + cframe(backend, 9)
            )
            frames = frames_of(backend, await raw.read_all(), from_client=False)
            assert [(f.opcode, bytes(f.payload)[:2]) for f in frames] == [(1, b"fi"), (8, b"\x03\xea")]
            raw.close()

    run(main())


def test_reading_resumes_for_the_peer_close_once_we_close(backend):
    """The handler never reads and its queue is full, so reading is paused; when it closes,
    the peer's data frames are discarded and its close is read: a clean close, no timeout."""
    ends: List[Any] = []

    async def handler(ws):
        while not ws._reading_paused:
            await asyncio.sleep(0.01)
        await ws.close(1000, "enough")
        ends.append((ws.close_code, ws.was_clean))  # a close timeout would make it unclean

    async def main() -> None:
        async with serve(handler, codec=backend, max_queue=2, close_timeout=1.0) as server:
            async with connect(url(server), codec=backend, close_timeout=1.0) as ws:
                try:
                    for i in range(200):
                        await within(ws.send("m%d" % i))
                except ConnectionClosedOK:
                    pass  # the server's close came first
                with pytest.raises(ConnectionClosedOK):
                    await within(ws.recv())
                assert (ws.close_code, ws.close_reason) == (1000, "enough")
            while not ends:
                await asyncio.sleep(0.01)
        assert ends == [(1000, True)]

    run(main())
