"""wscodec inside websocket-client: the same frames, messages, exceptions (type and message),
bytes on the wire, socket reads and frame-buffer state as websocket-client alone, on random
streams cut into random reads (with timeouts in between), and against a real server."""

from __future__ import annotations

import asyncio
import os
import socket
import threading
import types
from typing import Any, Callable, Iterator, List
from unittest import mock

import pytest
from hypothesis import given
from hypothesis import strategies as st

from .integration_helpers import require_library

websocket = require_library("websocket", "websocket-client")

from websocket import _abnf, _core  # noqa: E402
from websocket._abnf import ABNF, frame_buffer  # noqa: E402

import wscodec.integrations as integrations  # noqa: E402
from wscodec.asyncio import serve  # noqa: E402
from wscodec.asyncio.cli import echo  # noqa: E402
from wscodec.integrations import websocket_client as integration  # noqa: E402

from .integration_helpers import (  # noqa: E402
    big_bytes,
    chunked,
    conversation,
    counter_bytes,
    describe,
    differential,
    encode,
    text_and_corruption,
    text_frames,
    toggle_during,
)

PATCHED = [
    (ABNF, "format"),
    (ABNF, "mask"),
    (ABNF, "create_frame"),
    (frame_buffer, "recv_frame"),
    (frame_buffer, "recv_strict"),
    (_abnf, "validate_utf8"),
    (_core.WebSocket, "recv"),
]
ORIGINALS = {(owner, name): owner.__dict__[name] for owner, name in PATCHED}
TIMEOUT = object()  # in a list of reads: the socket times out there


REAL_URANDOM = os.urandom


@pytest.fixture(autouse=True)
def clean() -> Iterator[None]:
    integration.uninstall()
    yield
    integration.uninstall()
    assert os.urandom is REAL_URANDOM, "a test left os.urandom patched"


def same(run: Callable[[], Any], backend: types.SimpleNamespace) -> Any:
    return differential(run, lambda: integration.install(codec=backend), integration.uninstall)


class FakeSock:
    """A connected socket: ``reads`` are what arrives (a recv returns at most one of them, cut to
    its bufsize, like TCP); records every recv size and every byte sent."""

    def __init__(self, reads: List[Any]) -> None:
        self.reads = list(reads)
        self.sizes: List[int] = []
        self.sent: List[bytes] = []

    def gettimeout(self) -> float:
        return 0.0  # websocket-client then calls recv/send directly

    def recv(self, bufsize: int) -> bytes:
        self.sizes.append(bufsize)
        if not self.reads:
            return b""  # EOF
        item = self.reads.pop(0)
        if item is TIMEOUT:
            raise socket.timeout("timed out")
        if len(item) > bufsize:
            self.reads.insert(0, item[bufsize:])
        return item[:bufsize]

    def send(self, data: bytes) -> int:
        self.sent.append(bytes(data))
        return len(data)

    def close(self) -> None:
        pass

    def shutdown(self, how: int) -> None:
        pass


def frame_tuple(frame: Any) -> Any:
    return (frame.fin, frame.rsv1, frame.rsv2, frame.rsv3, frame.opcode, frame.mask_value,
            frame.data, type(frame.data).__name__, type(frame) is ABNF)


def buffer_state(fb: Any) -> Any:
    return fb.header, fb.length, fb.mask_value, list(fb.recv_buffer)


