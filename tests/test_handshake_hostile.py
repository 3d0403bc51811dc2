"""The opening handshake against hostile or broken peers, server and client, over loopback:
exceptions while handling a request head, data sent before the 101 (held, bounded, paused),
request smuggling, header injection by the caller, timeouts, redirects and the handshake limit.

Server tests run under ``hostile`` (nothing may reach the loop's exception handler) and end with
the server holding no connection.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl
from typing import Any, Callable, List

import pytest

from wscodec.asyncio import InvalidHandshake, InvalidStatus, connect, serve
from wscodec.asyncio import server as server_module
from wscodec.asyncio.cli import echo
from wscodec.http import MAX_EARLY_DATA, Response

from .connection_helpers import HANDSHAKE, MASK, RawClient, cframe, run, within
from .memtrace import tracemalloc_or_skip
from .test_hostile_asyncio import FAST, drained, hostile, read_to_end

EXT = "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"
WITH_EXT = HANDSHAKE.replace("\r\n\r\n", "\r\n" + EXT + "\r\n")
MiB = 1 << 20


def url(server: Any, path: str = "/") -> str:
    return "ws://127.0.0.1:%d%s" % (server.port, path)


async def status_of(raw: RawClient) -> bytes:
    """The status code of the server's answer (b"" if the connection ended without one)."""
    head = await raw.read_head()
    return head[9:12]


async def answer(port: int, request: bytes) -> bytes:
    """Send ``request`` on a fresh socket; the status code of the answer."""
    raw = await RawClient.connect(port, request=None)
    await raw.send(request)
    status = await status_of(raw)
    raw.close()
    return status


class Gate:
    """A process_request that waits until released, then answers ``result``."""

    def __init__(self, result: Any = None) -> None:
        self.called = asyncio.Event()
        self.release = asyncio.Event()
        self.result = result
        self.connections: List[Any] = []

    async def __call__(self, connection: Any, request: Any) -> Any:
        self.connections.append(connection)
        self.called.set()
        await self.release.wait()
        return self.result


# ---------------------------------------------------------------------- 7: exceptions in the head
def test_an_exception_while_negotiating_is_a_500_and_releases_the_connection(backend, monkeypatch, caplog):
    def broken(*args: Any) -> Any:
        raise ValueError("invalid literal for int() with base 10: '\xb9'")

    monkeypatch.setattr(server_module, "server_negotiate", broken)

    async def main() -> None:
        async with serve(echo, codec=backend, **FAST) as server:
            for _ in range(3):
                assert await answer(server.port, WITH_EXT.encode()) == b"500"
            await drained(server)
            assert not server._handshakes

    with caplog.at_level(logging.ERROR, logger="wscodec.server"):
        hostile(main)
    assert any(r.exc_info and isinstance(r.exc_info[1], ValueError) for r in caplog.records)


def test_window_bits_that_are_unicode_digits_get_an_answer(backend):
    """'\xb9' passes str.isdigit() but not int(): whatever the negotiation makes of it, the
    client gets an HTTP answer (101 without the extension, or 500), never silence."""

    async def main() -> None:
        async with serve(echo, codec=backend, **FAST) as server:
            field = 'Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits="\xb9"'
            request = HANDSHAKE.replace("\r\n\r\n", "\r\n%s\r\n\r\n" % field)
            raw = await RawClient.connect(server.port, request)
            head = await raw.read_head()
            assert head[9:12] in (b"101", b"500"), head
            assert b"permessage-deflate" not in head
            raw.close()
            await drained(server)

    hostile(main)


@pytest.mark.parametrize("result", [(200,), ("200", [], b""), 42], ids=["short-tuple", "bad-status", "int"])
def test_a_malformed_process_request_result_is_a_500(backend, result):
    async def main() -> None:
        async with serve(echo, codec=backend, process_request=lambda c, r: result, **FAST) as server:
            assert await answer(server.port, HANDSHAKE.encode()) == b"500"
            await drained(server)

    hostile(main)


