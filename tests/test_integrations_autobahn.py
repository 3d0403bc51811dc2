"""wscodec inside autobahn's WebSocket protocol: the same callbacks, bytes on the wire, close codes,
close reasons, traffic counters and state as autobahn alone, on random streams cut into random
reads (autobahn's asyncio flavour, driven through its transport interface)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import logging
import os
import random
import subprocess
import sys
import time
import types
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple
from unittest import mock

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from .integration_helpers import assert_version_gate, chunked, conversation, differential, encode, require_library

require_library("autobahn.websocket.protocol", "autobahn")

import txaio  # noqa: E402
from autobahn.asyncio.websocket import (  # noqa: E402
    WebSocketClientFactory,
    WebSocketClientProtocol,
    WebSocketServerFactory,
    WebSocketServerProtocol,
)
from autobahn.websocket import protocol as ap  # noqa: E402

import wscodec.integrations as integrations  # noqa: E402
from wscodec.integrations import autobahn as integration  # noqa: E402

WSP = ap.WebSocketProtocol
PATCHED = [
    (ap, "create_xor_masker"),
    (ap, "Utf8Validator"),
    (WSP, "processData"),
    (WSP, "sendFrame"),
    (WSP, "sendData"),
    (WSP, "_connectionMade"),
]
ORIGINALS = {(owner, name): owner.__dict__[name] for owner, name in PATCHED}
MAGIC = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
TIMEOUT = 20.0


class FixedRandom(random.Random):
    """Deterministic masking keys: the factories call ``random.seed()`` (from the system), which
    this ignores."""

    def seed(self, a: Any = None, version: int = 2) -> None:
        super().seed(7 if a is None else a, version)


@pytest.fixture(autouse=True)
def clean() -> Iterator[None]:
    integration.uninstall()
    yield
    integration.uninstall()


def same(run: Callable[[], Any], backend: types.SimpleNamespace) -> Any:
    return differential(run, lambda: integration.install(codec=backend), integration.uninstall)


# --- a connection driven through autobahn's transport interface ----------------------------------


class Transport:
    def __init__(self) -> None:
        self.written: List[bytes] = []
        self.closed: Optional[str] = None

    def write(self, data: bytes) -> None:
        self.written.append(bytes(data))

    def close(self) -> None:
        self.closed = self.closed or "close"

    def abort(self) -> None:
        self.closed = self.closed or "abort"

    def is_closing(self) -> bool:
        return self.closed is not None

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": ("127.0.0.1", 40000), "sockname": ("127.0.0.1", 9000)}.get(name, default)


def recorder(base: type, echo: bool) -> type:
    class Recorder(base):  # type: ignore[valid-type, misc]
        def onMessage(self, payload: bytes, isBinary: bool) -> None:
            self.events.append(("message", payload, isBinary))
            if echo and self.state == self.STATE_OPEN:
                self.sendMessage(payload, isBinary)

        def onPing(self, payload: bytes) -> None:
            self.events.append(("ping", payload))
            super().onPing(payload)

        def onPong(self, payload: bytes) -> None:
            self.events.append(("pong", payload))

        def onClose(self, wasClean: bool, code: Any, reason: Any) -> None:
            self.events.append(("close", wasClean, code, reason))

    return Recorder


def snapshot(proto: Any, transport: Transport) -> Dict[str, Any]:
    names = (
        "state", "wasClean", "wasNotCleanReason", "remoteCloseCode", "remoteCloseReason",
        "localCloseCode", "localCloseReason", "closedByMe", "failedByMe", "droppedByMe",
        "wasMaxFramePayloadSizeExceeded", "wasMaxMessagePayloadSizeExceeded", "inside_message",
    )
    out = {n: getattr(proto, n, None) for n in names}
    out["traffic"] = proto.trafficStats.__json__()
    out["wire"] = b"".join(transport.written)
    out["closed"] = transport.closed
    return out


async def settle(proto: Any) -> None:
    for _ in range(50):  # bounded: the handshake completes through a few loop callbacks
        if proto.state == proto.STATE_OPEN:
            return
        await asyncio.sleep(0)
    raise AssertionError("the handshake did not complete")


async def open_connection(server: bool, options: Dict[str, Any], echo: bool) -> Tuple[Any, Transport]:
    transport = Transport()
    if server:
        factory = WebSocketServerFactory()
        factory.protocol = recorder(WebSocketServerProtocol, echo)
    else:
        factory = WebSocketClientFactory("ws://localhost:9000/")
        factory.protocol = recorder(WebSocketClientProtocol, echo)
    # no timer may fire inside a run, however slow the machine: the runs must see the same events
    timeouts = {"openHandshakeTimeout": 3600, "closeHandshakeTimeout": 3600}
    if not server:
        timeouts["serverConnectionDropTimeout"] = 3600
    factory.setProtocolOptions(**dict(timeouts, **options))
    proto = factory()
    proto.events = []
    proto.connection_made(transport)
    if server:
        proto._dataReceived(
            b"GET / HTTP/1.1\r\nHost: localhost:9000\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )
    else:
        for _ in range(50):
            if transport.written:
                break
            await asyncio.sleep(0)
        request = b"".join(transport.written)
        key = request.split(b"Sec-WebSocket-Key: ")[1].split(b"\r\n")[0]
        accept = base64.b64encode(hashlib.sha1(key + MAGIC).digest())
        proto._dataReceived(
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Accept: " + accept + b"\r\n\r\n"
        )
    await settle(proto)
    transport.written.clear()  # the handshake (with its random key) is not compared
    return proto, transport


def converse(chunks: List[bytes], server: bool, options: Dict[str, Any], echo: bool = True) -> List[Any]:
    """Feed ``chunks`` to an open connection; return everything autobahn did."""

    async def main() -> List[Any]:
        proto, transport = await open_connection(server, options, echo)
        out: List[Any] = []
        for chunk in chunks:
            if transport.closed:
                break
            proto._dataReceived(chunk)
            out.append(list(proto.events))
            proto.events.clear()
        proto.connection_lost(None)
        out.append(proto.events)
        out.append(snapshot(proto, transport))
        return out

    with mock.patch.object(ap, "random", FixedRandom(7)):  # the client's masking keys
        return asyncio.run(asyncio.wait_for(main(), TIMEOUT))


limits = st.sampled_from([0, 0, 0, 1, 125, 126, 1000, 65536])
options = st.fixed_dictionaries(
    {
        "failByDrop": st.booleans(),
        "maxMessagePayloadSize": limits,
        "maxFramePayloadSize": limits,
        "autoFragmentSize": st.sampled_from([0, 0, 0, 7, 200]),
    },
    optional={"applyMask": st.booleans()},
)


@settings(deadline=None, max_examples=150)
@given(data=st.data(), server=st.booleans(), opts=options)
def test_conversation(backend: types.SimpleNamespace, data: st.DataObject, server: bool, opts: Dict[str, Any]) -> None:
    chunks = data.draw(conversation(masked=server).flatmap(chunked))
    same(lambda: converse(chunks, server, opts), backend)


def masked_frames(frames: List[Tuple[int, bytes, bool]]) -> bytes:
    return b"".join(encode(op, p, fin=fin, key=os.urandom(4)) for op, p, fin in frames)


@pytest.mark.parametrize("size", [0, 1, 125, 126, 65535, 65536, 200000, 1 << 20])
@pytest.mark.parametrize("opcode", [1, 2])
def test_sizes_split_reads(backend: types.SimpleNamespace, size: int, opcode: int) -> None:
    payload = (b"\xc3\xa9abc" * (size // 5 + 1))[:size] if opcode == 1 else os.urandom(size)
    if opcode == 1 and size and payload[-1] == 0xC3:
        payload = payload[:-1] + b"a"
    stream = masked_frames([(opcode, payload, True), (0x9, b"ping", True), (0x8, b"\x03\xe8bye", True)])
    for step in (len(stream), 4096, 1 + size // 3):
        chunks = [stream[i : i + step] for i in range(0, len(stream), step)]
        result = same(lambda: converse(chunks, True, {}), backend)
        messages = [e for batch in result[:-1] for e in batch if e[0] == "message"]
        assert messages == [("message", payload, opcode == 2)]


@pytest.mark.parametrize("fail_by_drop", [True, False])
def test_invalid_utf8_at_every_position(backend: types.SimpleNamespace, fail_by_drop: bool) -> None:
    text = "aé€😀b".encode()
    for pos in range(len(text) + 1):
        for bad in (b"\xff", b"\xc0", b"\xed\xa0\x80", b"\xf4\x90", b"\x80", b"\xe2\x82"):
            payload = text[:pos] + bad + text[pos:]
            cut = pos + 1
            stream = masked_frames([(1, payload[:cut], False), (0, payload[cut:], True)])
            result = same(lambda: converse([stream], True, {"failByDrop": fail_by_drop}), backend)
            wire = result[-1]["wire"]
            assert result[-1]["failedByMe"] is True and (fail_by_drop or wire[2:4] == b"\x03\xef"), (pos, bad)


@pytest.mark.parametrize(
    "stream",
    [
        encode(0x3, b"", key=b"abcd"),  # reserved opcode
        encode(0x2, b"x"),  # unmasked client frame
        encode(0x9, b"", fin=False, key=b"abcd"),  # fragmented control frame
        encode(0x2, b"x", rsv=(True, False, False), key=b"abcd"),  # RSV without extension
        encode(0x2, b"x" * 200, key=b"abcd", length_form="64"),  # non-minimal length
        encode(0x0, b"x", key=b"abcd"),  # continuation outside a message
        encode(0x1, b"a", fin=False, key=b"abcd") + encode(0x2, b"b", key=b"abcd"),
        encode(0x8, b"\x03", key=b"abcd"),  # close payload of 1 byte
        encode(0x8, b"\x03\xe8\xff", key=b"abcd"),  # close reason not UTF-8
        encode(0x8, b"\x03\xec", key=b"abcd"),  # close code 1004
        encode(0x8, b"\x0b\xb8ok", key=b"abcd"),  # close code 3000
        encode(0x2, b"x" * 300, key=b"abcd"),  # over maxMessagePayloadSize
    ],
)
@pytest.mark.parametrize("fail_by_drop", [True, False])
def test_violations(backend: types.SimpleNamespace, stream: bytes, fail_by_drop: bool) -> None:
    opts = {"failByDrop": fail_by_drop, "maxMessagePayloadSize": 200}
    for chunks in ([stream], [stream[i : i + 1] for i in range(len(stream))]):
        result = same(lambda: converse(chunks, True, opts), backend)
        assert result[-1]["closed"] or result[-1]["wire"]  # autobahn answered every one


# --- the replaced pieces, unit by unit -----------------------------------------------------------


@given(data=st.data())
def test_utf8_validator_matches_autobahn(backend: types.SimpleNamespace, data: st.DataObject) -> None:
    text = data.draw(st.text(max_size=30)).encode()
    if data.draw(st.booleans()):
        pos = data.draw(st.integers(0, len(text)))
        text = text[:pos] + data.draw(st.binary(min_size=1, max_size=3)) + text[pos:]
    cuts = sorted(data.draw(st.lists(st.integers(0, len(text)), max_size=5)))
    pieces = [text[a:b] for a, b in zip([0] + cuts, cuts + [len(text)])] + [b"", b"z"]

    def run() -> Any:
        v = ap.Utf8Validator()
        results = [v.validate(p) for p in pieces]
        v.reset()
        results.append(v.validate(text))
        return results

    same(run, backend)


def test_utf8_validator_every_cut(backend: types.SimpleNamespace) -> None:
    samples = ["aé€😀\U0010ffffz".encode(), b"\xed\x9f\xbf\xee\x80\x80", b"a\xf0\x90\x80", b"\xe0\xa0"]
    for text in samples:
        for cut in range(len(text) + 1):
            for cut2 in range(cut, len(text) + 1):
                pieces = [text[:cut], text[cut:cut2], text[cut2:]]
                same(lambda: [v.validate(p) for v in [ap.Utf8Validator()] for p in pieces], backend)


@given(data=st.binary(max_size=600), cuts=st.lists(st.integers(0, 600), max_size=4), key=st.binary(min_size=4, max_size=4))
def test_masker_matches_autobahn(backend: types.SimpleNamespace, data: bytes, cuts: List[int], key: bytes) -> None:
    bounds = sorted(min(c, len(data)) for c in cuts)
    pieces = [data[a:b] for a, b in zip([0] + bounds, bounds + [len(data)])]

    def run() -> Any:
        m = ap.create_xor_masker(key, len(data))
        out = [(m.process(p), m.pointer()) for p in pieces]
        m.reset()
        out.append((m.process(data), m.pointer()))
        return out

    same(run, backend)


send_calls = st.tuples(
    st.sampled_from([0, 1, 2, 3, 8, 9, 10, 11]),
    st.one_of(st.binary(max_size=140), st.just(70000)),  # an int: that many bytes
    st.booleans(),
    st.sampled_from([0, 0, 4, 2]),
    st.one_of(st.none(), st.just(b"abcd")),
    st.sampled_from([None, None, 3]),
    st.sampled_from([None, None, 5]),
)


@settings(deadline=None, max_examples=60)
@given(server=st.booleans(), calls=st.lists(send_calls, max_size=4), apply_mask=st.booleans())
def test_send_frame_matches_autobahn(
    backend: types.SimpleNamespace, server: bool, calls: List[Tuple[Any, ...]], apply_mask: bool
) -> None:
    def run() -> Any:
        async def main() -> Any:
            proto, transport = await open_connection(server, {"applyMask": apply_mask}, echo=False)
            for opcode, payload, fin, rsv, mask, payload_len, chopsize in calls:
                if isinstance(payload, int):
                    payload, chopsize = b"x" * payload, None  # chopped: small payloads only
                if payload_len is not None and not payload:
                    continue
                proto.sendFrame(opcode, payload, fin, rsv, mask, payload_len, chopsize)
            proto.sendMessage(b"hello", isBinary=False)
            proto.sendClose(1000, "bye")
            deadline = time.monotonic() + 10  # chopped writes go out through loop callbacks
            while (proto.send_queue or proto.triggered) and time.monotonic() < deadline:
                await asyncio.sleep(0.0001)
            assert not proto.send_queue, "chopped writes still queued"
            return snapshot(proto, transport), list(proto.send_queue)

        with mock.patch.object(ap, "random", FixedRandom(3)):
            return asyncio.run(asyncio.wait_for(main(), TIMEOUT))

    same(run, backend)


def test_debug_log_output_unchanged(backend: types.SimpleNamespace, caplog: pytest.LogCaptureFixture) -> None:
    """With debug logging on, sendData logs the same line with the same arguments."""

    def run() -> Any:
        caplog.clear()
        txaio.set_global_log_level("debug")
        try:
            with caplog.at_level(logging.DEBUG):
                converse([masked_frames([(2, b"abc", True), (1, b"h\xc3\xa9", True)])], True, {})
        finally:
            txaio.set_global_log_level("info")
        return [r.getMessage() for r in caplog.records if "sent" in r.getMessage()]

    lines = same(run, backend)
    assert len(lines) >= 2


# --- install / uninstall ---------------------------------------------------------------------------


def test_install_uninstall_restores_the_same_objects(backend: types.SimpleNamespace) -> None:
    assert integration.install(codec=backend) is True
    assert integrations.installed()["autobahn"] == backend.name
    assert all(owner.__dict__[name] is not ORIGINALS[owner, name] for owner, name in PATCHED)
    assert integration.install(codec=backend) is False  # idempotent
    assert integration.uninstall() is True
    assert integration.uninstall() is False
    for owner, name in PATCHED:
        assert owner.__dict__[name] is ORIGINALS[owner, name]


def test_switching_codec_reinstalls(backends: Any) -> None:
    first, second = backends
    integration.install(codec=first)
    assert integration.install(codec=second) is True
    assert integration.installed() == second.name
    integration.uninstall()
    for owner, name in PATCHED:
        assert owner.__dict__[name] is ORIGINALS[owner, name]


def test_unsupported_version_refused_unless_forced(
    backend: types.SimpleNamespace, monkeypatch: pytest.MonkeyPatch
) -> None:
    import autobahn

    assert_version_gate(integration, backend, monkeypatch, autobahn, "25.12.2")


def test_changed_internals_are_refused(backend: types.SimpleNamespace, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delattr(ap, "create_xor_masker")
    with pytest.raises(integrations.IntegrationError):
        integration.install(codec=backend)
    assert integration.installed() is None
    assert WSP.__dict__["processData"] is ORIGINALS[WSP, "processData"]


TWISTED_CHECK = """
import sys, txaio
import wscodec.integrations.autobahn as integration
codec = sys.argv[1]
if sys.argv[2] == "before":  # the Twisted adapter imported before install: patched at install
    from autobahn.twisted import websocket as tw
    original = tw.WebSocketAdapterProtocol.__dict__["dataReceived"]
    integration.install(codec=codec)