def converse(reads: List[Any], api: str, fire_cont_frame: bool = False, skip_utf8: bool = False) -> List[Any]:
    """websocket-client reading ``reads`` through ``api`` until the stream ends (bounded)."""
    out: List[Any] = []
    with mock.patch("os.urandom", counter_bytes()):
        ws = websocket.WebSocket(fire_cont_frame=fire_cont_frame, skip_utf8_validation=skip_utf8)
        sock = ws.sock = FakeSock(reads)  # type: ignore[assignment]
        ws.connected = True
        for _ in range(400):
            try:
                if api == "recv":
                    message = ws.recv()
                    out.append(("message", type(message).__name__, message))
                elif api == "recv_data":
                    out.append(("data", ws.recv_data(control_frame=True)))
                else:
                    opcode, frame = ws.recv_data_frame(True)
                    out.append(("frame", opcode, frame_tuple(frame)))
            except websocket.WebSocketConnectionClosedException as exc:
                out.append(describe(exc))
                break
            except Exception as exc:  # every other error: recorded, and reading goes on
                out.append(describe(exc))
            out.append(buffer_state(ws.frame_buffer))
        out.append((sock.sent, sock.sizes, ws.connected))
    return out


apis = st.sampled_from(["recv", "recv_data", "recv_data_frame"])


@given(data=st.data(), masked=st.booleans(), api=apis, fire=st.booleans(), skip_utf8=st.booleans())
def test_receive(
    backend: types.SimpleNamespace, data: st.DataObject, masked: bool, api: str, fire: bool, skip_utf8: bool
) -> None:
    reads: List[Any] = list(data.draw(conversation(masked=masked).flatmap(chunked)))
    for _ in range(data.draw(st.integers(0, 3))):  # timeouts anywhere, even mid-header
        reads.insert(data.draw(st.integers(0, len(reads))), TIMEOUT)
    same(lambda: converse(reads, api, fire, skip_utf8), backend)


@pytest.mark.parametrize(
    "stream, expected",
    [
        (encode(0x1, b"ok\xff"), ("WebSocketPayloadException", "cannot decode: b'ok\\xff'")),
        (encode(0x1, b"\xed\xa0\x80", fin=False) + encode(0x0, b""), ("WebSocketPayloadException", None)),
        # Truncated at the end: websocket-client's validator passes it; recv()'s decode raises.
        (encode(0x1, b"ab\xe2\x82"), ("UnicodeDecodeError", None)),
        (encode(0x8, b"\x03\xed"), ("WebSocketProtocolException", "Invalid close opcode 1005")),
        (encode(0x8, b"\x03\xe8\xc3\x28"), ("WebSocketProtocolException", "Invalid close frame.")),
        (encode(0x8, b"\x03"), ("WebSocketProtocolException", "Invalid close frame.")),
        (encode(0x3, b""), ("WebSocketProtocolException", "Invalid opcode 3")),
        (
            encode(0x2, b"x", rsv=(True, False, False)),
            ("WebSocketProtocolException", "rsv is not implemented, yet"),
        ),
        (encode(0x9, b"x", fin=False), ("WebSocketProtocolException", "Invalid ping frame.")),
        (encode(0x0, b"x"), ("WebSocketProtocolException", "Illegal frame")),
    ],
)
def test_errors_are_the_librarys(backend: types.SimpleNamespace, stream: bytes, expected: Any) -> None:
    result = same(lambda: converse([stream], "recv"), backend)
    kind, message = result[0]
    assert kind == expected[0]
    if expected[1] is not None:
        assert message == expected[1]


@given(case=text_and_corruption(), skip_utf8=st.booleans(), api=apis)
def test_text_at_every_position(backend: types.SimpleNamespace, case: Any, skip_utf8: bool, api: str) -> None:
    """Non-ASCII text, and invalid or truncated UTF-8 at any position of a message of one or two
    frames: the library's messages and errors (with and without its own validation)."""
    text, valid, bad, cut_valid, cut_bad = case
    for payload, cut in ((valid, cut_valid), (bad, cut_bad)):
        result = same(lambda: converse([text_frames(payload, cut)], api, skip_utf8=skip_utf8), backend)
        if payload is valid and api == "recv":
            assert result[0] == ("message", "str", text)


