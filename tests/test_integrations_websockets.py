"""wscodec inside websockets' sans-I/O protocol: the same frames, bytes, exceptions (type and
message), close codes and states as websockets alone, on random streams cut into random reads."""

from __future__ import annotations

import types
from typing import Any, Iterator, List, Optional
from unittest import mock

import pytest
from hypothesis import given
from hypothesis import strategies as st

from .integration_helpers import require_library  # noqa: E402

require_library("websockets", "websockets")

from websockets import frames as wf  # noqa: E402
from websockets.extensions.permessage_deflate import PerMessageDeflate  # noqa: E402
from websockets.protocol import Protocol, Side  # noqa: E402
from websockets.streams import StreamReader  # noqa: E402

import wscodec.integrations as integrations  # noqa: E402
from wscodec.integrations import websockets as integration  # noqa: E402

from .integration_helpers import (
    assert_version_gate,
    big_bytes,
    chunked,
    close_payloads,
    conversation,
    counter_bytes,
    describe,
    differential,
    encode,
    text_and_corruption,
    text_frames,
)  # noqa: E402

PATCHED = [(wf.Frame, "parse"), (wf.Frame, "serialize"), (wf.Close, "parse"), (wf, "apply_mask")]
ORIGINALS = {(owner, name): owner.__dict__[name] for owner, name in PATCHED}


@pytest.fixture(autouse=True)
def clean() -> Iterator[None]:
    integration.uninstall()
    yield
    integration.uninstall()


def same(run: Any, backend: types.SimpleNamespace) -> Any:
    return differential(run, lambda: integration.install(codec=backend), integration.uninstall)


def deflate() -> PerMessageDeflate:
    return PerMessageDeflate(False, False, 15, 15)


def frame_tuple(f: Any) -> Any:
    return (f.opcode, bytes(f.data), type(f.data).__name__, f.fin, f.rsv1, f.rsv2, f.rsv3)


def converse(chunks: List[bytes], side: Side, max_size: Any, extensions: List[Any]) -> List[Any]:
    out: List[Any] = []
    with mock.patch("secrets.token_bytes", counter_bytes()):
        proto = Protocol(side, max_size=max_size)
        proto.extensions = extensions
        for chunk in chunks:
            try:
                proto.receive_data(chunk)
            except EOFError as exc:
                out.append(describe(exc))
                break
            out.append([frame_tuple(f) for f in proto.events_received()])
            out.append(proto.data_to_send())
            out.append(proto.state.name)
        proto.receive_eof()
        out.append(proto.data_to_send())
        exc = proto.parser_exc
        out.append(None if exc is None else describe(exc))
        out.append(
            (
                proto.close_rcvd,
                proto.close_sent,
                proto.close_rcvd_then_sent,
                proto.close_code,
                proto.close_reason,
            )
        )
    return out


sizes = st.sampled_from([None, None, 0, 10, 125, 126, 1000, 65536, (None, 50), (2000, 100)])


@given(data=st.data(), server=st.booleans(), max_size=sizes)
def test_protocol_receive(
    backend: types.SimpleNamespace, data: st.DataObject, server: bool, max_size: Any
) -> None:
    chunks = data.draw(conversation(masked=server).flatmap(chunked))
    side = Side.SERVER if server else Side.CLIENT
    same(lambda: converse(chunks, side, max_size, []), backend)


@given(case=text_and_corruption(), server=st.booleans(), split=st.booleans())
def test_text_at_every_position(backend: types.SimpleNamespace, case: Any, server: bool, split: bool) -> None:
    """Non-ASCII text, then invalid or truncated UTF-8 at any position, in one or two frames:
    websockets' protocol hands over the same frames (its message assembler decodes them, outside
    what is patched)."""
    _, valid, bad, cut_valid, cut_bad = case
    key = b"\x01\x02\x03\x04" if server else None
    stream = text_frames(valid, cut_valid, key) + text_frames(bad, cut_bad, key)
    chunks = [stream[i : i + 1] for i in range(len(stream))] if split else [stream]
    result = same(lambda: converse(chunks, Side.SERVER if server else Side.CLIENT, None, []), backend)
    frames = [f for step in result if isinstance(step, list) for f in step if isinstance(f, tuple)]
    assert b"".join(f[1] for f in frames) == valid + bad


