"""Streaming messages through the sans-I/O Connection: ``send(fragment_size=)``,
``send_fragment`` and ``deliver_fragments`` (Fragment events), with and without
permessage-deflate. Every test runs once per backend.
"""

from __future__ import annotations

import zlib

import pytest

from wscodec.connection import Connection, State
from wscodec.deflate import DeflateOptions
from wscodec.errors import ConnectionClosed
from wscodec.events import CloseReceived, Fragment, Message, Ping

from . import deflate_helpers as dh
from .connection_helpers import cframe, frames_of, pair, pump

TEXT = "héllo wörld, ünïcödé 😀 " * 5
TAKEOVER = DeflateOptions()
NO_TAKEOVER = DeflateOptions(server_no_context_takeover=True, client_no_context_takeover=True)


def sent_frames(backend, conn: Connection):
    return dh.frames_of(backend, conn.data_to_send(), from_client=conn.is_client)


def joined_fragments(events):
    """The messages a list of Message/Fragment events spells, in order."""
    messages, parts = [], []
    for event in events:
        if isinstance(event, Message):
            assert not parts
            messages.append(event.data)
        elif isinstance(event, Fragment):
            parts.append(event.data)
            if event.fin:
                messages.append(parts[0][:0].join(parts))
                parts = []
    assert not parts
    return messages


