"""Hostile input against the sans-I/O Connection (server side): absurd lengths, fragment floods,
ping floods, data after a close, the stream ending in every state. Each case checks the close
code sent, that nothing raises, and that the memory the connection holds stays bounded.

Memory decisions (documented in fuzz/README.md):

* A message in progress costs about its size: fragments are limited by ``max_message_size`` from
  their headers, and neither empty nor 1-byte fragments may cost more than their payload (a
  fragment flood must not turn 1 MiB of allowed message into 40 MiB of list entries).
* Pings are answered, but a pong not yet taken by ``data_to_send()`` is replaced by the pong for
  a newer ping (RFC 6455 5.5.3): a ping flood holds one pong however long the output waits.
* With ``deliver_fragments`` a message costs one frame at a time, whatever its size.
"""

from __future__ import annotations

from typing import Any, Callable, List

import pytest

from .memtrace import tracemalloc_or_skip

from wscodec.connection import Connection, State
from wscodec.events import Closed, CloseReceived, Fragment, Message, Ping

from .connection_helpers import MASK, cframe, close_frames, frames_of, raw_frame

LIMIT = 64 * 1024


def server(backend: Any, **kw: Any) -> Connection:
    return Connection("server", codec=backend, **kw)


def header(length: int, b0: int = 0x82) -> bytes:
    """A masked frame header announcing ``length`` bytes, with the 64-bit length form."""
    return bytes((b0, 0x80 | 127)) + length.to_bytes(8, "big") + MASK


def sent_closes(backend: Any, conn: Connection) -> List[Any]:
    return close_frames(backend, conn.data_to_send(), from_client=False)


def held_while(fn: Callable[[], Any]) -> int:
    """Bytes allocated by ``fn`` and still alive when it returns (tracemalloc)."""
    tracemalloc = tracemalloc_or_skip()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        fn()
        return tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize(
    "length, code",
    [((1 << 63) - 1, 1009), (1 << 20 | 1, 1009), (1 << 63, 1002), ((1 << 64) - 1, 1002)],
    ids=["2^63-1", "limit+1", "top-bit", "2^64-1"],
)
def test_header_announcing_huge_length(backend, length, code):
    conn = server(backend)  # default limit: 1 MiB
    assert conn.receive_data(header(length)) == []
    assert [c for c, _ in sent_closes(backend, conn)] == [code]
    assert conn.should_close_transport and conn.state is State.CLOSING
    assert conn._decoder.buffered == 0  # nothing of the announced payload was waited for
    assert conn.receive_data(b"\x00" * 65536) == []  # what follows is not even read


def test_huge_length_is_refused_from_the_header_even_mid_message(backend):
    conn = server(backend, max_message_size=LIMIT)
    conn.receive_data(cframe(backend, 2, b"x" * 1000, fin=False))
    conn.receive_data(header((1 << 63) - 1, b0=0x00))  # continuation announcing 2^63-1
    assert [c for c, _ in sent_closes(backend, conn)] == [1009]


def test_one_byte_fragments_assemble_correctly(backend):
    text = ("é" * 3000).encode()  # multi-byte characters split across 1-byte fragments
    data = cframe(backend, 1, text[:1], fin=False)
    data += b"".join(cframe(backend, 0, text[i : i + 1], fin=False) for i in range(1, len(text) - 1))
    data += cframe(backend, 0, text[-1:])
    conn = server(backend)
    events: List[Any] = []
    for i in range(0, len(data), 997):  # chunks that cut frames anywhere
        events += conn.receive_data(data[i : i + 997])
    assert events == [Message("é" * 3000)] and conn.data_to_send() == b""


def test_one_byte_fragments_cost_no_more_than_the_message(backend):
    limit = 16384
    conn = server(backend, max_message_size=limit)
    stream = cframe(backend, 2, b"a", fin=False) + cframe(backend, 0, b"a", fin=False) * (limit - 2)
    held = held_while(lambda: [conn.receive_data(stream[i : i + 65536]) for i in range(0, len(stream), 65536)])
    assert conn.state is State.OPEN  # limit - 1 bytes so far: within the limit
    assert held < 4 * limit, held  # the message so far is 16 KiB: not 42 times that