@given(data=st.data(), server=st.booleans(), max_size=sizes)
def test_receive_with_permessage_deflate(
    backend: types.SimpleNamespace, data: st.DataObject, server: bool, max_size: Any
) -> None:
    messages = data.draw(st.lists(st.one_of(st.text(max_size=200), st.binary(max_size=3000)), max_size=5))

    def wire() -> bytes:
        peer = Protocol(Side.CLIENT if server else Side.SERVER, max_size=None)
        peer.extensions = [deflate()]
        with mock.patch("secrets.token_bytes", counter_bytes()):
            for m in messages:
                if isinstance(m, str):
                    peer.send_text(m.encode())
                else:
                    peer.send_binary(m, fin=False)
                    peer.send_continuation(b"tail", fin=True)
            peer.send_ping(b"p")
        return b"".join(peer.data_to_send())

    stream = wire() + data.draw(conversation(masked=server))
    chunks = data.draw(chunked(stream))
    side = Side.SERVER if server else Side.CLIENT
    same(lambda: converse(chunks, side, max_size, [deflate()]), backend)


def parse_all(data: bytes, mask: bool, max_size: Optional[int], extensions: Any) -> List[Any]:
    reader = StreamReader()
    reader.feed_data(data)
    reader.feed_eof()
    out: List[Any] = []
    while True:
        gen = wf.Frame.parse(reader.read_exact, mask=mask, max_size=max_size, extensions=extensions)
        try:
            next(gen)
        except StopIteration as stop:
            out.append(frame_tuple(stop.value))
        except Exception as exc:
            out.append(describe(exc))
            out.append(bytes(reader.buffer))
            return out
        else:
            out.append("needs more")
            return out


@given(data=st.data(), mask=st.booleans(), max_size=st.sampled_from([None, 0, 5, 125, 70000]))
def test_frame_parse(
    backend: types.SimpleNamespace, data: st.DataObject, mask: bool, max_size: Optional[int]
) -> None:
    stream = data.draw(conversation(masked=mask))
    same(lambda: parse_all(stream, mask, max_size, None), backend)


def test_frame_parse_with_other_readers(backend: types.SimpleNamespace) -> None:
    """A read_exact that is not StreamReader's takes websockets' own path."""

    def run() -> Any:
        stream = encode(0x2, b"hello", key=b"abcd")

        def read_exact(n: int) -> Any:
            nonlocal stream
            chunk, stream = stream[:n], stream[n:]
            return chunk
            yield  # pragma: no cover

        gen = wf.Frame.parse(read_exact, mask=True)
        with pytest.raises(StopIteration) as stop:
            next(gen)
        return frame_tuple(stop.value.value)

    same(run, backend)


frames = st.builds(
    wf.Frame,
    st.sampled_from(list(wf.Opcode)),
    st.one_of(
        st.binary(max_size=200),
        big_bytes,
        st.binary(max_size=20).map(memoryview),
        st.binary(max_size=20).map(bytearray),
    ),
    st.booleans(),
    st.integers(0, 9).map(lambda n: n == 0),
    st.integers(0, 19).map(lambda n: n == 0),
    st.integers(0, 19).map(lambda n: n == 0),
)


class Rsv2:
    """An extension that sets RSV2 (websockets' tests have one), to take the generic path."""

    name = "x-rsv2"

    def encode(self, frame: Any) -> Any:
        import dataclasses

        return dataclasses.replace(frame, rsv2=True)

    def decode(self, frame: Any, *, max_size: Optional[int] = None) -> Any:
        import dataclasses

        return dataclasses.replace(frame, rsv2=False)


@given(fs=st.lists(frames, max_size=6), mask=st.booleans(), ext=st.sampled_from(["none", "deflate", "rsv2"]))
def test_frame_serialize(backend: types.SimpleNamespace, fs: List[Any], mask: bool, ext: str) -> None:
    def run() -> List[Any]:
        extensions = {"none": None, "deflate": [deflate()], "rsv2": [Rsv2()]}[ext]
        out: List[Any] = []
        with mock.patch("secrets.token_bytes", counter_bytes()):
            for f in fs:
                try:
                    result = f.serialize(mask=mask, extensions=extensions)
                    out.append((type(result).__name__, result))
                except Exception as exc:
                    out.append(describe(exc))
        return out

    same(run, backend)


@given(payload=st.one_of(close_payloads, st.binary(max_size=8), close_payloads.map(bytearray)))
def test_close_parse(backend: types.SimpleNamespace, payload: bytes) -> None:
    def run() -> Any:
        try:
            close = wf.Close.parse(payload)
        except Exception as exc:
            return describe(exc)
        return close, type(close.code).__name__, str(close)

    same(run, backend)


def test_close_parse_keeps_the_memoryview_assertion(backend: types.SimpleNamespace) -> None:
    integration.install(codec=backend)
    with pytest.raises(AssertionError):
        wf.Close.parse(memoryview(b"\x03\xe8"))