async def client_error(backend: Any, answer: Callable[[bytes], bytes], expected: Any) -> Any:
    """The error connect() raises against a server that answers its request head with
    ``answer(head)`` and hangs up."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(answer(await reader.readuntil(b"\r\n\r\n")))
        await writer.drain()
        writer.close()

    fake = await asyncio.start_server(handle, "127.0.0.1", 0)
    try:
        with pytest.raises(expected) as info:
            port = fake.sockets[0].getsockname()[1]
            await connect("ws://127.0.0.1:%d/" % port, codec=backend, open_timeout=3)
    finally:
        fake.close()
    return info.value


def test_client_reports_an_unprocessable_extension_answer_as_invalid_handshake(backend):
    def answer(head: bytes) -> bytes:
        key = [ln.split(b": ")[1] for ln in head.split(b"\r\n") if ln.startswith(b"Sec-WebSocket-Key")][0]
        return (
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Accept: " + backend.accept_key(key.decode()).encode() + b"\r\n"
            b'Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits="\xb9"\r\n\r\n'
        )

    async def main() -> None:
        error = await client_error(backend, answer, InvalidHandshake)
        assert "\xb9" in str(error), error  # it names the offending value

    run(main())


# ---------------------------------------------------------------------- 8 and d: held bytes
def test_bytes_sent_while_process_request_runs_stay_in_the_kernel(backend):
    async def main() -> None:
        tracemalloc = tracemalloc_or_skip()
        gate = Gate(Response(403, "Forbidden", [("Content-Length", "0")]))
        async with serve(echo, codec=backend, process_request=gate, **FAST) as server:
            raw = await RawClient.connect(server.port)
            await within(gate.called.wait())
            flood = memoryview(cframe(backend, 2, bytes(MiB - 14)))
            tracemalloc.start()
            try:
                base = tracemalloc.get_traced_memory()[0]
                sent = 0

                async def send() -> None:
                    nonlocal sent
                    for _ in range(64):  # up to 64 MiB; the kernel's buffers take a few
                        await raw.send(flood)
                        sent += len(flood)

                try:
                    await asyncio.wait_for(send(), 1.0)
                except asyncio.TimeoutError:
                    pass
                peak = tracemalloc.get_traced_memory()[1] - base
            finally:
                tracemalloc.stop()
            (conn,) = gate.connections
            assert len(conn._pending) <= MAX_EARLY_DATA
            assert peak < MiB, (peak, sent)
            gate.release.set()
            assert await within(status_of(raw)) == b"403"
            raw.close()
            await drained(server)

    hostile(main)


def test_early_data_over_the_allowance_is_refused(backend):
    """A transport may deliver a read that was under way when reading paused: what it adds to
    the held bytes is bounded too (400 over the allowance)."""

    async def process_request(connection: Any, request: Any) -> None:
        connection.data_received(b"\x82" * (MAX_EARLY_DATA + 1))
        await asyncio.sleep(0.05)

    async def main() -> None:
        async with serve(echo, codec=backend, process_request=process_request, **FAST) as server:
            assert await answer(server.port, HANDSHAKE.encode()) == b"400"
            await drained(server)

    hostile(main)


def test_early_frames_within_the_allowance_are_delivered_after_process_request(backend):
    async def main() -> None:
        gate = Gate()
        async with serve(echo, codec=backend, process_request=gate, **FAST) as server:
            raw = await RawClient.connect(server.port, request=None)
            await raw.send(HANDSHAKE.encode() + cframe(backend, 1, "early"))
            await within(gate.called.wait())
            await raw.send(cframe(backend, 1, "later"))
            gate.release.set()
            assert (await raw.read_head()).startswith(b"HTTP/1.1 101")
            while raw.buf.count(b"\x81\x05") < 2:
                raw.buf += await within(raw.loop.sock_recv(raw.sock, 65536))
            assert raw.buf == b"\x81\x05early\x81\x05later"
            raw.close()
            await drained(server)

    hostile(main)


@pytest.mark.parametrize(
    "first, filler, status",
    [
        (b"", b"\x00\xffgarbage" * 1000, b"414"),
        (b"GET / HTTP/1.1\r\n", b"X-Field: value\r\n" * 1000, b"431"),
        (b"GET / HTTP/1.1\r\n", b"X-Field: value\n" * 1000, b"400"),
    ],
    ids=["garbage", "endless-fields", "bare-lf"],
)
def test_pre_handshake_flood_keeps_server_growth_under_1_mib(backend, first, filler, status):
    async def main() -> None:
        tracemalloc = tracemalloc_or_skip()
        async with serve(echo, codec=backend, **FAST) as server:
            raw = await RawClient.connect(server.port, request=None)
            data = memoryview(first + filler * (8 * MiB // len(filler)))  # 8 MiB
            reader = asyncio.ensure_future(read_to_end(raw))
            tracemalloc.start()
            try:
                base = tracemalloc.get_traced_memory()[0]
                try:
                    await within(raw.send(data), 3.0)
                except (OSError, asyncio.TimeoutError):
                    pass  # the server dropped us after its answer
                peak = tracemalloc.get_traced_memory()[1] - base
            finally:
                tracemalloc.stop()
            assert peak < MiB, peak
            assert (await within(reader))[9:12] == status
            raw.close()
            await drained(server)

    hostile(main)


# ---------------------------------------------------------------------- 9: smuggling, bare LF
@pytest.mark.parametrize(
    "field",
    ["Content-Length: 11", "Transfer-Encoding: chunked", "content-length: 0"],
    ids=["cl", "te", "cl-0"],
)
def test_an_upgrade_request_with_a_body_is_refused(backend, field):
    async def main() -> None:
        async with serve(echo, codec=backend, **FAST) as server:
            body = cframe(backend, 1, "smug")  # would be read as a frame and echoed
            request = HANDSHAKE.replace("\r\n\r\n", "\r\n%s\r\n\r\n" % field).encode() + body
            raw = await RawClient.connect(server.port, request=None)
            await raw.send(request)
            data = await read_to_end(raw)
            assert data.startswith(b"HTTP/1.1 400"), data[:40]
            assert b"smug" not in data
            raw.close()
            await drained(server)

    hostile(main)


@pytest.mark.parametrize(
    "request_",
    [HANDSHAKE.replace("\r\n", "\n"), HANDSHAKE.replace("Upgrade: websocket\r\n", "Upgrade: websocket\n")],
    ids=["all", "one-line"],
)
def test_bare_lf_line_ends_are_refused_at_once(backend, request_):
    async def main() -> None:
        async with serve(echo, codec=backend, handshake_timeout=30, **FAST) as server:
            raw = await RawClient.connect(server.port, request_)
            assert await within(status_of(raw), 2.0) == b"400"  # not 408 after the timeout
            raw.close()
            await drained(server)

    hostile(main)


@pytest.mark.parametrize("target", [b"/\xc3\xa9", b"/a\x80", b"/\xff"])
def test_non_ascii_request_target_is_refused(backend, target):
    async def main() -> None:
        async with serve(echo, codec=backend, **FAST) as server:
            request = HANDSHAKE.encode().replace(b"GET / ", b"GET " + target + b" ")
            assert await answer(server.port, request) == b"400"
            await drained(server)

    hostile(main)


# ---------------------------------------------------------------------- 10: client input
def test_ssl_context_with_a_ws_url_is_refused(backend):
    async def main() -> None:
        seen: List[Any] = []
        async with serve(lambda ws: seen.append(ws), codec=backend, **FAST) as server:
            with pytest.raises(ValueError, match="wss://"):
                await connect(url(server), codec=backend, ssl=ssl.create_default_context())
            await asyncio.sleep(0.05)
            assert seen == [] and not server._all  # no plaintext connection was made

    run(main())


@pytest.mark.parametrize(
    "kwargs, field",
    [
        (dict(origin="http://x\r\nEvil: 1"), "origin"),
        (dict(extra_headers=[("X-Ok", "a\nGET /other HTTP/1.1")]), "X-Ok"),
        (dict(extra_headers=[("Evil: 1\r\nX", "a")]), "header name"),
        (dict(subprotocols=["chat\r\nEvil: 1"]), "subprotocol"),
    ],
    ids=["origin", "value", "name", "subprotocol"],
)
def test_header_injection_through_connect_is_refused(backend, kwargs, field):
    async def main() -> None:
        requests: List[Any] = []

        async def record(connection: Any, request: Any) -> None:
            requests.append(request)

        async with serve(echo, codec=backend, process_request=record, **FAST) as server:
            with pytest.raises(ValueError) as info:
                await connect(url(server), codec=backend, open_timeout=2, **kwargs)
            assert field in str(info.value)
            await asyncio.sleep(0.05)
            assert requests == []  # refused before anything was sent

    run(main())


def test_resource_with_spaces_and_non_ascii_is_percent_encoded(backend):
    async def main() -> None:
        targets: List[str] = []

        async def record(connection: Any, request: Any) -> None:
            targets.append(request.target)

        async with serve(echo, codec=backend, process_request=record, **FAST) as server:
            async with connect(url(server, "/a b/\u00e9?q=\u20ac%41"), codec=backend, **FAST) as ws:
                await ws.send("x")
                assert await within(ws.recv()) == "x"
        assert targets == ["/a%20b/%C3%A9?q=%E2%82%AC%41"]

    run(main())


# ---------------------------------------------------------------------- 12: timeouts, 3xx, limit
def test_handshake_timeout_message_names_the_phase_and_value(backend):
    async def main() -> None:
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen()  # TCP connects (backlog), the handshake never completes
        port = listener.getsockname()[1]
        with pytest.raises(asyncio.TimeoutError) as info:
            await connect("ws://127.0.0.1:%d/" % port, codec=backend, open_timeout=0.2)
        assert "opening handshake" in str(info.value) and "0.2" in str(info.value), info.value
        listener.close()

    run(main())


def test_connect_timeout_message_names_the_phase(backend):
    async def main() -> None:
        loop = asyncio.get_running_loop()

        async def never(*args: Any, **kwargs: Any) -> Any:
            await asyncio.sleep(3600)

        loop.create_connection = never  # type: ignore[method-assign]
        with pytest.raises(asyncio.TimeoutError) as info:
            await connect("ws://127.0.0.1:9/", codec=backend, open_timeout=0.1)
        assert "TCP connect" in str(info.value) and "0.1" in str(info.value), info.value

    run(main())


def test_redirect_is_reported_with_its_location(backend):
    def answer(head: bytes) -> bytes:
        return b"HTTP/1.1 301 Moved Permanently\r\nLocation: ws://elsewhere:9000/x\r\n\r\n"

    async def main() -> None:
        error = await client_error(backend, answer, InvalidStatus)
        assert error.status == 301
        assert error.location == "ws://elsewhere:9000/x"
        assert "ws://elsewhere:9000/x" in str(error)

    run(main())


def test_handshakes_in_progress_are_limited(backend):
    async def main() -> None:
        gate = Gate()
        async with serve(echo, codec=backend, max_handshakes=2, process_request=gate, **FAST) as server:
            slow = await RawClient.connect(server.port, HANDSHAKE[:20])  # half a request head
            waiting = await RawClient.connect(server.port)  # in process_request
            await within(gate.called.wait())
            with pytest.raises(InvalidStatus) as info:
                await connect(url(server), codec=backend, open_timeout=2, **FAST)
            assert info.value.status == 503 and ("Retry-After", "1") in info.value.headers
            slow.close()
            gate.release.set()
            assert await status_of(waiting) == b"101"
            for _ in range(100):  # the half-open one is gone once the server saw its EOF
                if len(server._handshakes) < 2:
                    break
                await asyncio.sleep(0.01)
            async with connect(url(server), codec=backend, **FAST) as ws:
                await ws.send("x")
                assert await within(ws.recv()) == "x"
            waiting.close()

    hostile(main)
