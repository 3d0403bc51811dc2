"""wscodec inside tornado's WebSocketProtocol13: the same messages, pings, pongs, close codes,
aborts, bytes on the wire, counters and write results as tornado alone, on random streams cut into
random reads, on both sides, with and without permessage-deflate."""

from __future__ import annotations

import asyncio
import socket
import struct
import types
import zlib
from typing import Any, Iterator, List, Optional, Tuple
from unittest import mock

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from .integration_helpers import require_library

ws = require_library("tornado.websocket", "tornado")

import tornado  # noqa: E402
import tornado.web  # noqa: E402
from tornado.httpclient import HTTPRequest  # noqa: E402
from tornado.iostream import IOStream  # noqa: E402

import wscodec.integrations as integrations  # noqa: E402
from wscodec.integrations import tornado as integration  # noqa: E402

from .connection_helpers import run, within  # noqa: E402
from .integration_helpers import (  # noqa: E402
    assert_version_gate,
    chunked,
    conversation,
    counter_bytes,
    describe,
    differential,
    encode,
    text_and_corruption,
    text_frames,
)

P13 = ws.WebSocketProtocol13
PATCHED = [(P13, n) for n in ("_receive_frame", "_handle_message", "write_message", "_write_frame")]
PATCHED.append((ws, "_websocket_mask"))
ORIGINALS = {(owner, name): owner.__dict__[name] for owner, name in PATCHED}
DEFAULT_MAX = 10 * 1024 * 1024  # tornado's websocket_max_message_size default


@pytest.fixture(autouse=True)
def clean() -> Iterator[None]:
    integration.uninstall()
    yield
    integration.uninstall()


def same(run_once: Any, backend: types.SimpleNamespace) -> Any:
    return differential(run_once, lambda: integration.install(codec=backend), integration.uninstall)


class Recorder:
    """tornado's handler interface (``_WebSocketDelegate``): records every callback, echoes
    messages with write_message and keeps the returned futures."""

    def __init__(self, echo: bool, coroutine: bool) -> None:
        self.echo = echo
        self.coroutine = coroutine
        self.events: List[Any] = []
        self.writes: List[Any] = []
        self.proto: Any = None

    def on_message(self, message: Any) -> Any:
        self.events.append(("message", type(message).__name__, message))
        if self.echo:
            try:
                future = self.proto.write_message(message, binary=isinstance(message, bytes))
            except Exception as exc:
                self.events.append(("write raised", describe(exc)))
            else:
                self.events.append(("write done at once", future.done()))
                self.writes.append(future)
        return asyncio.sleep(0) if self.coroutine else None

    def on_ping(self, data: bytes) -> None:
        self.events.append(("ping", data))

    def on_pong(self, data: bytes) -> None:
        self.events.append(("pong", data))

    def on_ws_connection_close(self, code: Optional[int] = None, reason: Optional[str] = None) -> None:
        self.events.append(("closed", code, reason))

    def log_exception(self, typ: Any, value: Any, tb: Any) -> None:
        self.events.append(("exception", typ.__name__, str(value)))


async def session(
    chunks: List[bytes],
    *,
    client: bool,
    max_size: int = DEFAULT_MAX,
    deflate: bool = False,
    echo: bool = True,
    coroutine: bool = False,
    between: Optional[Any] = None,
) -> List[Any]:
    """One WebSocketProtocol13 over a socketpair: ``chunks`` written one by one (the loop runs
    between them, so the protocol sees split reads), then EOF; everything observable."""
    loop = asyncio.get_running_loop()
    ours, peer = socket.socketpair()
    peer.setblocking(False)
    rec = Recorder(echo, coroutine)
    params = ws._WebSocketParams(max_message_size=max_size, compression_options={} if deflate else None)
    proto = P13(rec, mask_outgoing=client, params=params)
    rec.proto = proto
    proto.stream = IOStream(ours)
    proto.stream.set_close_callback(proto.on_connection_close)
    if deflate:
        proto._create_compressors("client" if client else "server", {}, {})
    received = bytearray()

    async def reader() -> None:
        while True:
            try:
                data = await loop.sock_recv(peer, 65536)
            except OSError:
                return
            if not data:
                return
            received.extend(data)

    reading = asyncio.ensure_future(reader())
    receiving = asyncio.ensure_future(proto._receive_frame_loop())
    try:
        for chunk in chunks:
            if receiving.done():
                break
            try:
                await within(loop.sock_sendall(peer, chunk))
            except OSError:
                break  # tornado closed the connection
            for _ in range(3):
                await asyncio.sleep(0)
            if between is not None:
                between()
        try:
            peer.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        try:
            await within(receiving, 5)
        except Exception as exc:  # tornado lets some errors out (a close reason not UTF-8)
            rec.events.append(("receive loop raised", describe(exc)))
        writes = await within(asyncio.gather(*rec.writes, return_exceptions=True), 5)
        if not proto.stream.closed():
            proto.stream.close()
        await within(reading, 5)
    finally:
        peer.close()
        proto.stream.close()
    return [
        rec.events,
        [None if w is None else describe(w) for w in writes],
        bytes(received),
        (proto.close_code, proto.close_reason, proto.client_terminated, proto.server_terminated),
        (proto._wire_bytes_in, proto._wire_bytes_out, proto._message_bytes_in, proto._message_bytes_out),
    ]


