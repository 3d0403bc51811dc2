"""wscodec.integrations.uvicorn.WebSocketProtocol under a real uvicorn.Server (in-process, on
127.0.0.1), talked to with wscodec.asyncio.connect. uvicorn's own suite runs against the class
in scripts/run_uvicorn_tests.py; these are the smoke tests that run with ours, on both backends."""

from __future__ import annotations

import asyncio
import socket
import types
from typing import Any, Dict, List, Optional

import pytest

from .integration_helpers import require_library  # noqa: E402

uvicorn = require_library("uvicorn", "uvicorn")

from wscodec.asyncio import ConnectionClosed, InvalidStatus, connect  # noqa: E402
from uvicorn.protocols.utils import ClientDisconnected  # noqa: E402

from wscodec.http import MAX_EARLY_DATA  # noqa: E402
from wscodec.integrations.uvicorn import WebSocketProtocol  # noqa: E402

from .connection_helpers import HANDSHAKE, RawClient, cframe  # noqa: E402

TIMEOUT = 10.0


async def echo_app(scope: Dict[str, Any], receive: Any, send: Any) -> None:
    """Echo; the path picks a behaviour: /deny (403), /teapot (HTTP 418 with a body), /close/CODE
    (the server closes with CODE after the first message), /sub (accepts the first subprotocol),
    /late (accepts after 0.2 s), /push (only sends, never receives), /later (receives nothing for
    a second, then says so)."""
    assert scope["type"] == "websocket"
    record: List[Any] = scope["state"]["events"]
    path = scope["path"]
    message = await receive()
    assert message["type"] == "websocket.connect"
    if path == "/deny":
        await send({"type": "websocket.close"})
        return
    if path == "/teapot":
        await send({"type": "websocket.http.response.start", "status": 418, "headers": [(b"x-tea", b"1")]})
        await send({"type": "websocket.http.response.body", "body": b"short and stout"})
        return
    if path == "/late":  # the client's first frames arrive before the accept
        await asyncio.sleep(0.2)
    sub = scope["subprotocols"][0] if path == "/sub" and scope["subprotocols"] else None
    await send({"type": "websocket.accept", "subprotocol": sub, "headers": [(b"x-echo", b"yes")]})
    if path == "/push":
        try:
            while True:
                await send({"type": "websocket.send", "bytes": b"p" * 65536})
        except ClientDisconnected:
            record.append({"type": "push ended"})
            return
    if path == "/later":
        await asyncio.sleep(1.0)
        await send({"type": "websocket.send", "text": "still here"})
    while True:
        message = await receive()
        record.append(message)
        if message["type"] == "websocket.disconnect":
            return
        if path.startswith("/close/"):
            await send({"type": "websocket.close", "code": int(path[7:]), "reason": "bye"})
            continue  # the next receive() is the disconnect
        await send({"type": "websocket.send", "bytes": message.get("bytes"), "text": message.get("text")})


async def lifespan_app(scope: Dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "http":  # plain HTTP: "ok"
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]})
        await send({"type": "http.response.body", "body": b"ok"})
        return
    if scope["type"] == "lifespan":  # lifespan state: shared with websocket scopes
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                scope["state"]["events"] = EVENTS
                await send({"type": "lifespan.startup.complete"})
            else:
                await send({"type": "lifespan.shutdown.complete"})
                return
    await echo_app(scope, receive, send)


EVENTS: List[Any] = []


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Running:
    def __init__(self, backend: types.SimpleNamespace, **config: Any) -> None:
        protocol = type("WSP", (WebSocketProtocol,), {"codec": backend})
        self.port = free_port()
        self.config = uvicorn.Config(
            lifespan_app, host="127.0.0.1", port=self.port, ws=protocol, log_level="warning", **config
        )
        self.server = uvicorn.Server(self.config)
        self.task: Optional["asyncio.Task[None]"] = None

    def url(self, path: str = "/") -> str:
        return "ws://127.0.0.1:%d%s" % (self.port, path)

    async def __aenter__(self) -> "Running":
        EVENTS.clear()
        self.task = asyncio.ensure_future(self.server.serve())
        for _ in range(500):  # bounded wait for startup
            if self.server.started:
                return self
            await asyncio.sleep(0.01)
        raise RuntimeError("uvicorn did not start")

    async def __aexit__(self, *exc: Any) -> None:
        self.server.should_exit = True
        assert self.task is not None
        await asyncio.wait_for(self.task, TIMEOUT)


