"""wscodec inside wsproto: the same frames, events, errors (code and message) and bytes as wsproto
alone, on random streams cut into random reads, with and without permessage-deflate."""

from __future__ import annotations

import types
from typing import Any, Iterator, List
from unittest import mock

import pytest
from hypothesis import given
from hypothesis import strategies as st

from .integration_helpers import require_library  # noqa: E402

require_library("wsproto", "wsproto")

from wsproto import Connection, ConnectionType  # noqa: E402
from wsproto.events import BytesMessage, CloseConnection, Message, Ping, Pong, TextMessage  # noqa: E402
from wsproto import extensions as wpext  # noqa: E402
from wsproto import frame_protocol as fp  # noqa: E402

import wscodec.integrations as integrations  # noqa: E402
from wscodec.integrations import wsproto as integration  # noqa: E402

from .integration_helpers import (  # noqa: E402
    assert_version_gate,
    big_bytes,
    chunked,
    conversation,
    counter_bytes,
    differential,
    encode,
    text_and_corruption,
    text_frames,
)

PATCHED = [
    (fp.FrameDecoder, "process_buffer"),
    (fp.FrameDecoder, "parse_header"),
    (fp.XorMaskerSimple, "process"),
    (fp.MessageDecoder, "process_frame"),
    (fp.FrameProtocol, "_serialize_frame"),
    (Connection, "events"),
    (Connection, "send"),
]
ORIGINALS = {(owner, name): owner.__dict__[name] for owner, name in PATCHED}


@pytest.fixture(autouse=True)
def clean() -> Iterator[None]:
    integration.uninstall()
    yield
    integration.uninstall()


def same(run: Any, backend: types.SimpleNamespace) -> Any:
    return differential(run, lambda: integration.install(codec=backend), integration.uninstall)


def deflate(client: bool) -> wpext.PerMessageDeflate:
    ext = wpext.PerMessageDeflate()
    if client:
        ext.finalize(ext.offer())
    else:
        ext.accept("permessage-deflate")
    assert ext.enabled()
    return ext


def receive_frames(chunks: List[bytes], client: bool, extensions: List[Any]) -> List[Any]:
    proto = fp.FrameProtocol(client=client, extensions=extensions)
    out: List[Any] = []
    try:
        for chunk in chunks:
            proto.receive_bytes(chunk)
            for f in proto.received_frames():
                out.append(
                    (f.opcode, f.payload, type(f.payload).__name__, f.frame_finished, f.message_finished)
                )
            out.append("|")
    except fp.ParseFailed as exc:
        out.append(("ParseFailed", str(exc), exc.code, type(exc.code).__name__))
    return out


# --- receiving ---------------------------------------------------------------------------------


@given(data=st.data(), client=st.booleans())
def test_frame_protocol_receive(backend: types.SimpleNamespace, data: st.DataObject, client: bool) -> None:
    chunks = data.draw(conversation(masked=not client).flatmap(chunked))
    same(lambda: receive_frames(chunks, client, []), backend)


@given(data=st.data(), client=st.booleans())
def test_connection_events(backend: types.SimpleNamespace, data: st.DataObject, client: bool) -> None:
    chunks = data.draw(conversation(masked=not client).flatmap(chunked))

    def run() -> List[str]:
        conn = Connection(ConnectionType.CLIENT if client else ConnectionType.SERVER)
        out = []
        for chunk in chunks:
            try:
                conn.receive_data(chunk)
            except Exception as exc:  # LocalProtocolError once closed
                out.append("raised %s: %s" % (type(exc).__name__, exc))
                break
            out.extend(repr(e) for e in conn.events())
            out.append(conn.state.name)
        return out

    same(run, backend)


@given(data=st.data(), client=st.booleans())
def test_connection_events_taken_a_few_at_a_time(
    backend: types.SimpleNamespace, data: st.DataObject, client: bool
) -> None:
    """A consumer that drops the events() generator after a few events, replies to messages with
    Connection.send in between, and ends with receive_data(None): the same events, bytes and
    states."""
    chunks = data.draw(conversation(masked=not client).flatmap(chunked))
    takes = data.draw(st.lists(st.integers(0, 3), min_size=len(chunks) + 1, max_size=len(chunks) + 1))

    def run() -> List[str]:
        conn = Connection(ConnectionType.CLIENT if client else ConnectionType.SERVER)
        out = []
        with mock.patch("os.urandom", counter_bytes()):
            for chunk, take in zip(chunks + [None], takes):
                try:
                    conn.receive_data(chunk)
                except Exception as exc:  # LocalProtocolError once closed
                    out.append("raised %s: %s" % (type(exc).__name__, exc))
                    break
                events = conn.events()
                for _, event in zip(range(take), events):
                    out.append(repr(event))
                    if isinstance(event, (BytesMessage, TextMessage)):
                        try:
                            out.append(repr(conn.send(event)))
                        except Exception as exc:
                            out.append("send raised %s: %s" % (type(exc).__name__, exc))
                out.append(conn.state.name)
            out.extend(repr(e) for e in conn.events())
        return out

    same(run, backend)