# ---------------------------------------------------------------- send(fragment_size=)
@pytest.mark.parametrize("role", ["client", "server"])
@pytest.mark.parametrize("data", [TEXT, TEXT.encode() * 3, bytearray(b"x" * 10)], ids=["text", "binary", "bytearray"])
def test_send_fragment_size_splits_the_payload(backend, role, data):
    conn = Connection(role, codec=backend)
    conn.send(data, fragment_size=7)
    frames = sent_frames(backend, conn)
    raw = data.encode() if isinstance(data, str) else bytes(data)
    assert len(frames) == -(-len(raw) // 7)
    assert [f.opcode for f in frames] == [1 if isinstance(data, str) else 2] + [0] * (len(frames) - 1)
    assert [f.fin for f in frames] == [False] * (len(frames) - 1) + [True]
    assert all(len(f.payload) <= 7 for f in frames) and b"".join(f.payload for f in frames) == raw
    assert not any(f.rsv1 for f in frames)


def test_send_fragment_size_reaches_the_peer_and_keeps_short_messages_whole(backend):
    client, server = pair(backend)
    client.send(TEXT, fragment_size=5)
    client.send(b"abc", fragment_size=3)  # fits: one frame
    client.send("", fragment_size=1)
    out = client.data_to_send()
    assert len(frames_of(backend, out, from_client=True)) == -(-len(TEXT.encode()) // 5) + 2
    assert server.receive_data(out) == [Message(TEXT), Message(b"abc"), Message("")]


def test_send_fragment_size_counts_bytes_of_any_buffer(backend):
    client, server = pair(backend)
    words = memoryview(bytes(range(40))).cast("H")  # 20 items, 40 bytes
    client.send(words, fragment_size=16)
    frames = frames_of(backend, client.data_to_send(), from_client=True)
    assert [len(f.payload) for f in frames] == [16, 16, 8]
    assert b"".join(f.payload for f in frames) == bytes(range(40))


@pytest.mark.parametrize("bad, exc", [(0, ValueError), (-1, ValueError), (1.5, TypeError), ("2", TypeError)])
def test_send_fragment_size_must_be_a_positive_int(backend, bad, exc):
    conn = Connection("server", codec=backend)
    with pytest.raises(exc):
        conn.send("x", fragment_size=bad)
    assert conn.data_to_send() == b""


@pytest.mark.parametrize("options", [TAKEOVER, NO_TAKEOVER], ids=["takeover", "no-takeover"])
def test_send_fragment_size_splits_the_compressed_payload(backend, options):
    client, server = dh.conns(backend, server=options, client=options)
    data = dh.json_like(5000)
    for _ in range(2):  # the second message uses the kept context (if taken over)
        client.send(data, fragment_size=100)
        out = client.data_to_send()
        frames = dh.frames_of(backend, out, from_client=True)
        assert len(frames) > 1 and all(len(f.payload) <= 100 for f in frames)
        assert [f.rsv1 for f in frames] == [True] + [False] * (len(frames) - 1)  # RFC 7692 6.1
        assert server.receive_data(out) == [Message(data)]


# ---------------------------------------------------------------- send_fragment
@pytest.mark.parametrize("role", ["client", "server"])
def test_send_fragment_frames(backend, role):
    conn = Connection(role, codec=backend)
    conn.send_fragment("hé", fin=False)
    conn.send_fragment("", fin=False)  # nothing to send
    conn.send_fragment("llo", fin=False)
    conn.send_fragment("", fin=True)  # a final empty piece ends the message
    frames = sent_frames(backend, conn)
    assert [(f.opcode, f.fin, bytes(f.payload)) for f in frames] == [
        (1, False, "hé".encode()), (0, False, b"llo"), (0, True, b"")
    ]
    conn.send_fragment(b"\x00", fin=False)
    conn.send_fragment(memoryview(b"\x01\x02"), fin=True)
    frames = sent_frames(backend, conn)
    assert [(f.opcode, f.fin, bytes(f.payload)) for f in frames] == [(2, False, b"\x00"), (0, True, b"\x01\x02")]


def test_send_fragment_reaches_the_peer(backend):
    client, server = pair(backend)
    pieces = [b"a" * 10, b"", b"b" * 70000, b"c"]
    for i, piece in enumerate(pieces):
        client.send_fragment(piece, fin=i == len(pieces) - 1)
    client.send("after")
    assert server.receive_data(client.data_to_send()) == [Message(b"".join(pieces)), Message("after")]


def test_send_fragment_single_piece_is_a_plain_message(backend):
    a, b = Connection("server", codec=backend), Connection("server", codec=backend)
    a.send_fragment("", fin=False)  # empty pieces before the end send nothing
    a.send_fragment("whole", fin=True)
    b.send("whole")
    assert a.data_to_send() == b.data_to_send()


def test_send_fragment_type_must_not_change(backend):
    conn = Connection("server", codec=backend)
    conn.send_fragment("text", fin=False)
    with pytest.raises(TypeError):
        conn.send_fragment(b"bytes", fin=True)
    conn.send_fragment("", fin=True)
    conn.send_fragment(b"", fin=False)  # the type is set even by an empty first piece
    with pytest.raises(TypeError):
        conn.send_fragment("text", fin=True)
    with pytest.raises(TypeError):
        conn.send_fragment(123, fin=True)  # type: ignore[arg-type]


def test_send_during_a_streamed_message_is_refused_but_control_frames_interleave(backend):
    client, server = pair(backend)
    client.send_fragment("one ", fin=False)
    with pytest.raises(RuntimeError):
        client.send("interleaved")
    with pytest.raises(RuntimeError):
        client.send(b"interleaved", fragment_size=2)
    client.ping(b"p")
    client.pong(b"q")
    client.send_fragment("two", fin=True)
    client.send("next")  # allowed again
    events = server.receive_data(client.data_to_send())
    assert [e for e in events if not isinstance(e, Ping)][1:] == [Message("one two"), Message("next")]
    assert events[0] == Ping(b"p")


def test_close_during_a_streamed_message_abandons_it(backend):
    client, server = pair(backend)
    client.send_fragment(b"partial", fin=False)
    client.close(1000, "bye")
    with pytest.raises(ConnectionClosed):
        client.send_fragment(b"more", fin=True)
    events = server.receive_data(client.data_to_send())
    assert events == [CloseReceived(1000, "bye")]  # the unfinished message is dropped
    pump(client, server)
    server.receive_eof()
    client.receive_eof()
    assert client.state is State.CLOSED and client.was_clean


@pytest.mark.parametrize("options", [TAKEOVER, NO_TAKEOVER], ids=["takeover", "no-takeover"])
def test_send_fragment_compressed_stream(backend, options):
    """One deflate stream per message: RSV1 on the first frame only, each frame inflatable when
    it arrives (the peer gets each piece at once), no 00 00 ff ff tail on the last; messages
    after it keep the context only with context takeover."""
    client, server = dh.conns(backend, server=options, client=options, deliver_fragments=True)
    pieces = [dh.json_like(300, seed=i).decode() for i in range(4)]
    for _ in range(2):
        events = []
        for i, piece in enumerate(pieces):
            client.send_fragment(piece, fin=i == len(pieces) - 1)
            out = client.data_to_send()
            [frame] = dh.frames_of(backend, out, from_client=True)
            assert frame.rsv1 == (i == 0)
            got = server.receive_data(out)
            assert got == [Fragment(piece, i == len(pieces) - 1)]  # not held back in the compressor
            events += got
        assert not bytes(frame.payload).endswith(dh.TAIL)
        client.send(pieces[0])  # a whole message after the stream, same compressor
        assert server.receive_data(client.data_to_send()) == [Message(pieces[0])]
    assert client.deflate.sent_compressed == 4


def test_send_fragment_compressed_payload_is_standard_deflate(backend):
    client, _ = dh.conns(backend)
    client.send_fragment(b"abc" * 100, fin=False)
    client.send_fragment(b"", fin=False)
    client.send_fragment(b"xyz" * 100, fin=False)
    client.send_fragment(b"", fin=True)
    frames = dh.frames_of(backend, client.data_to_send(), from_client=True)
    assert [f.opcode for f in frames] == [2, 0, 0]
    inflated = zlib.decompressobj(-15).decompress(b"".join(f.payload for f in frames) + dh.TAIL)
    assert inflated == b"abc" * 100 + b"xyz" * 100


# ---------------------------------------------------------------- deliver_fragments
def test_fragments_delivered_as_frames_complete(backend):
    conn = Connection("server", codec=backend, deliver_fragments=True)
    euro = "€".encode()
    assert conn.receive_data(cframe(backend, 1, b"a" + euro[:1], fin=False)) == [Fragment("a", False)]
    assert conn.receive_data(cframe(backend, 0, euro[1:2], fin=False)) == [Fragment("", False)]
    assert conn.receive_data(cframe(backend, 9, b"p")) == [Ping(b"p")]
    assert conn.receive_data(cframe(backend, 0, euro[2:] + b"b", fin=True)) == [Fragment("€b", True)]
    data = cframe(backend, 2, b"\x00", fin=False) + cframe(backend, 0, b"", fin=False) + cframe(backend, 0, b"\xff")
    events = conn.receive_data(data)
    assert events == [Fragment(b"\x00", False), Fragment(b"", False), Fragment(b"\xff", True)]
    assert all(type(e.data) is bytes for e in events)
    assert conn.receive_data(cframe(backend, 1, "single")) == [Message("single")]


def test_fragments_round_trip_with_split_chunks(backend):
    client = Connection("client", codec=backend)
    server = Connection("server", codec=backend, deliver_fragments=True)
    client.send(TEXT, fragment_size=3)
    client.send(TEXT.encode(), fragment_size=1000)
    client.send_fragment("x", fin=False)
    client.send_fragment("y", fin=True)
    out = client.data_to_send()
    events = []
    for i in range(0, len(out), 5):
        events += server.receive_data(out[i : i + 5])
    assert joined_fragments(events) == [TEXT, TEXT.encode(), "xy"]
    assert sum(isinstance(e, Fragment) for e in events) == -(-len(TEXT.encode()) // 3) + 2


def test_fragments_invalid_utf8_fails_at_the_same_frame(backend):
    conn = Connection("server", codec=backend, deliver_fragments=True)
    assert conn.receive_data(cframe(backend, 1, b"ok", fin=False)) == [Fragment("ok", False)]
    assert conn.receive_data(cframe(backend, 0, b"\xed\xa0", fin=False)) == []
    assert conn.error is not None and conn.error.close_code == 1007


def test_fragments_unfinished_sequence_at_the_end(backend):
    conn = Connection("server", codec=backend, deliver_fragments=True)
    events = conn.receive_data(cframe(backend, 1, b"a\xe2\x82", fin=False) + cframe(backend, 0, b"", fin=True))
    assert events == [Fragment("a", False)]
    assert conn.error is not None and conn.error.close_code == 1007


def test_fragments_message_limit_applies_to_the_total(backend):
    conn = Connection("server", codec=backend, deliver_fragments=True, max_message_size=1000)
    assert conn.receive_data(cframe(backend, 2, b"x" * 600, fin=False)) == [Fragment(b"x" * 600, False)]
    assert conn.receive_data(cframe(backend, 0, b"y" * 600)[:8]) == []  # refused at its header
    assert conn.error is not None and conn.error.close_code == 1009


def test_fragments_unlimited_message_holds_one_frame(backend):
    conn = Connection("server", codec=backend, deliver_fragments=True, max_message_size=None)
    frame = cframe(backend, 0, b"z" * 65536, fin=False)
    assert conn.receive_data(cframe(backend, 2, b"", fin=False)) == [Fragment(b"", False)]
    for _ in range(64):  # 4 MiB in total, never gathered
        assert conn.receive_data(frame) == [Fragment(b"z" * 65536, False)]
        assert conn._assembler._parts is None
    assert conn.receive_data(cframe(backend, 0, b"!")) == [Fragment(b"!", True)]


@pytest.mark.parametrize("options", [TAKEOVER, NO_TAKEOVER], ids=["takeover", "no-takeover"])
def test_fragments_of_a_compressed_message_are_inflated(backend, options):
    client, server = dh.conns(backend, server=options, client=options, deliver_fragments=True)
    data = dh.json_like(20000).decode()
    client.send(data, fragment_size=200)
    events = server.receive_data(client.data_to_send())
    assert len(events) > 1 and all(isinstance(e, Fragment) for e in events)
    assert joined_fragments(events) == [data]


def test_compression_threshold_counts_bytes_of_any_buffer(backend):
    client, server = dh.conns(backend)
    threshold = client.deflate.threshold
    words = memoryview(b"x" * (threshold + 2)).cast("H")  # fewer items than the threshold
    client.send(words)
    assert client.deflate.sent_compressed == 1
    assert server.receive_data(client.data_to_send()) == [Message(b"x" * (threshold + 2))]


@pytest.mark.parametrize("fragment_size", [None, 7])
@pytest.mark.parametrize("deflate", [None, "no_takeover"])
@pytest.mark.parametrize("message", ["héllo wörld, 孩子 " * 5, b"\x00\x01" * 40])
def test_message_frames_are_what_send_queues(backend, message, deflate, fragment_size):
    """``message_frames`` (what an I/O layer writes itself, e.g. a broadcast) returns the frames
    ``send`` queues, queues nothing, and leaves the idle timer to ``message_written``."""
    if deflate is None:
        a, b = Connection("server", codec=backend), Connection("server", codec=backend)
    else:
        options = DeflateOptions(server_no_context_takeover=True)
        a, b = dh.conns(backend, server=options)[1], dh.conns(backend, server=options)[1]
        assert a.deflate.output_key == b.deflate.output_key is not None
    b.send(message, now=1.0, fragment_size=fragment_size)
    frames = a.message_frames(message, fragment_size)
    assert frames == b.data_to_send()
    assert a.data_to_send() == b"" and not a.output_pending
    assert a.next_deadline() is None
    a.idle_timeout = 5.0
    a.message_written(now=2.0)
    assert a.next_deadline() == 7.0


def test_queue_frames_queues_them_in_order_as_a_data_message(backend):
    """``queue_frames`` (a broadcast's shared frames) queues them after what is queued already,
    restarts the idle timer, and is refused where a send would be."""
    a, b = Connection("server", codec=backend), Connection("server", codec=backend)
    a.idle_timeout = 5.0
    a.ping(b"p")
    a.queue_frames(b.message_frames("shared"), now=3.0)
    assert a.next_deadline() == 8.0
    peer = Connection("client", codec=backend)
    events = peer.receive_data(a.data_to_send())
    assert [type(e) for e in events] == [Ping, Message] and events[1].data == "shared"
    large = b.message_frames(b"L" * 70000)
    a.ping(b"q")
    a.queue_frames(large)
    assert a.buffers_to_send()[1] is large  # a large shared frame is never copied per connection
    a.send_fragment(b"x", fin=False)
    with pytest.raises(RuntimeError):
        a.queue_frames(b.message_frames("shared"))
    a.send_fragment(b"y", fin=True)
    a.close(1000)
    with pytest.raises(ConnectionClosed):
        a.queue_frames(b.message_frames("shared"))


def test_output_key_is_none_with_context_takeover(backend):
    server = dh.server_conn(backend)
    assert server.deflate.output_key is None  # its output depends on earlier messages


def test_streaming_property(backend):
    conn = Connection("server", codec=backend)
    assert not conn.streaming
    conn.send_fragment(b"a", fin=False)
    assert conn.streaming
    conn.send_fragment(b"b", fin=True)
    assert not conn.streaming