def run(coro: Any) -> None:
    asyncio.run(asyncio.wait_for(coro, TIMEOUT))


async def disconnect_event() -> Dict[str, Any]:
    for _ in range(500):
        if EVENTS and EVENTS[-1]["type"] == "websocket.disconnect":
            return EVENTS[-1]
        await asyncio.sleep(0.01)
    raise AssertionError("no websocket.disconnect: %r" % EVENTS)


def test_echo_text_and_binary(backend: types.SimpleNamespace) -> None:
    async def main() -> None:
        async with Running(backend) as srv:
            async with connect(srv.url("/sub"), subprotocols=["chat"]) as ws:
                assert ws.subprotocol == "chat"
                for message in ["héllo", "", b"\x00\xff" * 5000, "x" * 70000, b""]:
                    await ws.send(message)
                    assert await ws.recv() == message
                # pipelined: many in flight, order kept
                for i in range(200):
                    await ws.send("m%d" % i)
                assert [await ws.recv() for _ in range(200)] == ["m%d" % i for i in range(200)]
            assert (await disconnect_event())["code"] == 1000

    run(main())


def test_client_close_code_reaches_app(backend: types.SimpleNamespace) -> None:
    async def main() -> None:
        async with Running(backend) as srv:
            async with connect(srv.url()) as ws:
                await ws.send("hi")
                await ws.recv()
                await ws.close(4001, "client says bye")
            event = await disconnect_event()
            assert (event["code"], event["reason"]) == (4001, "client says bye")
            assert ws.close_code == 4001

    run(main())


def test_server_close_code_reaches_client(backend: types.SimpleNamespace) -> None:
    async def main() -> None:
        async with Running(backend) as srv:
            async with connect(srv.url("/close/4321")) as ws:
                await ws.send("x")
                with pytest.raises(ConnectionClosed) as info:
                    await ws.recv()
                assert (info.value.code, info.value.reason) == (4321, "bye")
            assert ws.was_clean

    run(main())


def test_denial(backend: types.SimpleNamespace) -> None:
    async def main() -> None:
        async with Running(backend) as srv:
            with pytest.raises(InvalidStatus) as info:
                await connect(srv.url("/deny"))
            assert info.value.status == 403
            with pytest.raises(InvalidStatus) as info:
                await connect(srv.url("/teapot"))
            assert info.value.status == 418

    run(main())


def test_message_too_big_and_protocol_error(backend: types.SimpleNamespace) -> None:
    async def main() -> None:
        async with Running(backend, ws_max_size=1000) as srv:
            async with connect(srv.url()) as ws:
                await ws.send(b"x" * 1001)
                with pytest.raises(ConnectionClosed) as info:
                    await ws.recv()
                assert info.value.code == 1009
            assert (await disconnect_event())["code"] == 1009
            # an unmasked frame from a client is a protocol error: 1002
            reader, writer = await asyncio.open_connection("127.0.0.1", srv.port)
            writer.write(
                b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
            )
            head = await reader.readuntil(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 101")
            assert b"s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" in head
            writer.write(b"\x81\x02hi")
            data = await reader.read()  # the close frame, then EOF
            assert data[:1] == b"\x88" and int.from_bytes(data[2:4], "big") == 1002
            writer.close()

    run(main())


def test_protocol_error_while_the_peer_keeps_sending_still_delivers_the_close(
    backend: types.SimpleNamespace,
) -> None:
    """1 MiB more behind the bad frame: the client still reads the 1002 close and a clean EOF (the
    server half-closes and drops the rest), not a connection reset."""

    async def main() -> None:
        async with Running(backend) as srv:
            reader, writer = await asyncio.open_connection("127.0.0.1", srv.port)
            writer.write(
                b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
            )
            assert (await reader.readuntil(b"\r\n\r\n")).startswith(b"HTTP/1.1 101")
            writer.write(b"\x81\x02hi" + b"\x82\x7f" + (1 << 20).to_bytes(8, "big") + bytes(1 << 20))
            sending = asyncio.ensure_future(writer.drain())
            data = await reader.read()  # the close frame, then EOF
            assert data[:1] == b"\x88" and int.from_bytes(data[2:4], "big") == 1002
            await sending
            writer.close()
            assert (await disconnect_event())["code"] == 1002

    run(main())


def test_shutdown_closes_with_1012(backend: types.SimpleNamespace) -> None:
    async def main() -> None:
        srv = Running(backend)
        async with srv:
            ws = await connect(srv.url())
            await ws.send("a")
            assert await ws.recv() == "a"
            srv.server.should_exit = True
            with pytest.raises(ConnectionClosed) as info:
                await ws.recv()
            assert info.value.code == 1012

    run(main())


def test_keepalive_ping(backend: types.SimpleNamespace) -> None:
    async def main() -> None:
        async with Running(backend, ws_ping_interval=0.05, ws_ping_timeout=1.0) as srv:
            async with connect(srv.url()) as ws:
                (protocol,) = list(srv.server.server_state.connections)
                for _ in range(200):  # the client answers pings from its recv loop
                    await ws.send("p")
                    await ws.recv()
                    if protocol.last_ping_rtt > 0:
                        break
                    await asyncio.sleep(0.01)
                assert protocol.last_ping_rtt > 0

    run(main())


async def http_status(port: int, request: bytes) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(request)
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), TIMEOUT)
    writer.close()
    return head[9:12]