@pytest.mark.parametrize(
    "stream, code",
    [
        (encode(0x3, b"", key=b"abcd"), 1002),
        (encode(0x2, b"x"), 1002),
        (encode(0x9, b"", fin=False, key=b"abcd"), 1002),
        (encode(0x2, b"x", rsv=(True, False, False), key=b"abcd"), 1002),
        (encode(0x2, b"x" * 200, key=b"abcd"), 1009),
        (encode(0x8, b"\x03\xe8\xff", key=b"abcd"), 1007),
        (encode(0x8, b"\x03\xec", key=b"abcd"), 1002),
    ],
)
def test_exception_mapping(backend: types.SimpleNamespace, stream: bytes, code: int) -> None:
    def run() -> Any:
        proto = Protocol(Side.SERVER, max_size=100)
        proto.receive_data(stream)
        return (
            proto.close_sent.code if proto.close_sent else None,
            describe(proto.parser_exc),
            proto.data_to_send(),
        )

    result = same(run, backend)
    assert result[0] == code


# --- install / uninstall -----------------------------------------------------------------------


def test_install_uninstall_restores_the_same_objects(backend: types.SimpleNamespace) -> None:
    assert integration.install(codec=backend) is True
    assert integrations.installed()["websockets"] == backend.name
    assert isinstance(wf.Frame.__dict__["parse"], classmethod)
    changed = [(o, n) for o, n in PATCHED if o.__dict__[n] is not ORIGINALS[o, n]]
    # apply_mask is left to websockets' own C speedup with the pure-Python codec.
    assert len(changed) == (4 if backend.name == "c" else 3)
    assert integration.install(codec=backend) is False
    assert integration.uninstall() is True
    for owner, name in PATCHED:
        assert owner.__dict__[name] is ORIGINALS[owner, name]


def test_unsupported_version_refused_unless_forced(
    backend: types.SimpleNamespace, monkeypatch: pytest.MonkeyPatch
) -> None:
    import websockets

    assert_version_gate(integration, backend, monkeypatch, websockets, "12.0")


def test_internal_error_in_the_fast_path_maps_to_1011(backend: types.SimpleNamespace) -> None:
    """websockets' own test injects a fault by patching struct.unpack, which the fast path does not
    call (the one expected difference in scripts/run_upstream_tests.py); the same fault injected
    into the codec is mapped to 1011 INTERNAL_ERROR as websockets maps its own."""

    def boom(*args: Any) -> bytes:
        raise RuntimeError("BOOM")

    faulty = types.SimpleNamespace(**vars(backend))
    faulty.apply_mask = boom
    integration.install(codec=faulty)
    server = Protocol(Side.SERVER)
    server.receive_data(b"\x81\x80\x00\x00\x00\x00")
    assert isinstance(server.parser_exc, RuntimeError) and str(server.parser_exc) == "BOOM"
    assert server.close_sent is not None and server.close_sent.code == 1011
    assert integration.install(codec=backend) is True  # another codec: reinstalled
    assert integration.install(codec=backend) is False



@pytest.mark.parametrize("server", [True, False])
def test_a_frame_arriving_in_pieces_stays_on_the_fast_path(
    backend: types.SimpleNamespace, server: bool
) -> None:
    """Header first, payload in three reads: the same message as websockets alone, and websockets'
    own parser never runs (the header is parsed once, the payload awaited with its reader)."""
    original = wf.Frame.__dict__["parse"].__func__
    slow_calls: List[Any] = []

    def counting_parse(cls: Any, *args: Any, **kwargs: Any) -> Any:
        slow_calls.append(args)
        return (yield from original(cls, *args, **kwargs))

    payload = bytes(range(256)) * 300
    wire = encode(2, payload, key=b"\x01\x02\x03\x04" if server else None)
    pieces = [wire[:14], wire[14:1000], wire[1000:50000], wire[50000:]]

    def receive() -> Any:
        proto = Protocol(Side.SERVER if server else Side.CLIENT, max_size=None)
        frames = []
        for piece in pieces:
            proto.receive_data(piece)
            frames += [frame_tuple(f) for f in proto.events_received()]
        return frames

    with mock.patch.object(wf.Frame, "parse", classmethod(counting_parse)):
        expected = receive()
        assert len(slow_calls) == 1
        slow_calls.clear()
        integration.install(codec=backend)
        try:
            got = receive()
        finally:
            integration.uninstall()
    kind = "bytes" if server else "bytearray"
    assert got == expected == [(wf.Opcode.BINARY, payload, kind, True, False, False, False)]
    assert slow_calls == []