@pytest.mark.parametrize("code", [1000, 1001, 1011, 3000, 4999])
def test_close_is_answered(backend: types.SimpleNamespace, code: int) -> None:
    stream = encode(0x8, code.to_bytes(2, "big") + "é".encode(), key=None)
    result = same(lambda: converse([stream], "recv_data_frame"), backend)
    assert result[0] == ("frame", 8, (1, 0, 0, 0, 8, 0, stream[2:], "bytes", True))
    sent = result[-1][0]
    assert len(sent) == 1 and sent[0][:2] == b"\x88\x82"  # the reply: masked close 1000


@given(payload=st.one_of(st.binary(max_size=300), big_bytes), cut=st.integers(1, 13))
def test_split_reads_keep_the_librarys_read_sizes(
    backend: types.SimpleNamespace, payload: bytes, cut: int
) -> None:
    """Reads are exactly the frame's bytes (WebSocketApp waits on the socket between frames), in
    the library's sizes, whatever the reads the peer's bytes arrive in."""
    first = encode(0x2, payload, key=b"\x01\x02\x03\x04")
    stream, cut = first + encode(0x2, b"next"), min(cut, len(first) - 1)  # the timeout mid-frame
    reads = [stream[:cut], TIMEOUT, stream[cut:]]
    result = same(lambda: converse(reads, "recv_data_frame"), backend)
    assert result[0] == ("WebSocketTimeoutException", "Connection timed out")
    assert ("frame", 2, (1, 0, 0, 0, 2, 1, payload, "bytes", True)) in result


def test_the_fast_paths_are_taken(backend: types.SimpleNamespace, monkeypatch: pytest.MonkeyPatch) -> None:
    """Installed, a conversation never reaches websocket-client's Python masking, its UTF-8 DFA,
    its per-step header readers or its key-prefixing masker (they raise here), and gives what
    websocket-client alone gives."""
    from websocket import _utils

    stream = (
        encode(0x1, "héllo".encode() * 50)
        + encode(0x2, bytes(range(256)) * 300, key=b"\x01\x02\x03\x04")
        + encode(0x8, b"\x03\xe8ok")
    )

    def run() -> Any:
        out = converse([stream[:3], stream[3:70000], stream[70000:]], "recv")
        with mock.patch("os.urandom", counter_bytes()):
            ws = websocket.WebSocket()
            sock = ws.sock = FakeSock([])  # type: ignore[assignment]
            ws.send("text é" * 100)
            ws.send_binary(bytes(70000))
        return out, sock.sent

    expected = run()
    messages = [entry[2] for entry in expected[0][:6:2]]
    assert messages == ["héllo" * 50, bytes(range(256)) * 300, ""]  # the close: recv() gives ""

    def boom(*args: Any) -> Any:
        raise AssertionError("websocket-client's slow path ran")

    monkeypatch.setattr(_abnf, "_mask", boom)
    monkeypatch.setattr(_utils, "_validate_utf8", boom)
    for name in ("recv_header", "recv_length", "recv_mask"):
        monkeypatch.setattr(frame_buffer, name, boom)
    monkeypatch.setattr(ABNF, "_get_masked", boom)
    integration.install(codec=backend)
    assert run() == expected


# --- sending -----------------------------------------------------------------------------------

flags = st.sampled_from([0, 1, 0, 1, True, False, 2, 1.0, -1])
opcodes = st.sampled_from([0, 1, 2, 8, 9, 10, 1, 2, 3, 11, True, 2.0])
mask_values = st.sampled_from([0, 1, 1, True, False, 2, 1.0])
datas = st.one_of(
    st.binary(max_size=200),
    st.binary(max_size=200).map(bytearray),
    st.text(max_size=50),
    st.just(None),
    big_bytes,
    st.binary(max_size=10).map(memoryview),
)
key_sources = st.sampled_from(
    [None, b"\x01\x02\x03\x04", bytearray(b"abcd"), "abcd", "é\x00\x01\x02", b"abc", b"abcde", 7]
)


def key_source(kind: Any) -> Any:
    if kind is None:
        return None
    return lambda n: kind