def test_failed_handshakes_release_their_connection(backend: types.SimpleNamespace, monkeypatch: Any) -> None:
    """A handshake that fails in our code (500) or on bad input (400) is answered and leaves
    nothing registered: limit_concurrency still admits requests and shutdown completes."""
    import wscodec.deflate

    def broken(*args: Any) -> Any:
        raise ValueError("invalid literal for int() with base 10: '\xb9'")

    monkeypatch.setattr(wscodec.deflate, "server_negotiate", broken)

    async def main() -> None:
        async with Running(backend, limit_concurrency=5) as srv:
            for _ in range(6):
                with pytest.raises(InvalidStatus) as info:
                    await connect(srv.url(), codec=backend)  # offers permessage-deflate
                assert info.value.status == 500
            smuggled = (
                b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
                b"Content-Length: 4\r\n\r\nbody"
            )
            for _ in range(6):
                assert await http_status(srv.port, smuggled) == b"400"
            connections = srv.server.server_state.connections
            for _ in range(500):
                if not connections:
                    break
                await asyncio.sleep(0.01)
            assert not connections, connections
            plain = b"GET /plain HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
            assert await http_status(srv.port, plain) == b"200"
            async with connect(srv.url(), codec=backend, compression=None) as ws:
                await ws.send("still works")
                assert await ws.recv() == "still works"
        # leaving Running waited for uvicorn's graceful shutdown (bounded by TIMEOUT)

    run(main())


def test_frames_sent_before_the_accept_wait_for_the_101(backend: types.SimpleNamespace) -> None:
    """Whatever the client sends before the app accepts is read only after the 101: a protocol
    error there is a close frame after the 101 (not before any HTTP answer), and messages reach
    the app after its accept, in order."""
    upgrade = (
        b"GET /late HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    mask = b"\x01\x02\x03\x04"
    early = backend.build_frame(1, b"early", mask=mask)

    async def after_101(port: int, sent: bytes) -> List[Any]:
        """The frames the server sends after its 101 when ``sent`` arrives before the accept."""
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(upgrade)
        await asyncio.sleep(0.05)  # uvicorn hands the request over, the app is not done
        writer.write(sent)
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), TIMEOUT)
        assert head.startswith(b"HTTP/1.1 101"), head[:60]
        decoder, frames = backend.FrameDecoder(require_mask=False, max_frame_size=None), []
        while not frames:
            frames += decoder.feed(await asyncio.wait_for(reader.read(65536), TIMEOUT))
        writer.close()
        return [(f.opcode, bytes(f.payload)) for f in frames]

    async def main() -> None:
        async with Running(backend) as srv:
            assert await after_101(srv.port, early) == [(1, b"early")]  # echoed after the accept
            [(opcode, payload)] = await after_101(srv.port, b"\x81\x02hi")
            assert (opcode, payload[:2]) == (8, b"\x03\xea")  # 1002

            # a flood before the accept: what is held stays bounded (reading pauses)
            reader, writer = await asyncio.open_connection("127.0.0.1", srv.port)
            writer.write(upgrade)
            await asyncio.sleep(0.05)
            chunk = backend.build_frame(2, bytes(16384), mask=mask)
            writer.write(chunk * 64)  # 1 MiB
            await asyncio.sleep(0.1)
            (protocol,) = list(srv.server.server_state.connections)
            assert not protocol.handshake_complete
            assert len(protocol.early) <= MAX_EARLY_DATA + 256 * 1024  # the allowance and one read
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), TIMEOUT)
            assert head.startswith(b"HTTP/1.1 101")
            echoed = 0
            while echoed < 64 * (16384 + 4):  # every frame, once accepted
                echoed += len(await asyncio.wait_for(reader.read(65536), TIMEOUT))
            writer.close()

    run(main())