else:  # installed first: patched by the first connection made after the import
    integration.install(codec=codec)
    from autobahn.twisted import websocket as tw
    original = tw.WebSocketAdapterProtocol.__dict__["dataReceived"]
    assert tw.WebSocketAdapterProtocol.__dict__["dataReceived"] is original
    from autobahn.testutil import FakeTransport
    proto = tw.WebSocketServerProtocol()
    proto.factory = tw.WebSocketServerFactory()
    proto.transport = FakeTransport()
    proto.connectionMade()
patched = tw.WebSocketAdapterProtocol.__dict__["dataReceived"]
assert patched is not original
assert (patched.__module__, patched.__qualname__) == (original.__module__, original.__qualname__)
integration.uninstall()
assert tw.WebSocketAdapterProtocol.__dict__["dataReceived"] is original
print("ok")
"""


@pytest.mark.parametrize("order", ["before", "after"])
def test_twisted_adapter_patched_and_restored(backend: types.SimpleNamespace, order: str) -> None:
    """Importing autobahn.twisted selects Twisted for txaio process-wide: checked in a child."""
    require_library("twisted", "twisted")
    out = subprocess.run(
        [sys.executable, "-c", TWISTED_CHECK, backend.name, order],
        capture_output=True, text=True, timeout=60,
    )
    assert out.stdout.strip() == "ok", out.stderr[-2000:]


def test_auto_includes_autobahn(backend: types.SimpleNamespace) -> None:
    assert "autobahn" in integrations.available()
    assert "autobahn" in integrations.auto(["autobahn"], codec=backend.name)
    assert integration.installed() == backend.name


def test_auto_install_environment_variable(backend: types.SimpleNamespace) -> None:
    """WSCODEC_AUTO_INSTALL=autobahn patches autobahn when it is first imported (the .pth line is
    what an installed wheel runs; the same module is imported here)."""
    code = (
        "import wscodec.integrations._autoinstall, sys\n"
        "assert 'autobahn' not in sys.modules\n"
        "import autobahn.websocket.protocol as ap, wscodec.integrations as w\n"
        "print(sorted(w.installed()), ap.Utf8Validator.__module__)"
    )
    env = dict(os.environ, WSCODEC_AUTO_INSTALL="autobahn", WSCODEC_AUTO_INSTALL_CODEC=backend.name)
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60, check=True
    ).stdout.split()
    assert out == ["['autobahn']", "wscodec.integrations.autobahn"]