@given(
    fields=st.tuples(flags, flags, flags, flags, opcodes, mask_values, datas),
    keys=st.lists(key_sources, max_size=1),
)
def test_format(backend: types.SimpleNamespace, fields: Any, keys: List[Any]) -> None:
    def run() -> Any:
        with mock.patch("os.urandom", counter_bytes()):
            frame = ABNF(*fields)
            if keys and keys[0] is not None:
                frame.get_mask_key = key_source(keys[0])
            try:
                result = frame.format()
            except Exception as exc:
                return describe(exc)
            return type(result).__name__, result, frame.data

    same(run, backend)


def test_format_draws_the_key_from_os_urandom_by_default(backend: types.SimpleNamespace) -> None:
    integration.install(codec=backend)
    frame = ABNF.create_frame(b"\x00" * 8, ABNF.OPCODE_BINARY)
    assert frame.get_mask_key is os.urandom
    wire = frame.format()
    assert wire[:2] == b"\x82\x88" and len(wire) == 14
    assert wire[6:] == wire[2:6] * 2  # zeros masked: the key, twice
    keys = {ABNF.create_frame(b"\x00" * 4, 2).format()[2:6] for _ in range(50)}
    assert len(keys) > 45  # a fresh random key per frame


@given(key=key_sources.filter(lambda k: k is not None), data=datas)
def test_mask(backend: types.SimpleNamespace, key: Any, data: Any) -> None:
    def run() -> Any:
        try:
            result = ABNF.mask(key, data)
        except Exception as exc:
            return describe(exc)
        return type(result).__name__, result

    same(run, backend)


@given(data=st.data())
def test_send_apis(backend: types.SimpleNamespace, data: st.DataObject) -> None:
    calls = data.draw(
        st.lists(
            st.one_of(
                st.tuples(st.just("send"), st.one_of(st.text(max_size=300), st.binary(max_size=300), big_bytes)),
                st.tuples(st.just("send_binary"), st.one_of(st.binary(max_size=300), big_bytes)),
                st.tuples(st.just("ping"), st.one_of(st.text(max_size=40), st.binary(max_size=130))),
                st.tuples(st.just("pong"), st.binary(max_size=20)),
                st.tuples(st.just("send_close"), st.sampled_from([1000, 1001, 4000, 70000])),
                st.tuples(st.just("send_frame"), st.tuples(opcodes, st.binary(max_size=40), flags)),
                st.tuples(st.just("surrogate"), st.just("a\ud800")),
            ),
            max_size=6,
        )
    )
    custom_key = data.draw(st.sampled_from([None, b"\x11\x22\x33\x44", "wxyz"]))

    def run() -> Any:
        out: List[Any] = []
        with mock.patch("os.urandom", counter_bytes()):
            ws = websocket.WebSocket()
            if custom_key is not None:
                ws.set_mask_key(lambda n: custom_key)
            sock = ws.sock = FakeSock([])  # type: ignore[assignment]
            ws.connected = True
            for name, arg in calls:
                try:
                    if name == "send_frame":
                        opcode, payload, fin = arg
                        result = ws.send_frame(ABNF.create_frame(payload, opcode, fin))
                    elif name == "surrogate":
                        result = ws.send(arg)
                    else:
                        result = getattr(ws, name)(arg)
                except Exception as exc:
                    result = describe(exc)
                out.append(result)
            out.append(sock.sent)
        return out

    same(run, backend)


# --- UTF-8 -------------------------------------------------------------------------------------

utf8_inputs = st.one_of(
    st.binary(max_size=40),
    st.text(max_size=40).map(lambda s: s.encode()),
    st.tuples(st.text(min_size=1, max_size=40), st.integers(0, 200)).map(lambda t: t[0].encode()[: t[1]]),
    st.tuples(
        st.text(max_size=20), st.sampled_from([b"\xff", b"\xc0\x80", b"\xed\xa0\x80", b"\xf4\x90", b"\xe0\x80"])
    ).map(lambda t: t[0].encode() + t[1]),
    st.binary(max_size=40).map(bytearray),
    st.text(max_size=20),
    st.just("a\ud800b"),
)


