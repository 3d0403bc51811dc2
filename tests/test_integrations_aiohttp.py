"""wscodec inside aiohttp's WebSocket writer: the same bytes, write calls, flow-control accounting
and exceptions as aiohttp alone, and over a live aiohttp client/server connection the same
messages, close codes and errors (oversized, invalid UTF-8, compressed, fragmented by size)."""

from __future__ import annotations

import os
import random
import subprocess
import sys
import types
from pathlib import Path
from typing import Any, Iterator, List, Tuple

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from .connection_helpers import run
from .integration_helpers import (
    assert_version_gate,
    big_bytes,
    describe,
    differential,
    require_library,
    toggle_during,
)

require_library("aiohttp", "aiohttp")

import aiohttp  # noqa: E402
from aiohttp import WSMsgType, web  # noqa: E402
from aiohttp._websocket import writer as aiohttp_writer  # noqa: E402

import wscodec.integrations as integrations  # noqa: E402
from wscodec.integrations import aiohttp as integration  # noqa: E402

Writer = aiohttp_writer.WebSocketWriter
ORIGINAL = Writer.__dict__["_write_websocket_frame"]


@pytest.fixture(autouse=True)
def clean() -> Iterator[None]:
    integration.uninstall()
    yield
    integration.uninstall()


def same(run_once: Any, backend: types.SimpleNamespace) -> Any:
    return differential(run_once, lambda: integration.install(codec=backend), integration.uninstall)


class Transport:
    """Records every write (type and bytes); ``closing`` makes aiohttp refuse to write."""

    def __init__(self, closing: bool = False) -> None:
        self.writes: List[Tuple[str, bytes]] = []
        self.closing = closing

    def is_closing(self) -> bool:
        return self.closing

    def write(self, data: Any) -> None:
        self.writes.append((type(data).__name__, bytes(data)))


class Protocol:
    _paused = False

    async def _drain_helper(self) -> None:  # pragma: no cover - never paused here
        pass


def make_writer(mask: bool, closing: bool = False, compress: int = 0) -> Any:
    transport: Any = Transport(closing)
    protocol: Any = Protocol()
    return Writer(protocol, transport, use_mask=mask, random=random.Random(7), compress=compress)


payload_types = st.sampled_from([bytes, bytearray, memoryview, "strided", "str"])


def as_type(data: bytes, kind: Any) -> Any:
    if kind == "strided":
        return memoryview(data + data)[::2]  # not contiguous: aiohttp's own path
    if kind == "str":
        return data.decode("latin-1")  # not bytes-like: aiohttp's own error
    return kind(data)


frames = st.tuples(
    st.one_of(st.binary(max_size=300), big_bytes, st.binary(min_size=16380, max_size=16390)),
    payload_types,
    st.integers(0, 15),
    st.sampled_from([0, 0, 0x40, 0x20]),
)


def write_all(fs: List[Any], mask: bool, closing: bool) -> Any:
    w = make_writer(mask, closing)
    out: List[Any] = []
    for data, kind, opcode, rsv in fs:
        try:
            w._write_websocket_frame(as_type(data, kind), opcode, rsv)
            out.append("ok")
        except Exception as exc:
            out.append(describe(exc))
    return out, w.transport.writes, w._output_size


@given(fs=st.lists(frames, max_size=6), mask=st.booleans(), closing=st.integers(0, 9).map(lambda n: n == 0))
@settings(max_examples=60)
def test_write_frame(backend: types.SimpleNamespace, fs: List[Any], mask: bool, closing: bool) -> None:
    same(lambda: write_all(fs, mask, closing), backend)