def converse(chunks: List[bytes], **kw: Any) -> List[Any]:
    with mock.patch("os.urandom", counter_bytes()):
        return run(session(chunks, **kw), timeout=20)


sizes = st.sampled_from([DEFAULT_MAX, DEFAULT_MAX, 0, 10, 125, 126, 1000, 65536, 70000])


@settings(max_examples=100)
@given(data=st.data(), client=st.booleans(), max_size=sizes, coroutine=st.booleans())
def test_receive(
    backend: types.SimpleNamespace, data: st.DataObject, client: bool, max_size: int, coroutine: bool
) -> None:
    """Random conversations (fragments, control frames between them, close frames with every
    kind of payload, invalid UTF-8, reserved opcodes and bits, wrong mask bits, non-minimal and
    over-size lengths, one flipped bit), cut into random reads."""
    chunks = data.draw(conversation(masked=not client).flatmap(chunked))
    same(lambda: converse(chunks, client=client, max_size=max_size, coroutine=coroutine), backend)


def deflated(messages: List[Any], masked: bool, no_context: bool) -> bytes:
    """The messages as a permessage-deflate peer sends them (RSV1, compressed payload), each
    binary one fragmented with an uncompressed-looking continuation, a ping between."""
    out = []
    comp = zlib.compressobj(6, zlib.DEFLATED, -15)
    for i, m in enumerate(messages):
        if no_context:
            comp = zlib.compressobj(6, zlib.DEFLATED, -15)
        raw = m.encode() if isinstance(m, str) else m
        payload = (comp.compress(raw) + comp.flush(zlib.Z_SYNC_FLUSH))[:-4]
        key = struct.pack("!I", i * 2654435761 & 0xFFFFFFFF) if masked else None
        if isinstance(m, str) or len(payload) < 2:
            out.append(encode(1 if isinstance(m, str) else 2, payload, rsv=(True, False, False), key=key))
        else:
            half = len(payload) // 2
            out.append(encode(2, payload[:half], fin=False, rsv=(True, False, False), key=key))
            out.append(encode(9, b"between", key=key))
            out.append(encode(0, payload[half:], key=key))
    return b"".join(out)


@settings(max_examples=60)
@given(
    data=st.data(),
    client=st.booleans(),
    max_size=st.sampled_from([DEFAULT_MAX, 50, 3000]),
    no_context=st.booleans(),
)
def test_receive_with_permessage_deflate(
    backend: types.SimpleNamespace, data: st.DataObject, client: bool, max_size: int, no_context: bool
) -> None:
    messages = data.draw(
        st.lists(
            st.one_of(st.text(max_size=200), st.binary(max_size=3000), st.just(b"a" * 70000)), max_size=4
        )
    )
    stream = deflated(messages, not client, no_context) + data.draw(conversation(masked=not client))
    chunks = data.draw(chunked(stream))
    same(lambda: converse(chunks, client=client, max_size=max_size, deflate=True), backend)


@settings(max_examples=40)
@given(case=text_and_corruption(), client=st.booleans(), deflate=st.booleans())
def test_text_at_every_position(backend: types.SimpleNamespace, case: Any, client: bool, deflate: bool) -> None:
    """Non-ASCII text, then the same with invalid or truncated UTF-8 at any position, in one or
    two frames (or compressed): tornado's message, then its abort."""
    text, valid, bad, cut_valid, cut_bad = case
    key = None if client else b"\xfa\xfb\xfc\xfd"
    stream = []
    for payload, cut in ((valid, cut_valid), (bad, cut_bad)):
        if deflate:
            z = zlib.compressobj(6, zlib.DEFLATED, -15)
            compressed = (z.compress(payload) + z.flush(zlib.Z_SYNC_FLUSH))[:-4]
            stream.append(encode(1, compressed, rsv=(True, False, False), key=key))
        else:
            stream.append(text_frames(payload, cut, key))
    result = same(lambda: converse(stream, client=client, deflate=deflate), backend)
    assert [e for e in result[0] if e[0] == "message"] == [("message", "str", text)]