@pytest.mark.parametrize("deliver", [False, True], ids=["assembled", "fragments"])
def test_one_byte_text_fragments_cost_no_more_than_the_message(backend, deliver):
    limit = 16384
    text = ("中" * (limit // 3)).encode()  # each character decoded from three 1-byte fragments
    conn = server(backend, max_message_size=limit, deliver_fragments=deliver)
    stream = cframe(backend, 1, text[:1], fin=False)
    stream += b"".join(cframe(backend, 0, text[i : i + 1], fin=False) for i in range(1, len(text)))
    held = held_while(lambda: [conn.receive_data(stream[i : i + 65536]) for i in range(0, len(stream), 65536)])
    assert conn.state is State.OPEN
    assert held < 4 * limit, held  # not a str object per character


def test_fragment_flood_is_stopped_by_the_message_limit(backend):
    conn = server(backend, max_message_size=LIMIT)
    conn.receive_data(cframe(backend, 2, b"a" * 100, fin=False))
    frag = cframe(backend, 0, b"b" * 100, fin=False)
    sent = 100
    while conn.state is State.OPEN and sent < 2 * LIMIT:
        conn.receive_data(frag)
        sent += 100
    assert [c for c, _ in sent_closes(backend, conn)] == [1009]
    assert sent <= LIMIT + 100  # refused at the first fragment over the limit


def test_endless_empty_continuation_frames_hold_no_memory(backend):
    conn = server(backend, max_message_size=LIMIT)
    conn.receive_data(cframe(backend, 1, b"start", fin=False))
    flood = cframe(backend, 0, b"", fin=False) * 5000  # 30 KB of frames, 0 bytes of message
    held = held_while(lambda: [conn.receive_data(flood) for _ in range(3)])
    assert conn.state is State.OPEN
    assert held < 32 * 1024, held  # 15,000 empty fragments: nothing to keep (now 8 B each)


def test_unlimited_streamed_message_holds_one_frame(backend):
    """deliver_fragments and no message limit: 16 MiB in 256 KiB frames, each delivered and
    released, so what the connection keeps stays below one frame."""
    conn = server(backend, max_message_size=None, deliver_fragments=True)
    frame = cframe(backend, 0, b"z" * (256 * 1024), fin=False)
    assert conn.receive_data(cframe(backend, 2, b"a", fin=False)) == [Fragment(b"a", False)]

    def stream() -> None:
        for _ in range(64):
            [piece] = conn.receive_data(frame)
            assert len(piece.data) == 256 * 1024 and not piece.fin

    assert held_while(stream) < 64 * 1024
    assert conn.receive_data(cframe(backend, 0, b"!")) == [Fragment(b"!", True)]


def test_ping_flood_holds_one_pong_until_the_output_is_taken(backend):
    """RFC 6455 5.5.3: a pong not yet sent is replaced by the pong for a newer ping, so a flood
    read while the output is not taken (writes paused) holds one pong, not one per ping."""
    conn = server(backend)
    conn.coalesce_pongs = True  # what an I/O layer sets while its writes are paused
    pings = b"".join(cframe(backend, 9, b"%05d" % i) for i in range(2000))
    events = conn.receive_data(pings[: len(pings) // 2]) + conn.receive_data(pings[len(pings) // 2 :])
    assert events == [Ping(b"%05d" % i) for i in range(2000)]
    assert conn.pong_pending and not conn.output_pending
    pongs = frames_of(backend, conn.data_to_send(), from_client=False)
    assert [(f.opcode, bytes(f.payload)) for f in pongs] == [(10, b"01999")]
    assert conn.data_to_send() == b"" and not conn.pong_pending  # drained
    conn.receive_data(cframe(backend, 9, b"next"))  # a ping after the flush gets its own pong
    assert [bytes(f.payload) for f in frames_of(backend, conn.data_to_send(), from_client=False)] == [b"next"]


def test_every_ping_gets_its_pong_while_writes_flow(backend):
    """Without ``coalesce_pongs`` (writes not paused) pings read in one call are each answered,
    in order (what Autobahn's case 2.10 checks)."""
    conn = server(backend)
    events = conn.receive_data(b"".join(cframe(backend, 9, b"%d" % i) for i in range(10)))
    assert events == [Ping(b"%d" % i) for i in range(10)]
    pongs = frames_of(backend, conn.data_to_send(), from_client=False)
    assert [(f.opcode, bytes(f.payload)) for f in pongs] == [(10, b"%d" % i) for i in range(10)]


def test_pending_pong_replaced_in_place_among_other_output(backend):
    conn = server(backend)
    conn.coalesce_pongs = True
    conn.receive_data(cframe(backend, 9, b"1"))
    conn.send("reply")
    assert conn.pong_pending and conn.output_pending  # the message must go out
    conn.receive_data(cframe(backend, 9, b"2") + cframe(backend, 9, b"3"))
    conn.ping(b"mine")  # a ping or pong the application queues is never replaced
    conn.pong(b"own")
    conn.receive_data(cframe(backend, 9, b"4"))
    frames = frames_of(backend, conn.data_to_send(), from_client=False)
    assert [(f.opcode, bytes(f.payload)) for f in frames] == [(10, b"4"), (1, b"reply"), (9, b"mine"), (10, b"own")]


def test_ping_flood_after_close_sent_queues_nothing(backend):
    conn = server(backend)
    conn.close(1001, "going away")
    conn.data_to_send()
    events = conn.receive_data(cframe(backend, 9, b"p" * 125) * 1000)
    assert len(events) == 1000 and conn.data_to_send() == b""  # no pongs while closing


def test_close_followed_by_data(backend):
    conn = server(backend)
    close = cframe(backend, 8, backend.build_close(1000, "bye"))
    events = conn.receive_data(cframe(backend, 1, "before") + close + cframe(backend, 1, "after") + b"\xff\xff")
    assert events == [Message("before"), CloseReceived(1000, "bye")]
    assert sent_closes(backend, conn) == [(1000, "bye")]  # echoed once, no 1002 for the garbage
    assert conn.should_close_transport
    assert conn.receive_data(cframe(backend, 2, b"later") + raw_frame(backend, 0x83)) == []
    assert conn.data_to_send() == b""
    assert conn.receive_eof() == [Closed(1000, "bye", True, "remote")]


# The stream ends (EOF or reset) in every state: a Closed(1006) event, nothing raised, and a
# second EOF is a no-op.
STATES = {
    "open-idle": lambda b: b"",
    "mid-header": lambda b: cframe(b, 2, b"x" * 300)[:3],
    "mid-mask": lambda b: cframe(b, 2, b"x")[:4],
    "mid-payload": lambda b: cframe(b, 2, b"x" * 300)[:100],
    "mid-text-payload": lambda b: cframe(b, 1, "é" * 100)[:51],
    "mid-fragmented": lambda b: cframe(b, 1, "a", fin=False) + cframe(b, 0, "b", fin=False),
    "mid-close-frame": lambda b: cframe(b, 8, b"\x03\xe8bye")[:7],
}


@pytest.mark.parametrize("state", list(STATES))
def test_eof_in_every_state(backend, state):
    conn = server(backend)
    assert conn.receive_data(STATES[state](backend)) == []
    assert conn.receive_eof() == [Closed(1006, "", False, "remote")]
    assert conn.state is State.CLOSED and conn.data_to_send() == b""
    assert conn.receive_eof() == [] and conn.receive_data(b"more") == []
    with pytest.raises(Exception) as info:
        conn.send("too late")
    assert getattr(info.value, "code", None) == 1006


@pytest.mark.parametrize("who", ["we-closed", "we-failed", "they-closed"])
def test_eof_while_closing(backend, who):
    conn = server(backend)
    if who == "we-closed":
        conn.close(1000, "bye")
        expected = Closed(1006, "", False, "local")
    elif who == "we-failed":
        conn.receive_data(raw_frame(backend, 0x83))
        expected = Closed(1002, "reserved opcode", False, "local")
    else:
        conn.receive_data(cframe(backend, 8, backend.build_close(4000, "x")))
        expected = Closed(4000, "x", True, "remote")
    conn.data_to_send()
    assert conn.receive_eof() == [expected]
    assert conn.handle_timeout(100.0) == [] and conn.next_deadline() is None