@given(case=text_and_corruption(), client=st.booleans(), split=st.booleans())
def test_text_at_every_position(backend: types.SimpleNamespace, case: Any, client: bool, split: bool) -> None:
    """Non-ASCII text, then the same with invalid or truncated UTF-8 at any position, in one or two
    frames (each read whole or byte by byte): wsproto's frames and events, its ParseFailed."""
    text, valid, bad, cut_valid, cut_bad = case
    key = None if client else b"\x01\x02\x03\x04"
    stream = text_frames(valid, cut_valid, key) + text_frames(bad, cut_bad, key)
    chunks = [stream[i : i + 1] for i in range(len(stream))] if split else [stream]
    frames = same(lambda: receive_frames(chunks, client, []), backend)
    assert "".join(f[1] for f in frames if f != "|" and f[0] is fp.Opcode.TEXT)[: len(text)] == text

    def run() -> List[str]:
        conn = Connection(ConnectionType.CLIENT if client else ConnectionType.SERVER)
        out = []
        for chunk in chunks:
            conn.receive_data(chunk)
            out.extend(repr(e) for e in conn.events())
        return out

    events = same(run, backend)
    assert any(e.startswith("CloseConnection(code=<CloseReason.INVALID_FRAME_PAYLOAD_DATA") for e in events)


send_events = st.lists(
    st.one_of(
        st.builds(BytesMessage, data=st.one_of(st.binary(max_size=200), big_bytes), message_finished=st.booleans()),
        st.builds(TextMessage, data=st.text(max_size=100), message_finished=st.booleans()),
        st.builds(BytesMessage, data=st.builds(bytearray, st.binary(max_size=20))),
        st.builds(Message, data=st.one_of(st.binary(max_size=20), st.text(max_size=20)),
                  message_finished=st.booleans()),  # what uvicorn sends
        st.builds(BytesMessage, data=st.builds(memoryview, st.binary(max_size=20))),
        st.builds(TextMessage, data=st.just("\ud800")),  # not encodable
        st.builds(Ping, payload=st.binary(max_size=20)),
        st.builds(Pong, payload=st.binary(max_size=20)),
        st.builds(CloseConnection, code=st.sampled_from([1000, 1001, 4000]), reason=st.sampled_from([None, "bye"])),
    ),
    max_size=8,
)


@given(events=send_events, client=st.booleans(), remote_close=st.booleans())
def test_connection_send(backend: types.SimpleNamespace, events: List[Any], client: bool, remote_close: bool) -> None:
    """Connection.send: the same bytes (and type), exceptions and states, fragmented messages
    and a peer's close included."""

    def run() -> List[Any]:
        conn = Connection(ConnectionType.CLIENT if client else ConnectionType.SERVER)
        out: List[Any] = []
        if remote_close:
            conn.receive_data(encode(8, b"\x03\xe8", key=None if client else b"\x01\x02\x03\x04"))
            out.extend(repr(e) for e in conn.events())
        with mock.patch("os.urandom", counter_bytes()):
            for event in events:
                try:
                    result = conn.send(event)
                    out.append((type(result).__name__, bytes(result)))
                except Exception as exc:
                    out.append((type(exc).__name__, str(exc)))
                out.append(conn.state.name)
        return out

    same(run, backend)


