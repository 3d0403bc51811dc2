"""wss://: two endpoints at full speed in both directions over TLS (large messages, the
echo-and-push server, with and without compression), and flow control through the TLS transport
(a sender to a peer that does not read is held at write_limit). Both backends; every case is
bounded. The certificate in tests/data is a self-signed one for 127.0.0.1, for these tests only.
"""

from __future__ import annotations

import asyncio
import os
import ssl
from typing import Any, List, Tuple

import pytest

from wscodec.asyncio import connect, serve

from .connection_helpers import run, within
from .test_duplex_soak import duplex, echo_and_push, send_and_check_echoes

CERTIFICATE = os.path.join(os.path.dirname(__file__), "data", "tls-localhost.pem")
LOADS = {"64KiBx40": (40, 64 * 1024), "1MiBx6": (6, 1 << 20)}


def contexts() -> Tuple[ssl.SSLContext, ssl.SSLContext]:
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(CERTIFICATE)
    client = ssl.create_default_context(cafile=CERTIFICATE)  # hostname checked: 127.0.0.1 is in it
    return server, client


def url(server: Any) -> str:
    return "wss://127.0.0.1:%d/" % server.port


@pytest.mark.parametrize("compression", ["deflate", None])
@pytest.mark.parametrize("load", LOADS)
def test_full_duplex_over_tls(backend, load, compression):
    count, size = LOADS[load]
    server_tls, client_tls = contexts()
    options = dict(codec=backend, compression=compression, max_message_size=None, ping_interval=None)

    async def main() -> None:
        served: List[int] = []

        async def handler(ws: Any) -> None:
            served.append(await duplex(ws, count, size, "server", "client", False))

        async with serve(handler, "127.0.0.1", 0, ssl=server_tls, **options) as server:
            async with connect(url(server), ssl=client_tls, **options) as ws:
                assert await duplex(ws, count, size, "client", "server", False) == count
                await within(ws.wait_closed(), 10)  # the handler returned: the server closed
        assert served == [count]

    run(main(), timeout=30)


def test_echo_and_push_over_tls(backend):
    server_tls, client_tls = contexts()
    options = dict(codec=backend, max_message_size=None, ping_interval=None)

    async def main() -> None:
        async def handler(ws: Any) -> None:
            await echo_and_push(ws, 200, 16 * 1024)

        async with serve(handler, "127.0.0.1", 0, ssl=server_tls, **options) as server:
            async with connect(url(server), ssl=client_tls, **options) as ws:
                assert await send_and_check_echoes(ws, 200, 16 * 1024) == 200

    run(main(), timeout=30)


def test_send_over_tls_waits_for_a_reader(backend):
    """The client stops reading (its queue of one message is full): the server's sends must
    stop at write_limit, however the TLS transport takes what it is given."""
    server_tls, client_tls = contexts()

    async def main() -> None:
        states: List[Any] = []

        async def handler(ws: Any) -> None:
            chunk = os.urandom(65536)  # (compression would shrink a repetitive one to nothing)
            try:
                for _ in range(800):  # 50 MiB: more than the socket and TLS buffers hold
                    await within(ws.send(chunk), 0.5)
                states.append("never blocked")
            except asyncio.TimeoutError:
                states.append((ws._write_paused, ws.transport.get_write_buffer_size()))
            ws.terminate()

        async with serve(handler, "127.0.0.1", 0, ssl=server_tls, codec=backend, max_message_size=None,
                         ping_interval=None) as server:
            client = await connect(url(server), ssl=client_tls, codec=backend, max_queue=1, ping_interval=None)
            while not states:
                await asyncio.sleep(0.02)
            client.terminate()
        [(paused, buffered)] = states
        assert paused
        assert buffered <= 64 * 1024 + 65536 + 1024  # write_limit, plus the frame that crossed it

    run(main(), timeout=30)