@given(value=utf8_inputs)
def test_validate_utf8(backend: types.SimpleNamespace, value: Any) -> None:
    """websocket-client's meaning: False only at a byte that cannot start or continue a sequence
    (a truncated last sequence passes)."""
    result = same(lambda: _abnf.validate_utf8(value), backend)
    if isinstance(value, (bytes, bytearray)):
        try:
            bytes(value).decode("utf-8")
        except UnicodeDecodeError as exc:
            assert result is (exc.reason == "unexpected end of data")
        else:
            assert result is True


# --- a real server -----------------------------------------------------------------------------


class EchoServer:
    """wscodec's asyncio echo server on 127.0.0.1, on a loop in its own thread."""

    def __init__(self, backend: types.SimpleNamespace) -> None:
        self.loop = asyncio.new_event_loop()
        self.backend = backend
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def __enter__(self) -> "EchoServer":
        self.thread.start()
        start = serve(echo, "127.0.0.1", 0, codec=self.backend, close_timeout=0.5, compression=None)
        self.server = asyncio.run_coroutine_threadsafe(_awaited(start), self.loop).result(10)
        self.url = "ws://127.0.0.1:%d/" % self.server.port
        return self

    def __exit__(self, *exc: Any) -> None:
        asyncio.run_coroutine_threadsafe(self.server.shutdown(timeout=1.0), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


async def _awaited(aw: Any) -> Any:
    return await aw


def session(url: str) -> List[Any]:
    out: List[Any] = []
    ws = websocket.create_connection(url, timeout=10)
    try:
        for size in (0, 1, 125, 126, 65535, 65536, 300_000):
            text = ("ascii é € 😀 " * (size // 10 + 1))[:size]
            ws.send(text)
            out.append(ws.recv() == text)
            payload = bytes(range(256)) * (size // 256) + bytes(size % 256)
            ws.send_binary(payload)
            out.append(ws.recv() == payload)
        ws.ping(b"are you there")
        opcode, frame = ws.recv_data_frame(True)
        out.append((opcode, frame.data))
        ws.send_frame(ABNF.create_frame("frag", ABNF.OPCODE_TEXT, 0))
        ws.send_frame(ABNF.create_frame(b"mented", ABNF.OPCODE_CONT, 1))
        out.append(ws.recv())
        ws.close(status=4000, reason=b"done")
        out.append((ws.connected, ws.sock))
    finally:
        ws.shutdown()
    return out


def test_against_a_real_server(backend: types.SimpleNamespace) -> None:
    with EchoServer(backend) as server:
        result = same(lambda: session(server.url), backend)
    assert result[:14] == [True] * 14
    assert result[14:] == [(ABNF.OPCODE_PONG, b"are you there"), "fragmented", (False, None)]


# --- install / uninstall -----------------------------------------------------------------------


def test_install_uninstall_restores_the_same_objects(backend: types.SimpleNamespace) -> None:
    assert integration.install(codec=backend) is True
    assert integrations.installed()["websocket_client"] == backend.name
    assert integration.installed() == backend.name
    assert all(owner.__dict__[name] is not ORIGINALS[owner, name] for owner, name in PATCHED)
    assert isinstance(ABNF.__dict__["mask"], staticmethod)
    assert integration.install(codec=backend) is False
    assert integration.uninstall() is True
    assert integration.uninstall() is False
    for owner, name in PATCHED:
        assert owner.__dict__[name] is ORIGINALS[owner, name]
    assert integration.installed() is None


def test_switching_codec_reinstalls(backends: Any) -> None:
    python, c = backends
    assert integration.install(codec=python) is True
    assert integration.install(codec=c) is True
    assert integration.installed() == "c"
    integration.uninstall()
    for owner, name in PATCHED:
        assert owner.__dict__[name] is ORIGINALS[owner, name]


def test_unsupported_version_refused_unless_forced(
    backend: types.SimpleNamespace, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(websocket, "__version__", "1.8.0")
    with pytest.raises(integrations.UnsupportedVersion, match="websocket_client >= 1.9, < 1.10"):
        integration.install(codec=backend)
    assert integration.installed() is None
    assert ABNF.__dict__["format"] is ORIGINALS[ABNF, "format"]
    assert integration.install(codec=backend, force=True)


def test_changed_internals_are_refused(backend: types.SimpleNamespace, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delattr(frame_buffer, "recv_strict")
    with pytest.raises(integrations.IntegrationError, match="frame_buffer"):
        integration.install(codec=backend)
    assert integration.installed() is None


def test_overrides_take_the_librarys_path(backend: types.SimpleNamespace) -> None:
    """A frame_buffer subclass, or one with a method replaced on the instance, runs the library's
    own recv_frame (which calls those overrides)."""

    class Counting(frame_buffer):
        headers = 0

        def recv_header(self) -> None:
            Counting.headers += 1
            super().recv_header()

    integration.install(codec=backend)
    sock = FakeSock([encode(0x2, b"abc")])
    fb = Counting(sock.recv, True)
    assert fb.recv_frame().data == b"abc" and Counting.headers == 1
    sock = FakeSock([encode(0x2, b"xyz")])
    plain = frame_buffer(sock.recv, True)
    seen: List[int] = []
    plain.recv_length = lambda: (seen.append(1), frame_buffer.recv_length(plain))  # type: ignore[assignment]
    assert plain.recv_frame().data == b"xyz" and seen == [1]


def test_auto_and_the_switch_name(backend: types.SimpleNamespace) -> None:
    assert "websocket_client" in integrations.available()
    assert "websocket_client" in integrations.auto(["websocket_client"], codec=backend)
    assert integrations.installed()["websocket_client"] == backend.name
    from wscodec.integrations import _autoinstall

    assert _autoinstall.selection("websocket_client") == ["websocket_client"]


def test_switch_installs_at_first_import(backend: types.SimpleNamespace, tmp_path: Any) -> None:
    """WSCODEC_AUTO_INSTALL=websocket_client: nothing imported early, installed on ``import websocket``."""
    from .test_integrations_auto import run_python

    code = (
        "import wscodec.integrations as w\n"
        "print('websocket' in sys.modules, w._pending())\n"
        "import websocket\n"
        "print(w.installed(), websocket.ABNF.format.__module__)\n"
    )
    r = run_python(code, backend.name, tmp_path, WSCODEC_AUTO_INSTALL="websocket_client")
    assert (r.returncode, r.stderr) == (0, "")
    assert r.stdout.splitlines() == [
        "False ['websocket_client']",
        "{'websocket_client': %r} wscodec.integrations.websocket_client" % backend.name,
    ]


def test_install_uninstall_from_many_threads_while_frames_are_read(backend: types.SimpleNamespace) -> None:
    stream = b"".join(encode(0x1, ("é%d" % i).encode() * 40, key=None) for i in range(40))
    stream += encode(0x8, b"\x03\xe8bye")

    def read_all() -> List[Any]:  # nothing is sent: os.urandom stays (patching it from threads races)
        sock = FakeSock([stream[i : i + 97] for i in range(0, len(stream), 97)])
        fb = frame_buffer(sock.recv, False)
        return [frame_tuple(fb.recv_frame()) for _ in range(41)] + [sock.sizes]

    errors = toggle_during(read_all, lambda: integration.install(codec=backend), integration.uninstall)
    assert errors == []
    integration.uninstall()
    for owner, name in PATCHED:
        assert owner.__dict__[name] is ORIGINALS[owner, name]