@given(data=st.data(), client=st.booleans())
def test_receive_with_permessage_deflate(
    backend: types.SimpleNamespace, data: st.DataObject, client: bool
) -> None:
    """Compressed messages from a real peer, plus raw (possibly invalid) frames."""
    messages = data.draw(st.lists(st.one_of(st.text(max_size=200), st.binary(max_size=3000)), max_size=5))
    fin_split = data.draw(st.booleans())

    def wire() -> bytes:
        peer = fp.FrameProtocol(client=not client, extensions=[deflate(not client)])
        out = bytearray()
        with mock.patch("os.urandom", counter_bytes()):
            for m in messages:
                if fin_split and len(m) > 1:
                    out += peer.send_data(m[: len(m) // 2], fin=False)
                    out += peer.send_data(m[len(m) // 2 :], fin=True)
                else:
                    out += peer.send_data(m)
                out += peer.ping(b"p")
        return bytes(out)

    stream = wire() + data.draw(conversation(masked=not client))
    chunks = data.draw(chunked(stream))
    same(lambda: receive_frames(chunks, client, [deflate(client)]), backend)


def test_partial_frames_are_delivered_as_they_arrive(backend: types.SimpleNamespace) -> None:
    payload = bytes(range(256)) * 40
    stream = encode(0x2, payload, key=b"\x01\x02\x03\x04")
    chunks = [stream[:3], stream[3:10], stream[10:5000], stream[5000:5001], stream[5001:]]
    out = same(lambda: receive_frames(chunks, False, []), backend)
    frames = [o for o in out if o != "|"]
    assert len(frames) == 4 and b"".join(f[1] for f in frames) == payload
    assert [f[3] for f in frames] == [False, False, False, True]


@pytest.mark.parametrize(
    "stream",
    [
        encode(0x3, b"", key=b"abcd"),
        encode(0x9, b"", fin=False, key=b"abcd"),
        encode(0x9, b"x" * 126, key=b"abcd"),
        encode(0x2, b"x" * 5, key=b"abcd", length_form="16"),
        encode(0x2, b"x" * 300, key=b"abcd", length_form="64"),
        encode(0x2, b"", key=b"abcd", length_form="msb"),
        encode(0x2, b"x", rsv=(True, False, False), key=b"abcd"),
        encode(0x2, b"x"),
        encode(0x0, b"x", key=b"abcd"),
        encode(0x1, b"\xff", key=b"abcd"),
        encode(0x1, b"\xc3", key=b"abcd"),
        encode(0x8, b"\x03", key=b"abcd"),
        encode(0x8, b"\x03\xec", key=b"abcd"),
        encode(0x8, b"\x03\xe8\xff", key=b"abcd"),
        encode(0x1, b"a", fin=False, key=b"abcd") + encode(0x2, b"b", key=b"abcd"),
    ],
)
def test_errors_are_wsprotos(backend: types.SimpleNamespace, stream: bytes) -> None:
    out = same(lambda: receive_frames([stream], False, []), backend)
    assert out[-1][0] == "ParseFailed"
    same(lambda: receive_frames([stream], False, [deflate(False)]), backend)


# --- sending -----------------------------------------------------------------------------------

send_ops = st.lists(
    st.one_of(
        st.tuples(
            st.just("data"),
            st.one_of(st.text(max_size=100), st.binary(max_size=3000), big_bytes),
            st.booleans(),
        ),
        st.tuples(
            st.just("ping"),
            st.one_of(st.binary(max_size=130), st.builds(bytearray, st.binary(max_size=10))),
            st.just(True),
        ),
        st.tuples(st.just("pong"), st.binary(max_size=130), st.just(True)),
        st.tuples(
            st.just("close"),
            st.sampled_from([None, 1000, 1005, 1006, 3000, 4999]),
            st.sampled_from([None, "", "bye", "é" * 70]),
        ),
    ),
    max_size=8,
)


@given(ops=send_ops, client=st.booleans(), compress=st.booleans())
def test_sending_gives_the_same_bytes(
    backend: types.SimpleNamespace, ops: List[Any], client: bool, compress: bool
) -> None:
    def run() -> List[Any]:
        proto = fp.FrameProtocol(client=client, extensions=[deflate(client)] if compress else [])
        out: List[Any] = []
        with mock.patch("os.urandom", counter_bytes()):
            for op, arg, extra in ops:
                try:
                    if op == "data":
                        result = proto.send_data(arg, fin=extra)
                    elif op == "close":
                        result = proto.close(arg, extra)
                    else:
                        result = getattr(proto, op)(arg)
                    out.append((type(result).__name__, bytes(result)))
                except Exception as exc:
                    out.append((type(exc).__name__, str(exc)))
        return out

    same(run, backend)


def test_serialize_odd_arguments(backend: types.SimpleNamespace) -> None:
    def run() -> List[Any]:
        proto = fp.FrameProtocol(client=False, extensions=[])
        out: List[Any] = []
        for args in [
            (fp.Opcode.PING, b"", False),
            (fp.Opcode.BINARY, memoryview(b"mv")),
            (fp.Opcode.BINARY, [1, 2]),
            (fp.Opcode.TEXT, b"t", 1),
            (fp.Opcode.PONG, b"x" * 126),
        ]:
            try:
                out.append(bytes(proto._serialize_frame(*args)))
            except Exception as exc:
                out.append((type(exc).__name__, str(exc)))
        return out

    same(run, backend)


@given(key=st.binary(min_size=4, max_size=4), chunks=st.lists(st.binary(max_size=5000), max_size=6))
def test_xor_masker(backend: types.SimpleNamespace, key: bytes, chunks: List[bytes]) -> None:
    def run() -> List[Any]:
        masker = fp.XorMaskerSimple(bytearray(key))
        out: List[Any] = [(type(r).__name__, bytes(r)) for r in map(masker.process, chunks)]
        return out + [bytes(masker._masking_key)]

    same(run, backend)


# --- install / uninstall -----------------------------------------------------------------------


def test_install_uninstall_restores_the_same_objects(backend: types.SimpleNamespace) -> None:
    assert integration.installed() is None
    assert integration.install(codec=backend) is True
    assert integration.installed() == backend.name
    assert integrations.installed()["wsproto"] == backend.name
    for owner, name in PATCHED:
        assert owner.__dict__[name] is not ORIGINALS[owner, name]
    assert integration.install(codec=backend) is False  # idempotent
    assert integration.uninstall() is True
    assert integration.uninstall() is False
    for owner, name in PATCHED:
        assert owner.__dict__[name] is ORIGINALS[owner, name]


def test_switching_codec_then_uninstall(backend: types.SimpleNamespace) -> None:
    other = "python" if backend.name == "c" else "c"
    integration.install(codec=backend)
    try:
        integration.install(codec=other)
    except ImportError:
        pytest.skip("the other backend is not built")
    assert integration.installed() == other
    integration.uninstall()
    for owner, name in PATCHED:
        assert owner.__dict__[name] is ORIGINALS[owner, name]


def test_unsupported_version_refused_unless_forced(
    backend: types.SimpleNamespace, monkeypatch: pytest.MonkeyPatch
) -> None:
    import wsproto

    assert_version_gate(integration, backend, monkeypatch, wsproto, "1.2.0", match="1.2.0")


def test_changed_internals_are_refused(
    backend: types.SimpleNamespace, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delattr(fp.MessageDecoder, "process_frame")
    with pytest.raises(integrations.IntegrationError):
        integration.install(codec=backend)
    assert integration.installed() is None


def test_someone_elses_later_patch_is_kept(backend: types.SimpleNamespace) -> None:
    integration.install(codec=backend)

    def theirs(self: Any, data: Any) -> Any:
        return data

    fp.XorMaskerSimple.process = theirs  # type: ignore[method-assign]
    try:
        with pytest.warns(RuntimeWarning, match="replaced by someone else"):
            integration.uninstall()
        assert fp.XorMaskerSimple.__dict__["process"] is theirs
        assert fp.FrameDecoder.__dict__["process_buffer"] is ORIGINALS[fp.FrameDecoder, "process_buffer"]
    finally:
        fp.XorMaskerSimple.process = ORIGINALS[fp.XorMaskerSimple, "process"]  # type: ignore[method-assign]


def test_install_mid_stream(backend: types.SimpleNamespace) -> None:
    """Switching on or off between reads, even inside a frame, changes nothing."""
    payload = bytes(range(200)) * 3
    stream = encode(0x2, payload, key=b"wxyz") + encode(0x1, "é".encode() * 50, key=b"abcd")
    cuts = [0, 7, 300, 601, 700, len(stream)]

    def run(toggle: bool) -> List[Any]:
        proto = fp.FrameProtocol(client=False, extensions=[])
        out: List[Any] = []
        for i, (a, b) in enumerate(zip(cuts, cuts[1:])):
            if toggle:
                (integration.install(codec=backend) if i % 2 else integration.uninstall())
            proto.receive_bytes(stream[a:b])
            out.extend(proto.received_frames())
        integration.uninstall()
        return out

    assert run(True) == run(False)


@pytest.mark.parametrize("close_first", ["events", "partly"])
@pytest.mark.parametrize("same_read", [False, True])
def test_install_after_a_close_was_read(
    backend: types.SimpleNamespace, close_first: str, same_read: bool
) -> None:
    """wsproto read the peer's close before the integration was installed (its parser is then
    finished, possibly without showing it yet); what the peer sent after the close, in the same
    read or later, stays unread with the integration too."""
    close = encode(0x8, b"\x03\xe8", key=b"abcd")
    after = encode(0x2, b"after the close", key=b"wxyz")

    def run(install: bool) -> List[str]:
        conn = Connection(ConnectionType.SERVER)
        conn.receive_data(encode(0x1, b"hi", key=b"abcd") + close + (after if same_read else b""))
        out = []
        events = conn.events()
        for event in events:
            out.append(repr(event))
            if close_first == "partly" and "CloseConnection" in repr(event):
                break  # the generator is left suspended right after the close
        if install:
            integration.install(codec=backend)
        try:
            conn.receive_data(after)
            out.extend(repr(e) for e in conn.events())
            out.append(conn.state.name)
        finally:
            integration.uninstall()
        return out

    assert run(True) == run(False)