READ_CHUNK = 65536  # tornado's IOStream reads the socket in pieces of this size


@pytest.mark.parametrize("where", ["between writes", "between socket reads"])
@pytest.mark.parametrize("client", [False, True])
def test_eof_after_a_header_that_ends_the_buffer(backend: types.SimpleNamespace, client: bool, where: str) -> None:
    """A frame header that ends exactly where the stream's buffer ends, its payload already in the
    socket, then small frames and EOF while a coroutine handler runs: tornado listens for reads
    once the header empties its buffer, sees the EOF and aborts, leaving frames unread; the fast
    path stops at the same frame."""
    key = None if client else b"\x01\x02\x03\x04"
    ping = encode(9, b"\x00", key=key)
    tail = ping[-1:] + b"".join(encode(opcode, b"", key=key) for opcode in (2, 2, 9, 2, 9, 2, 9))
    if where == "between writes":  # messages enough for the second write to be in the socket
        head = b"".join(encode(2, b"m%d" % i, key=key) for i in range(4)) + ping[:-1]
        chunks = [head, tail]
    else:
        length = READ_CHUNK - (len(ping) - 1) - (len(encode(2, bytes(200), key=key)) - 200)
        head = encode(2, bytes(length), key=key) + ping[:-1]
        assert len(head) == READ_CHUNK
        chunks = [head + tail]
    result = same(lambda: converse(chunks, client=client, coroutine=True), backend)
    if where == "between writes":  # (how the kernel splits one large write varies by interpreter)
        assert result[4][0] < len(head + tail)  # tornado stopped reading before the end


