"""asyncio server: shutdown, connection limit, handshake rejections, and the CLI echo server."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from typing import Any, List

import pytest

import wscodec
from wscodec.asyncio import InvalidStatus, connect, serve
from wscodec.asyncio.cli import echo
from wscodec.http import Response

from .connection_helpers import HANDSHAKE, RawClient, run, within

FAST = dict(close_timeout=0.3)
SRC = os.path.dirname(os.path.dirname(os.path.abspath(wscodec.__file__)))


def url(server: Any) -> str:
    return "ws://127.0.0.1:%d/" % server.port


def test_shutdown_with_cooperative_and_stuck_clients(backend):
    async def main() -> None:
        server = await serve(echo, codec=backend, **FAST)
        good = [await connect(url(server), codec=backend, **FAST) for _ in range(2)]
        stuck = await RawClient.connect(server.port)  # completes the handshake, then plays dead
        assert (await stuck.read_head()).startswith(b"HTTP/1.1 101")
        await asyncio.sleep(0.05)
        assert len(server.connections) == 3
        loop = asyncio.get_running_loop()
        start = loop.time()
        await within(server.shutdown(1001, "maintenance", timeout=0.3))
        elapsed = loop.time() - start
        for ws in good:
            await within(ws.wait_closed())
            assert (ws.close_code, ws.close_reason, ws.was_clean, ws.closed_by) == (
                1001,
                "maintenance",
                True,
                "remote",
            )
        assert 0.25 <= elapsed < 2.5  # waited for the stuck one, then dropped it
        assert server.connections == set()
        assert await stuck.read_all() != b""  # it got the close frame, then the socket closed
        stuck.close()
        with pytest.raises(OSError):
            await connect(url(server), codec=backend, open_timeout=1)

    run(main())


def test_connection_limit_rejects_with_503(backend):
    async def main() -> None:
        async with serve(echo, codec=backend, max_connections=1, **FAST) as server:
            first = await connect(url(server), codec=backend, **FAST)
            with pytest.raises(InvalidStatus) as info:
                await connect(url(server), codec=backend, **FAST)
            assert info.value.status == 503
            await first.close()
            await asyncio.sleep(0.05)
            async with connect(url(server), codec=backend, **FAST) as again:  # room again
                await again.send("x")
                assert await within(again.recv()) == "x"

    run(main())


def test_connection_limit_closes_with_1013(backend):
    async def main() -> None:
        async with serve(echo, codec=backend, max_connections=1, over_limit="close", **FAST) as server:
            first = await connect(url(server), codec=backend, **FAST)
            second = await connect(url(server), codec=backend, **FAST)
            await within(second.wait_closed())
            assert (second.close_code, second.close_reason) == (1013, "too many connections")
            assert first.open
            await first.close()

    run(main())


async def status_of(port: int, request: str) -> bytes:
    raw = await RawClient.connect(port, request)
    head = await raw.read_head()
    raw.close()
    return head


@pytest.mark.parametrize(
    "request_text, status, needle",
    [
        (HANDSHAKE.replace("Version: 13", "Version: 8"), b"426", b"Sec-WebSocket-Version: 13"),
        (HANDSHAKE.replace("Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n", ""), b"400", b""),
        (HANDSHAKE.replace("Key: dGhlIHNhbXBsZSBub25jZQ==", "Key: nope"), b"400", b""),
        (HANDSHAKE.replace("GET", "POST"), b"405", b"Allow: GET"),
        ("GET / HTTP/1.1\r\nHost: x\r\n\r\n", b"426", b"Upgrade: websocket"),
        (HANDSHAKE.replace("Host", "X-Big: " + "y" * 9000 + "\r\nHost"), b"431", b""),
        (HANDSHAKE.replace("Host", "".join("X-%d: y\r\n" % i for i in range(200)) + "Host"), b"431", b""),
        ("GET /" + "a" * 9000, b"414", b""),
        ("garbage\r\n\r\n", b"400", b""),
    ],
    ids=[
        "version",
        "no-key",
        "bad-key",
        "method",
        "plain-http",
        "big-header",
        "many-headers",
        "long-line",
        "garbage",
    ],
)
def test_handshake_rejections(backend, request_text, status, needle):
    async def main() -> None:
        async with serve(echo, codec=backend, **FAST) as server:
            head = await status_of(server.port, request_text)
            assert head.startswith(b"HTTP/1.1 " + status), head
            assert needle in head
            assert server.connections == set()

    run(main())


def test_handshake_timeout(backend):
    async def main() -> None:
        async with serve(echo, codec=backend, handshake_timeout=0.2, **FAST) as server:
            raw = await RawClient.connect(server.port, "GET / HTTP/1.1\r\nHost: x\r\n")  # never finishes
            data = await raw.read_all(timeout=3.0)  # the server gives up and closes
            assert data == b"" or data.startswith(b"HTTP/1.1 408")
            raw.close()

    run(main())


def test_origins_and_process_request(backend):
    async def process_request(conn, request):
        if request.path == "/private":
            return (401, [("WWW-Authenticate", "Bearer")], "no")
        if request.path == "/teapot":
            await asyncio.sleep(0)
            return Response(418, "", [("Content-Length", "0")])  # type: ignore[arg-type]
        return None

    async def main() -> None:
        async with serve(
            echo, codec=backend, origins=["http://good"], process_request=process_request, **FAST
        ) as server:
            head = await status_of(server.port, HANDSHAKE)
            assert head.startswith(b"HTTP/1.1 403")  # no Origin at all
            good = HANDSHAKE.replace("Host", "Origin: http://good\r\nHost")
            assert (await status_of(server.port, good.replace("GET /", "GET /private"))).startswith(
                b"HTTP/1.1 401"
            )
            assert (await status_of(server.port, good.replace("GET /", "GET /teapot"))).startswith(
                b"HTTP/1.1 418"
            )
            async with connect(url(server), codec=backend, origin="http://good", **FAST) as ws:
                await ws.send("in")
                assert await within(ws.recv()) == "in"

    run(main())


def test_handler_error_closes_1011(backend):
    async def handler(ws):
        raise RuntimeError("boom")

    async def main() -> None:
        async with serve(handler, codec=backend, **FAST) as server:
            ws = await connect(url(server), codec=backend, **FAST)
            await within(ws.wait_closed())
            assert (ws.close_code, ws.close_reason) == (1011, "internal error")

    run(main())


def test_cli_echo_server_and_sigterm(backend):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [SRC, os.environ.get("PYTHONPATH")])))
    cmd = [
        sys.executable,
        "-m",
        "wscodec",
        "serve",
        "--port",
        "0",
        "--backend",
        backend.name,
        "--close-timeout",
        "1",
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True)
    try:

        async def main() -> None:
            loop = asyncio.get_running_loop()
            line = await within(loop.run_in_executor(None, proc.stdout.readline), 10)  # type: ignore[union-attr]
            assert line.startswith("listening on ws://127.0.0.1:") and "(backend: %s)" % backend.name in line
            port = int(line.split(":")[2].split()[0])
            ws = await connect("ws://127.0.0.1:%d/" % port, codec=backend, **FAST)
            await ws.send("ping?")
            assert await within(ws.recv()) == "ping?"
            await ws.send(b"\x01\x02")
            assert await within(ws.recv()) == b"\x01\x02"
            proc.send_signal(signal.SIGTERM)
            await within(ws.wait_closed(), 5)
            assert (ws.close_code, ws.was_clean, ws.closed_by) == (1001, True, "remote")

        run(main(), timeout=20)
        assert proc.wait(timeout=10) == 0
        err = proc.stderr.read()  # type: ignore[union-attr]
        assert "backend %s" % backend.name in err and "Traceback" not in err
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()  # type: ignore[union-attr]
        proc.stderr.close()  # type: ignore[union-attr]


@pytest.mark.parametrize("with_process_request", [False, True])
def test_request_kept_after_the_handshake(backend, with_process_request):
    """``ws.request`` in the handler equals what process_request saw, however it is stored."""
    seen: List[Any] = []

    async def process_request(conn, request):
        seen.append(request)
        assert conn.request is request  # during the handshake
        request.headers.append("X-Added", "1")  # kept: the handler sees it
        return None

    async def handler(ws):
        request = ws.request
        assert ws.request == request and ws.request.headers == request.headers
        seen.append(request)
        await ws.send("%s %s %s %s" % (request.method, request.path, request.headers.get("X-Tag"),
                                       request.headers.get("X-Added")))
        await ws.wait_closed()

    async def main() -> None:
        options = dict(process_request=process_request) if with_process_request else {}
        async with serve(handler, codec=backend, **options, **FAST) as server:
            async with connect(url(server) + "room?x=1", codec=backend, extra_headers=[("X-Tag", "é-ok")],
                               **FAST) as ws:
                added = "1" if with_process_request else None
                assert await within(ws.recv()) == "GET /room?x=1 é-ok %s" % added
        assert len(seen) == 1 + with_process_request and seen[0] == seen[-1]

    run(main())