@given(
    messages=st.lists(st.one_of(st.binary(max_size=3000), big_bytes), min_size=1, max_size=4),
    mask=st.booleans(),
    compress=st.sampled_from([0, 15, 9]),
    text=st.booleans(),
)
@settings(max_examples=30, deadline=None)
def test_send_frame_with_and_without_compression(
    backend: types.SimpleNamespace, messages: List[bytes], mask: bool, compress: int, text: bool
) -> None:
    """send_frame and close as applications call them: compressed frames (RSV1, sync and executor
    paths) and control frames reach the patched method exactly as they reach aiohttp's."""

    async def scenario() -> Any:
        w = make_writer(mask, compress=compress)
        for m in messages:
            await w.send_frame(m, WSMsgType.TEXT if text else WSMsgType.BINARY)
        await w.send_frame(b"ping", WSMsgType.PING)
        await w.close(4001, "bye")
        return w.transport.writes, w._output_size

    same(lambda: run(scenario()), backend)


def test_masked_frames_take_the_fast_path(
    backend: types.SimpleNamespace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the integration aiohttp's masking is never called for a client frame, and the frame
    is the one aiohttp would send (the key drawn from the writer's own random source)."""
    expected = write_all([(b"x" * 70000, bytes, 2, 0), (b"hi", bytes, 1, 0x40)], True, False)
    integration.install(codec=backend)

    def refuse(*args: Any) -> None:
        raise AssertionError("aiohttp's websocket_mask called")

    monkeypatch.setattr(aiohttp_writer, "websocket_mask", refuse)
    assert write_all([(b"x" * 70000, bytes, 2, 0), (b"hi", bytes, 1, 0x40)], True, False) == expected


def test_closing_transport_raises_before_writing(backend: types.SimpleNamespace) -> None:
    integration.install(codec=backend)
    w = make_writer(True, closing=True)
    with pytest.raises(aiohttp.ClientConnectionResetError, match="Cannot write to closing transport"):
        w._write_websocket_frame(b"data", 2, 0)
    assert w.transport.writes == [] and w._output_size == 0


# --- a live aiohttp client and server ------------------------------------------------------------


def plain(data: Any) -> Any:
    """An ERROR message carries an exception object: compared by type and message."""
    return describe(data) if isinstance(data, BaseException) else data


async def conversation(messages: List[Any], compress: int, max_msg_size: int) -> List[Any]:
    """An aiohttp server echoing what an aiohttp client sends (frames on the wire in both
    directions written by the patched method), then the client's raw frames that the server
    must refuse; returns what each side saw."""
    seen: List[Any] = []

    async def handler(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(max_msg_size=max_msg_size, compress=bool(compress), heartbeat=None)
        await ws.prepare(request)
        async for msg in ws:
            seen.append(("server", msg.type, plain(msg.data)))
            if msg.type is WSMsgType.TEXT:
                await ws.send_str(msg.data)
            elif msg.type is WSMsgType.BINARY:
                await ws.send_bytes(msg.data)
        seen.append(("server closed", ws.close_code, type(ws.exception()).__name__))
        return ws

    app = web.Application()
    app.router.add_get("/", handler)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        async with aiohttp.ClientSession() as session:
            async with session.ws_connect("ws://127.0.0.1:%d/" % port, compress=compress) as ws:
                for m in messages:
                    if isinstance(m, str):
                        await ws.send_str(m)
                    elif isinstance(m, bytes):
                        await ws.send_bytes(m)
                    else:  # a raw (opcode, payload): what the server must refuse
                        await ws.send_frame(m[1], m[0])
                    msg = await ws.receive(timeout=5)
                    seen.append(("client", msg.type, plain(msg.data), ws.close_code))
                    if msg.type is not WSMsgType.TEXT and msg.type is not WSMsgType.BINARY:
                        break
                await ws.close(code=4000, message=b"done")
                seen.append(("client closed", ws.close_code))
    finally:
        await runner.cleanup()
    return seen


@pytest.mark.parametrize("compress", [0, 15])
@given(
    messages=st.lists(
        st.one_of(
            st.text(max_size=300),
            st.binary(max_size=3000),
            big_bytes,
            st.text(min_size=1).map(lambda s: s * 500),
        ),
        max_size=4,
    ),
    bad=st.sampled_from([None, (WSMsgType.TEXT, b"\xff\xfe"), (WSMsgType.BINARY, b"z" * 5000)]),
)
@settings(max_examples=8, deadline=None)
def test_live_connection(
    backend: types.SimpleNamespace, compress: int, messages: List[Any], bad: Any
) -> None:
    sequence = messages + ([bad] if bad is not None else [])
    limit = 4096 if bad else 1 << 22
    result = same(lambda: run(conversation(sequence, compress, max_msg_size=limit), 30), backend)
    if bad is not None:
        # the server's reader refused it (1007 or 1009; a large message before may have been
        # refused first), and the client got that close code
        refused = [s for s in result if s[0] == "client" and s[1] is WSMsgType.CLOSE]
        assert refused and refused[0][2] in (1007, 1009) and result[-1] == ("client closed", refused[0][2])


# --- install / uninstall -----------------------------------------------------------------------


def test_install_uninstall_restores_the_same_object(backend: types.SimpleNamespace) -> None:
    w = make_writer(True)  # created before install: the class attribute serves it too
    assert integration.install(codec=backend) is True
    assert integrations.installed()["aiohttp"] == backend.name
    assert Writer.__dict__["_write_websocket_frame"] is not ORIGINAL
    assert w._write_websocket_frame.__func__ is Writer.__dict__["_write_websocket_frame"]
    assert integration.install(codec=backend) is False
    assert integration.uninstall() is True
    assert integration.uninstall() is False
    assert Writer.__dict__["_write_websocket_frame"] is ORIGINAL


def test_unsupported_version_refused_unless_forced(
    backend: types.SimpleNamespace, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert_version_gate(integration, backend, monkeypatch, aiohttp, "3.13.2")


def test_changed_internals_are_refused(
    backend: types.SimpleNamespace, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delattr(aiohttp_writer, "PACK_RANDBITS")
    with pytest.raises(integrations.IntegrationError, match="PACK_RANDBITS"):
        integration.install(codec=backend)
    assert Writer.__dict__["_write_websocket_frame"] is ORIGINAL


def test_install_uninstall_from_many_threads(backend: types.SimpleNamespace) -> None:
    fs = [(b"m" * n, bytes, 2, 0) for n in (3, 200, 70000)]
    errors = toggle_during(
        lambda: write_all(fs, True, False), lambda: integration.install(codec=backend), integration.uninstall
    )
    assert errors == []
    integration.uninstall()
    assert Writer.__dict__["_write_websocket_frame"] is ORIGINAL


def test_switch_installs_at_first_import_in_any_order(backend: types.SimpleNamespace, tmp_path: Path) -> None:
    """WSCODEC_AUTO_INSTALL=aiohttp through the .pth: installed when aiohttp is first imported,
    whichever aiohttp module comes first (the method is looked up on the class at each call, so
    no name bound at import time has to be patched)."""
    pth = os.path.join(os.path.dirname(integrations.__file__), "wscodec-auto.pth")
    site_dir = tmp_path / "site"
    site_dir.mkdir()
    (site_dir / "wscodec-auto.pth").write_text(open(pth).read())
    src = str(Path(integrations.__file__).resolve().parents[2])  # the directory holding wscodec
    env = {k: v for k, v in os.environ.items() if not k.startswith("WSCODEC_")}
    env["PYTHONPATH"] = os.pathsep.join([src] + [p for p in sys.path if p.endswith("site-packages")])
    env["WSCODEC_AUTO_INSTALL"] = "aiohttp"
    env["WSCODEC_AUTO_INSTALL_CODEC"] = backend.name
    for first in ("aiohttp.web", "aiohttp._websocket.writer", "aiohttp"):
        code = (
            "import site, sys; site.addsitedir(%r)\n"
            "import wscodec.integrations as w\n"
            "print(w._pending())\n"
            "import %s\n"
            "from aiohttp._websocket.writer import WebSocketWriter\n"
            "print(w.installed(), WebSocketWriter._write_websocket_frame.__module__)\n"
            % (str(site_dir), first)
        )
        r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
        assert r.returncode == 0 and r.stderr == "", r.stderr
        installed = "{'aiohttp': %r} wscodec.integrations.aiohttp" % backend.name
        assert r.stdout.splitlines() == ["['aiohttp']", installed], first
