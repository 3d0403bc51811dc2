"""permessage-deflate (RFC 7692) negotiation: the server's answers (and declines), the client's
checks of an answer, options; and the asyncio server/client and CLI with compression on and off.

Every test runs once per backend (negotiation ends in a connection pair that exchanges messages).
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from wscodec import deflate as d
from wscodec.asyncio import DeflateOptions, connect, serve
from wscodec.asyncio.cli import compression_option, echo, parser
from wscodec.connection import Connection
from wscodec.errors import InvalidHandshake
from wscodec.events import Message

from .connection_helpers import pump, run, within
from .deflate_helpers import json_like
from .integration_helpers import require_library


# ---------------------------------------------------------------- negotiation, server side
S12 = "permessage-deflate; server_max_window_bits=12"


@pytest.mark.parametrize("offers, options, expected", [
    (["permessage-deflate"], {}, S12),
    (["permessage-deflate; client_max_window_bits"], {}, S12 + "; client_max_window_bits=12"),
    (["permessage-deflate; client_max_window_bits=10"], {}, S12 + "; client_max_window_bits=10"),
    (["permessage-deflate; client_max_window_bits=15"], {}, S12 + "; client_max_window_bits=12"),
    (["permessage-deflate; server_max_window_bits=10"], {}, "permessage-deflate; server_max_window_bits=10"),
    (["permessage-deflate; server_max_window_bits=8"], {}, "permessage-deflate; server_max_window_bits=8"),
    (["permessage-deflate; server_max_window_bits=15"], {}, S12),
    (['permessage-deflate; server_max_window_bits="9"'], {}, "permessage-deflate; server_max_window_bits=9"),
    (["Permessage-Deflate; Server_No_Context_Takeover"], {},
     "permessage-deflate; server_no_context_takeover; server_max_window_bits=12"),
    (["permessage-deflate; client_no_context_takeover"], {},
     "permessage-deflate; client_no_context_takeover; server_max_window_bits=12"),
    # what browsers and Autobahn send
    (["permessage-deflate; client_no_context_takeover; client_max_window_bits"], {},
     "permessage-deflate; client_no_context_takeover; server_max_window_bits=12; client_max_window_bits=12"),
    # server preferences
    (["permessage-deflate"], {"server_no_context_takeover": True, "client_no_context_takeover": True},
     "permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=12"),
    (["permessage-deflate"], {"server_max_window_bits": 15}, "permessage-deflate; server_max_window_bits=15"),
    (["permessage-deflate; client_max_window_bits"], {"client_max_window_bits": 9},
     S12 + "; client_max_window_bits=9"),
    (["permessage-deflate"], {"client_max_window_bits": 9}, S12),  # not offered: may not be named
    # several offers, several extensions, several header lines: the first acceptable one
    (["x-webkit-deflate-frame, permessage-deflate"], {}, S12),
    (["permessage-deflate; foo=1, permessage-deflate; server_max_window_bits=11"], {},
     "permessage-deflate; server_max_window_bits=11"),
    (["permessage-deflate; server_max_window_bits=7", "permessage-deflate; server_max_window_bits=10"], {},
     "permessage-deflate; server_max_window_bits=10"),
    # declined: RFC 7692 section 5, an offer with an invalid parameter is not accepted
    (["permessage-deflate; server_no_context_takeover; server_no_context_takeover"], {}, None),
    (["permessage-deflate; client_max_window_bits; client_max_window_bits=10"], {}, None),
    (["permessage-deflate; server_max_window_bits=10; server_max_window_bits=10"], {}, None),
    (["permessage-deflate; unknown_parameter"], {}, None),
    (["permessage-deflate; server_no_context_takeover=1"], {}, None),
    (["permessage-deflate; client_no_context_takeover=true"], {}, None),
    (["permessage-deflate; server_max_window_bits"], {}, None),
    (["permessage-deflate; server_max_window_bits=7"], {}, None),
    (["permessage-deflate; server_max_window_bits=16"], {}, None),
    (["permessage-deflate; server_max_window_bits=09"], {}, None),
    (["permessage-deflate; client_max_window_bits=0x9"], {}, None),
    (['permessage-deflate; client_max_window_bits=""'], {}, None),
    (["permessage-deflate; client_max_window_bits=-10"], {}, None),
    (["permessage-deflate;"], {}, None),  # malformed header: nothing is accepted
    (["permessage-deflate; a b"], {}, None),
    (["x-webkit-deflate-frame"], {}, None),
    ([], {}, None),
])
def test_server_negotiation(backend, offers, options, expected):
    got = d.server_negotiate(offers, DeflateOptions(**options))
    if expected is None:
        assert got is None
        return
    assert got is not None and got[0] == expected
    # the codec follows the answer: a client that accepts it talks to it (window 8 included)
    client = d.client_accept([got[0]], DeflateOptions())
    c = Connection("client", codec=backend, deflate=client)
    s = Connection("server", codec=backend, deflate=got[1])
    text = json_like(3000).decode()
    c.send(text)
    s.send(text)
    ec, es = pump(c, s)
    assert ec == [Message(text)] and es == [Message(text)]


def test_client_offer(backend):
    assert d.client_offer(DeflateOptions()) == "permessage-deflate; client_max_window_bits"
    assert d.client_offer(DeflateOptions(True, True, 10, 11)) == (
        "permessage-deflate; server_no_context_takeover; client_no_context_takeover; "
        "server_max_window_bits=10; client_max_window_bits=11")


# ---------------------------------------------------------------- negotiation, client side
@pytest.mark.parametrize("options, response, expected", [
    ({}, "permessage-deflate", d.Params()),
    ({}, "permessage-deflate; server_no_context_takeover", d.Params(server_no_context_takeover=True)),
    ({}, "permessage-deflate; client_no_context_takeover", d.Params(client_no_context_takeover=True)),
    ({}, "permessage-deflate; server_max_window_bits=10", d.Params(server_max_window_bits=10)),
    ({}, "permessage-deflate; client_max_window_bits=8", d.Params(client_max_window_bits=8)),
    ({}, 'PERMESSAGE-DEFLATE ; client_max_window_bits = "9"', d.Params(client_max_window_bits=9)),
    ({"client_max_window_bits": 10}, "permessage-deflate", d.Params(client_max_window_bits=10)),
    ({"client_max_window_bits": 10}, "permessage-deflate; client_max_window_bits=9",
     d.Params(client_max_window_bits=9)),
    ({"client_no_context_takeover": True}, "permessage-deflate", d.Params(client_no_context_takeover=True)),
    ({"server_no_context_takeover": True, "server_max_window_bits": 10},
     "permessage-deflate; server_no_context_takeover; server_max_window_bits=9",
     d.Params(server_no_context_takeover=True, server_max_window_bits=9)),
    # handshake failures
    ({}, "permessage-deflate; server_no_context_takeover; server_no_context_takeover", InvalidHandshake),
    ({}, "permessage-deflate; client_max_window_bits=10; client_max_window_bits=10", InvalidHandshake),
    ({}, "permessage-deflate; bogus", InvalidHandshake),
    ({}, "permessage-deflate; server_no_context_takeover=1", InvalidHandshake),
    ({}, "permessage-deflate; client_max_window_bits", InvalidHandshake),  # a response needs a value
    ({}, "permessage-deflate; server_max_window_bits", InvalidHandshake),
    ({}, "permessage-deflate; server_max_window_bits=16", InvalidHandshake),
    ({}, "permessage-deflate; client_max_window_bits=010", InvalidHandshake),
    ({}, "permessage-deflate, permessage-deflate", InvalidHandshake),
    ({}, "x-webkit-deflate-frame", InvalidHandshake),
    ({}, "permessage-deflate; =", InvalidHandshake),
    ({"server_no_context_takeover": True}, "permessage-deflate", InvalidHandshake),
    ({"server_max_window_bits": 10}, "permessage-deflate", InvalidHandshake),
    ({"server_max_window_bits": 10}, "permessage-deflate; server_max_window_bits=11", InvalidHandshake),
    ({"client_max_window_bits": 10}, "permessage-deflate; client_max_window_bits=11", InvalidHandshake),
])
def test_client_accept(backend, options, response, expected):
    opts = DeflateOptions(**options)
    if expected is InvalidHandshake:
        with pytest.raises(InvalidHandshake):
            d.client_accept([response], opts)
        return
    codec = d.client_accept([response], opts)
    assert codec is not None and codec.params == expected
    # and a server configured to answer exactly that talks with it
    server = d.PerMessageDeflate(expected, False)
    c = Connection("client", codec=backend, deflate=codec)
    s = Connection("server", codec=backend, deflate=server)
    for msg in (json_like(5000), "x" * 100):
        c.send(msg)
        s.send(msg)
    ec, es = pump(c, s)
    assert [e.data for e in ec] == [e.data for e in es] == [json_like(5000), "x" * 100]


def test_client_accept_declined(backend):
    assert d.client_accept([], DeflateOptions()) is None


def test_options_are_checked(backend):
    for bad in (dict(server_max_window_bits=7), dict(client_max_window_bits=16), dict(level=10),
                dict(mem_level=0), dict(threshold=-1), dict(library="lz4")):
        with pytest.raises(ValueError):
            DeflateOptions(**bad).check()
    with pytest.raises(ValueError):
        d.resolve("gzip")
    assert d.resolve(None) is None and d.resolve(False) is None
    assert d.resolve("deflate") == d.resolve(True) == DeflateOptions()


# ---------------------------------------------------------------- asyncio and the CLI
def url(server: Any) -> str:
    return "ws://127.0.0.1:%d/" % server.port


@pytest.mark.parametrize("server_on, client_on", [(True, True), (False, True), (True, False)])
def test_asyncio_negotiates_and_echoes(backend, server_on, client_on):
    async def main() -> None:
        async with serve(echo, codec=backend, close_timeout=0.5,
                         compression="deflate" if server_on else None) as server:
            async with connect(url(server), codec=backend, close_timeout=0.5,
                               compression=DeflateOptions() if client_on else None) as ws:
                msgs = [json_like(50_000).decode(), json_like(3000), "tiny"]
                for m in msgs:
                    await ws.send(m)
                assert [await within(ws.recv()) for _ in msgs] == msgs
                if server_on and client_on:
                    assert ws.deflate is not None and ws.deflate.header == (
                        "permessage-deflate; server_max_window_bits=12; client_max_window_bits=12")
                    assert ws.response is not None
                    assert ws.response.headers.get("Sec-WebSocket-Extensions") == ws.deflate.header
                    assert ws.deflate.sent_compressed == 2 and ws.deflate.received_compressed == 2
                else:
                    assert ws.deflate is None
                    assert ws.response is not None and "Sec-WebSocket-Extensions" not in ws.response.headers

    run(main())


@pytest.mark.parametrize("answer", [
    "permessage-deflate; bogus=1",
    "permessage-deflate; client_max_window_bits",
    "permessage-deflate; server_max_window_bits=7",
    "permessage-deflate, permessage-deflate",
    "x-other",
])
def test_client_fails_on_invalid_answer(backend, answer):
    """A server that answers the offer with something invalid: the handshake fails."""
    async def main() -> None:
        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            head = await reader.readuntil(b"\r\n\r\n")
            key = [line.split(b":", 1)[1].strip().decode() for line in head.split(b"\r\n")
                   if line.lower().startswith(b"sec-websocket-key:")][0]
            writer.write(("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                          "Sec-WebSocket-Accept: %s\r\nSec-WebSocket-Extensions: %s\r\n\r\n"
                          % (backend.accept_key(key), answer)).encode())
            await writer.drain()
            await reader.read()
            writer.close()

        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        try:
            with pytest.raises(InvalidHandshake):
                await connect("ws://127.0.0.1:%d/" % port, codec=backend, open_timeout=3)
        finally:
            server.close()
            await server.wait_closed()

    run(main())


def test_serve_cli_compression_flags(backend):
    assert compression_option(parser().parse_args([])) == DeflateOptions()
    assert compression_option(parser().parse_args(["--no-compression"])) is None
    opts = compression_option(parser().parse_args(["--compression-level", "6", "--compression-threshold", "0"]))
    assert opts == DeflateOptions(level=6, threshold=0)
    with pytest.raises(ValueError):
        compression_option(parser().parse_args(["--compression-level", "12"]))


def test_websockets_interop(backend):
    """Cross-check with a reference implementation, both ways, when it is installed (it is in the
    test extra for the integrations; nothing else here needs it)."""
    websockets_client = require_library("websockets.asyncio.client", "websockets")
    websockets_server = require_library("websockets.asyncio.server", "websockets")
    msgs = [json_like(100_000).decode(), json_like(20), "é" * 1000]

    async def ws_echo(ws: Any) -> None:
        async for m in ws:
            await ws.send(m)

    async def main() -> None:
        async with serve(echo, codec=backend, close_timeout=0.5) as server:
            async with websockets_client.connect(url(server)) as ws:  # offers permessage-deflate
                assert "permessage-deflate" in ws.response.headers["Sec-WebSocket-Extensions"]
                for m in msgs:
                    await ws.send(m)
                    assert await within(ws.recv()) == m
        async with websockets_server.serve(ws_echo, "127.0.0.1", 0) as wserver:
            port = wserver.sockets[0].getsockname()[1]
            async with connect("ws://127.0.0.1:%d/" % port, codec=backend, close_timeout=0.5) as ours:
                assert ours.deflate is not None  # websockets answers with 12-bit windows
                assert ours.deflate.params == d.Params(False, False, 12, 12), ours.deflate
                for m in msgs:
                    await ours.send(m)
                    assert await within(ours.recv()) == m
                assert ours.deflate.sent_compressed == 2 and ours.deflate.received_compressed >= 2

    run(main())