@pytest.mark.parametrize("client", [False, True])
@pytest.mark.parametrize("size", [0, 1, 125, 126, 65535, 65536, 300000])
def test_large_and_boundary_messages_in_pieces(
    backend: types.SimpleNamespace, client: bool, size: int
) -> None:
    """Text and binary messages at the length-encoding boundaries, echoed, in small reads."""
    text = ("é" * size)[: max(size // 2, 0)]
    stream = b"".join(
        [
            encode(
                2,
                bytes(range(256)) * (size // 256) + bytes(size % 256),
                key=None if client else b"\x01\x02\x03\x04",
            ),
            encode(1, text.encode(), key=None if client else b"\xfa\xfb\xfc\xfd"),
            encode(8, b"\x03\xe8bye", key=None if client else b"abcd"),
        ]
    )
    pieces = [stream[i : i + 7000] for i in range(0, len(stream), 7000)]
    result = same(lambda: converse(pieces, client=client), backend)
    assert [e[0] for e in result[0]].count("message") == 2
    assert result[3][0] == 1000


@pytest.mark.parametrize(
    "stream, expected",
    [
        (encode(0x3, b"", key=b"abcd"), ("closed", None, None)),  # reserved opcode: abort
        (encode(0x2, b"x", rsv=(True, False, False), key=b"abcd"), ("closed", None, None)),
        (encode(0x9, b"", fin=False, key=b"abcd"), ("closed", None, None)),
        (encode(0x0, b"x", key=b"abcd"), ("closed", None, None)),  # nothing to continue
        (encode(0x1, b"\xff", key=b"abcd"), ("closed", None, None)),  # invalid UTF-8: abort
        (encode(0x1, b"\xed\xa0\x80", key=b"abcd"), ("closed", None, None)),  # a surrogate too
        (encode(0x2, b"x" * 200, key=b"abcd"), ("closed", None, None)),  # over size: 1009 sent
        (encode(0x8, b"\x0f\xa0bye", key=b"abcd"), ("closed", 4000, "bye")),
    ],
)
def test_error_paths(backend: types.SimpleNamespace, stream: bytes, expected: Any) -> None:
    chunks = [stream + encode(2, b"after", key=b"abcd")]
    result = same(lambda: converse(chunks, client=False, max_size=100), backend)
    assert result[0][-1] == expected
    assert not any(e[0] == "message" for e in result[0])
    if len(stream) > 200:
        assert result[2] == b"\x88\x11\x03\xf1message too big"


def test_writes_after_close_and_write_results(backend: types.SimpleNamespace) -> None:
    """write_message on a closed stream raises WebSocketClosedError at once; one whose stream
    closes before it is sent fails with it; the future is never done at once."""

    async def scenario() -> List[Any]:
        out: List[Any] = []
        ours, peer = socket.socketpair()
        proto = P13(Recorder(False, False), mask_outgoing=True, params=ws._WebSocketParams())
        proto.stream = IOStream(ours)
        peer.close()
        big = proto.write_message(b"x" * 5_000_000, binary=True)  # cannot be sent: peer gone
        out.append(big.done())
        out.append(describe((await within(asyncio.gather(big, return_exceptions=True)))[0]))
        proto.stream.close()
        try:
            proto.write_message("late")
        except Exception as exc:
            out.append(describe(exc))
        for message in ({"a": 1}, None, bytearray(b"x")):
            try:
                out.append(type(proto.write_message(message)).__name__)  # type: ignore[arg-type]
            except Exception as exc:
                out.append(describe(exc))
        return out

    def once() -> List[Any]:
        with mock.patch("os.urandom", counter_bytes()):
            return run(scenario())

    result = same(once, backend)
    assert result[:3] == [False, ("WebSocketClosedError", ""), ("WebSocketClosedError", "")]


class AwaitableWrites(P13):
    """A subclass whose _write_frame returns a coroutine, not a Future."""

    def _write_frame(self, fin: bool, opcode: int, data: bytes, flags: int = 0) -> Any:
        written = super()._write_frame(fin, opcode, data, flags)

        async def later() -> Any:
            return await written

        return later()


def test_write_message_with_a_write_frame_that_returns_a_coroutine(backend: types.SimpleNamespace) -> None:
    async def scenario() -> List[Any]:
        ours, peer = socket.socketpair()
        proto = AwaitableWrites(Recorder(False, False), mask_outgoing=False, params=ws._WebSocketParams())
        proto.stream = IOStream(ours)
        first = proto.write_message("hello")
        out: List[Any] = [type(first).__name__, await within(first), peer.recv(100)]
        peer.close()
        second = proto.write_message(b"x" * 5_000_000, binary=True)
        out.append(describe((await within(asyncio.gather(second, return_exceptions=True)))[0]))
        proto.stream.close()
        return out

    result = same(lambda: run(scenario()), backend)
    assert result == ["Task", None, b"\x81\x05hello", ("WebSocketClosedError", "")]


@pytest.mark.parametrize(
    "args",
    [
        (True, 0x9, b"x" * 126, 0),
        (False, 0x9, b"x", 0),
        (True, 0x3, b"reserved", 0),
        (True, 0xB, b"reserved control", 0),
        (True, 0x2, bytearray(b"bytearray"), 0),
        (True, 0x2, memoryview(b"view"), 0),
        (True, 0x1, b"rsv1", 0x40),
        (True, 0x1, b"rsv2", 0x20),
        (False, 0x0, b"continuation", 0),
        (True, 0x8, b"", 0x40),
        (True, 0x2, b"z" * 70000, 0),
    ],
)
def test_write_frame(backend: types.SimpleNamespace, args: Tuple[Any, ...]) -> None:
    def once() -> Any:
        async def scenario() -> Any:
            results = []
            for masked in (False, True):
                ours, peer = socket.socketpair()
                proto = P13(Recorder(False, False), mask_outgoing=masked, params=ws._WebSocketParams())
                proto.stream = IOStream(ours)
                try:
                    proto._write_frame(*args)
                    results.append((peer.recv(200000), proto._wire_bytes_out))
                except Exception as exc:
                    results.append(describe(exc))
                proto.stream.close()
                peer.close()
            return results

        with mock.patch("os.urandom", counter_bytes()):
            return run(scenario())

    same(once, backend)


@pytest.mark.parametrize(
    "mask, data",
    [(b"abcd", b"payload" * 100), (b"abc", b"x"), (b"abcd", bytearray(b"ba")), (bytearray(b"abcd"), b"x")],
)
def test_websocket_mask(backend: types.SimpleNamespace, mask: Any, data: Any) -> None:
    def once() -> Any:
        try:
            return ws._websocket_mask(mask, data)
        except Exception as exc:
            return describe(exc)

    same(once, backend)


# --- end to end: tornado's server and client, both patched --------------------------------------


def tls_contexts() -> Tuple[Any, Any]:
    """(server, client) SSL contexts with the certificate tornado ships for its own tests."""
    import os
    import ssl

    import tornado.test

    here = os.path.dirname(tornado.test.__file__)
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(os.path.join(here, "test.crt"), os.path.join(here, "test.key"))
    client = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    client.check_hostname = False
    client.verify_mode = ssl.CERT_NONE
    return server, client


@pytest.mark.parametrize("tls", [False, True])
@pytest.mark.parametrize("compression", [False, True])
def test_end_to_end_server_and_client(backend: types.SimpleNamespace, compression: bool, tls: bool) -> None:
    """tornado's server and client, both patched, over TCP or TLS (SSLIOStream)."""
    messages: List[Any] = [b"", "", b"\x00" * 125, "é" * 70, b"b" * 126, "ü" * 40000, b"\xff" * 300000]
    messages.append("end")

    class Echo(ws.WebSocketHandler):
        seen: List[Any] = []

        def get_compression_options(self) -> Any:
            return {} if compression else None

        def on_message(self, message: Any) -> None:
            Echo.seen.append(message)
            self.write_message(message, binary=isinstance(message, bytes))

        def on_ping(self, data: bytes) -> None:
            Echo.seen.append(("ping", data))

        def on_close(self) -> None:
            Echo.seen.append(("close", self.close_code, self.close_reason))

    async def scenario() -> List[Any]:
        Echo.seen = []
        app = tornado.web.Application([("/", Echo)])
        server_tls, client_tls = tls_contexts() if tls else (None, None)
        server = app.listen(0, "127.0.0.1", ssl_options=server_tls)
        port = next(iter(server._sockets.values())).getsockname()[1]
        url = "%s://127.0.0.1:%d/" % ("wss" if tls else "ws", port)
        try:
            conn = await within(
                ws.websocket_connect(
                    HTTPRequest(url, ssl_options=client_tls),
                    compression_options={} if compression else None,
                )
            )
            got = []
            for m in messages:
                await within(conn.write_message(m, binary=isinstance(m, bytes)))
                got.append(await within(conn.read_message()))
            conn.ping(b"hi")
            conn.close(4001, "done")
            got.append(await within(conn.read_message()))  # None: closed
            for _ in range(100):
                if Echo.seen and isinstance(Echo.seen[-1], tuple) and Echo.seen[-1][0] == "close":
                    break
                await asyncio.sleep(0.01)
            return [got, list(Echo.seen), conn.close_code, conn.close_reason]
        finally:
            server.stop()

    result = same(lambda: run(scenario(), timeout=30), backend)
    assert result[0] == messages + [None]
    assert result[1][-1] == ("close", 4001, "done")


# --- the fast path is taken --------------------------------------------------------------------


@pytest.mark.parametrize("client", [False, True])
def test_frames_in_pieces_stay_on_the_fast_path(backend: types.SimpleNamespace, client: bool) -> None:
    """Whole frames, frames whose payload arrives in pieces and frames that arrive after an idle
    wait never run tornado's own parser; the messages are tornado's."""
    original = P13.__dict__["_receive_frame"]
    slow_calls: List[Any] = []

    async def counting(self: Any) -> None:
        slow_calls.append(1)
        return await original(self)

    key = None if client else b"\x01\x02\x03\x04"
    big = bytes(range(256)) * 300
    wire = encode(2, big, key=key)
    pieces = [encode(1, b"small", key=key) * 3, wire[:14], wire[14:1000], wire[1000:50000], wire[50000:]]
    pieces.append(encode(8, b"\x03\xe8", key=key))
    with mock.patch.object(P13, "_receive_frame", counting):
        expected = converse(pieces, client=client)
        assert len(slow_calls) >= 5
        slow_calls.clear()
        integration.install(codec=backend)
        try:
            got = converse(pieces, client=client)
        finally:
            integration.uninstall()
    assert got == expected
    assert [e[2] for e in got[0] if e[0] == "message"] == ["small"] * 3 + [big]
    assert slow_calls == []


# --- install / uninstall -----------------------------------------------------------------------


@pytest.mark.parametrize("client", [False, True])
def test_install_and_uninstall_mid_connection(backend: types.SimpleNamespace, client: bool) -> None:
    """Installed and uninstalled between reads, so that frames (and a fragmented message) are
    parsed part by the fast path, part by tornado's: the same as tornado alone."""
    key = None if client else b"\x05\x06\x07\x08"
    frames = [encode(2, bytes([i]) * (i * 700), key=key) for i in range(12)]
    frames[4:4] = [
        encode(1, "frag".encode(), fin=False, key=key),
        encode(9, b"p", key=key),
        encode(0, "ment é".encode(), key=key),
    ]
    wire = b"".join(frames) + encode(8, b"\x03\xe8", key=key)
    chunks = [wire[i : i + 1500] for i in range(0, len(wire), 1500)]
    expected = converse(chunks, client=client)
    flips = iter(range(len(chunks)))

    def toggle() -> None:
        if next(flips) % 2:
            integration.uninstall()
        else:
            integration.install(codec=backend)

    try:
        assert converse(chunks, client=client, between=toggle) == expected
    finally:
        integration.uninstall()
    assert [e[2] for e in expected[0] if e[0] == "message"][4] == "fragment é"


def test_install_uninstall_restores_the_same_objects(backend: types.SimpleNamespace) -> None:
    assert integration.install(codec=backend) is True
    assert integrations.installed()["tornado"] == backend.name
    changed = [(o, n) for o, n in PATCHED if o.__dict__[n] is not ORIGINALS[o, n]]
    # _websocket_mask is left to tornado's own C speedup with the pure-Python codec.
    assert len(changed) == (5 if backend.name == "c" else 4)
    assert integration.install(codec=backend) is False
    assert integration.uninstall() is True
    assert integration.uninstall() is False
    for owner, name in PATCHED:
        assert owner.__dict__[name] is ORIGINALS[owner, name]


def test_unsupported_version_refused_unless_forced(
    backend: types.SimpleNamespace, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert_version_gate(integration, backend, monkeypatch, tornado, "6.4.2", attribute="version")


def test_changed_internals_refused_and_nothing_patched(
    backend: types.SimpleNamespace, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delattr(P13, "_read_bytes")
    with pytest.raises(integrations.IntegrationError):
        integration.install(codec=backend)
    assert integration.installed() is None
    for owner, name in PATCHED:
        assert owner.__dict__[name] is ORIGINALS[owner, name]


def test_text_steps_are_one_place(backend: types.SimpleNamespace) -> None:
    """The patched methods decode and encode text through text_steps() only."""
    calls: List[str] = []

    def decode(data: bytes) -> str:
        calls.append("decode")
        return data.decode("utf-8")

    def encode_(message: str) -> bytes:
        calls.append("encode")
        return message.encode("utf-8")

    with mock.patch.object(integration, "text_steps", lambda codec: (decode, encode_)):
        integration.install(codec=backend)
    result = converse([encode(1, "héllo".encode(), key=b"abcd")], client=False)
    assert result[0][0] == ("message", "str", "héllo")
    assert calls == ["decode", "encode"]


@pytest.mark.parametrize("data", [b"\xed\xa0\x80", b"a\xed\xbf\xbfb", b"\xff", b"\xc0\x80", b"\xe2\x82"])
def test_text_steps_decode_raises_what_tornado_does(backend: types.SimpleNamespace, data: bytes) -> None:
    """Invalid UTF-8 (encoded surrogates included) raises the UnicodeDecodeError of tornado's
    ``data.decode("utf-8")``, on every interpreter."""
    decode = integration.text_steps(backend)[0]
    with pytest.raises(UnicodeDecodeError) as expected:
        data.decode("utf-8")
    for arg in (data, bytearray(data)):
        with pytest.raises(UnicodeDecodeError) as got:
            decode(arg)
        assert got.value.args == expected.value.args


def test_switch_installs_at_the_first_import_of_tornado_websocket(
    backend: types.SimpleNamespace, tmp_path: Any
) -> None:
    """WSCODEC_AUTO_INSTALL: importing tornado alone neither imports tornado.websocket nor
    installs; importing tornado.websocket installs."""
    from .test_integrations_auto import run_python

    code = (
        "import wscodec.integrations as w\n"
        "import tornado.ioloop\n"
        "print('tornado.websocket' in sys.modules, w.installed(), w._pending())\n"
        "import tornado.websocket\n"
        "print(w.installed())\n"
    )
    r = run_python(code, backend.name, tmp_path, WSCODEC_AUTO_INSTALL="tornado")
    assert r.returncode == 0 and r.stderr == "", r.stderr
    assert r.stdout.splitlines() == ["False {} ['tornado']", "{'tornado': %r}" % backend.name]