def test_peer_close_is_read_while_the_app_only_sends(backend: types.SimpleNamespace) -> None:
    """The app never calls receive() and keeps sending: the client's message, then its close,
    are still read (reading waits only for the app's queue, never for our writes)."""

    async def main() -> None:
        async with Running(backend) as srv:
            ws = await connect(srv.url("/push"), codec=backend, close_timeout=2.0, max_message_size=None)
            await ws.send("never received")
            for _ in range(20):
                assert await ws.recv() == b"p" * 65536
            (protocol,) = list(srv.server.server_state.connections)
            for _ in range(500):  # the message waits in the app's queue
                if protocol.queue.qsize():
                    break
                await asyncio.sleep(0.01)
            assert protocol.queue.qsize() == 1
            await asyncio.wait_for(ws.close(1000, "done"), 5.0)
            assert (ws.close_code, ws.was_clean) == (1000, True)  # not the 2 s close timeout
            for _ in range(500):
                if EVENTS and EVENTS[-1]["type"] == "push ended":
                    break
                await asyncio.sleep(0.01)
            assert EVENTS[-1] == {"type": "push ended"}

    run(main())


def test_heartbeat_pongs_are_read_while_the_app_is_busy(backend: types.SimpleNamespace) -> None:
    """Pongs to uvicorn's heartbeat get through while a message waits for the app: no 1011
    keepalive timeout for a client that answers every ping."""

    async def main() -> None:
        async with Running(backend, ws_ping_interval=0.1, ws_ping_timeout=0.3) as srv:
            async with connect(srv.url("/later"), codec=backend) as ws:
                await ws.send("waits in the queue")
                assert await asyncio.wait_for(ws.recv(), 5.0) == "still here"
                assert await asyncio.wait_for(ws.recv(), 5.0) == "waits in the queue"

    run(main())


def test_heartbeat_follows_uvicorn_defaults(backend: types.SimpleNamespace) -> None:
    protocol = type("WSP", (WebSocketProtocol,), {"codec": backend})
    config = uvicorn.Config(lifespan_app, ws=protocol)
    assert (config.ws_ping_interval, config.ws_ping_timeout) == (20.0, 20.0)

    class State:
        connections: set = set()
        tasks: set = set()
        default_headers: list = []

    ws = protocol(config, State(), {}, _loop=asyncio.new_event_loop())
    try:
        assert (ws.ping_interval, ws.ping_timeout) == (20.0, 20.0)
    finally:
        ws.loop.close()


def test_ping_flood_while_writes_are_paused_holds_one_pong(backend: types.SimpleNamespace) -> None:
    async def main() -> None:
        async with Running(backend) as srv:
            raw = await RawClient.connect(srv.port, HANDSHAKE.replace("GET / ", "GET /push "), rcvbuf=4096)
            assert (await raw.read_head()).startswith(b"HTTP/1.1 101")
            (protocol,) = list(srv.server.server_state.connections)
            for _ in range(500):  # the app pushes until the transport is over its limit
                if not protocol.writable.is_set():
                    break
                await asyncio.sleep(0.01)
            before = protocol.transport.get_write_buffer_size()
            flood = cframe(backend, 9, b"p" * 125) * 1000
            for _ in range(30):  # 4 MB of pings, each answered by a 127-byte pong
                await asyncio.wait_for(raw.send(flood), 2.0)
            await asyncio.sleep(0.05)
            assert protocol.conn.pong_pending  # read, and answered by one waiting pong
            assert protocol.transport.get_write_buffer_size() - before <= 127
            raw.close()

    run(main())
