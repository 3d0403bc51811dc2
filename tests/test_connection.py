"""Sans-I/O Connection: message assembly, control frames, UTF-8, limits and protocol errors.

Every test runs once per backend (``codec=backend``).
"""

from __future__ import annotations

import pytest

from wscodec.connection import Connection, State
from wscodec.errors import ConnectionClosed
from wscodec.events import Closed, Message, Ping

from .connection_helpers import cframe, close_frames, frames_of, raw_frame, sframe, types_of
from .forking import in_child, needs_fork


def server(backend, **kw) -> Connection:
    return Connection("server", codec=backend, **kw)


def failed_with(backend, conn: Connection, code: int) -> None:
    """``conn`` sent exactly one close with ``code`` and reports it once the transport closes."""
    sent = conn.data_to_send()
    assert [c for c, _ in close_frames(backend, sent, conn.is_client)] == [code]
    assert conn.state is State.CLOSING
    assert conn.error is not None and conn.error.close_code == code
    if not conn.is_client:
        assert conn.should_close_transport and not conn.transport_abort  # flush the close, then close
    [closed] = conn.receive_eof()
    assert closed == Closed(code, conn.error.reason, False, "local")
    assert (conn.close_code, conn.was_clean, conn.closed_by) == (code, False, "local")


def test_text_and_binary(backend):
    conn = server(backend)
    events = conn.receive_data(cframe(backend, 1, "héllo") + cframe(backend, 2, b"\x00\xff"))
    assert events == [Message("héllo"), Message(b"\x00\xff")]
    assert type(events[1].data) is bytes


def test_fragmented_with_interleaved_ping_byte_by_byte(backend):
    conn = server(backend)
    data = (
        cframe(backend, 1, "hé".encode()[:2], fin=False)
        + cframe(backend, 9, b"p1")
        + cframe(backend, 0, "hé".encode()[2:], fin=False)
        + cframe(backend, 0, "llo", fin=True)
    )
    events = []
    for i in range(len(data)):
        events += conn.receive_data(data[i : i + 1])
    assert events == [Ping(b"p1"), Message("héllo")]
    [pong] = frames_of(backend, conn.data_to_send(), from_client=False)
    assert (pong.opcode, bytes(pong.payload)) == (10, b"p1")


def test_client_masks_and_server_does_not(backend):
    client, srv = Connection("client", codec=backend), server(backend)
    client.send("x")
    srv.send("y")
    c_out, s_out = client.data_to_send(), srv.data_to_send()
    assert c_out[1] & 0x80 and not s_out[1] & 0x80
    assert srv.receive_data(c_out) == [Message("x")]
    assert client.receive_data(s_out) == [Message("y")]


def test_continuation_without_start(backend):
    conn = server(backend)
    assert conn.receive_data(cframe(backend, 0, b"x")) == []
    failed_with(backend, conn, 1002)


def test_new_message_inside_fragmented_message(backend):
    conn = server(backend)
    conn.receive_data(cframe(backend, 1, b"a", fin=False) + cframe(backend, 2, b"b"))
    failed_with(backend, conn, 1002)


@pytest.mark.parametrize("bits", [0x40, 0x20, 0x10], ids=["rsv1", "rsv2", "rsv3"])
def test_reserved_bits(backend, bits):
    conn = server(backend)
    conn.receive_data(raw_frame(backend, 0x80 | bits | 1, b"hi"))
    failed_with(backend, conn, 1002)


@pytest.mark.parametrize("opcode", [3, 7, 0xB, 0xF])
def test_bad_opcode(backend, opcode):
    conn = server(backend)
    conn.receive_data(raw_frame(backend, 0x80 | opcode, b""))
    failed_with(backend, conn, 1002)


def test_unmasked_client_frame(backend):
    conn = server(backend)
    conn.receive_data(sframe(backend, 1, b"hi"))
    failed_with(backend, conn, 1002)


def test_masked_server_frame(backend):
    conn = Connection("client", codec=backend)
    conn.receive_data(cframe(backend, 1, b"hi"))
    failed_with(backend, conn, 1002)


def test_fragmented_control_frame(backend):
    conn = server(backend)
    conn.receive_data(raw_frame(backend, 0x09, b"ping"))  # FIN clear on a ping
    failed_with(backend, conn, 1002)


def test_control_frame_too_long(backend):
    conn = server(backend)
    conn.receive_data(raw_frame(backend, 0x89, b"x" * 126))
    failed_with(backend, conn, 1002)


def test_invalid_utf8_fails_at_first_bad_fragment(backend):
    conn = server(backend)
    assert conn.receive_data(cframe(backend, 1, b"ok ", fin=False)) == []
    assert conn.data_to_send() == b""
    # \xed\xa0 starts a surrogate: impossible, and known before the message ends
    conn.receive_data(cframe(backend, 0, b"\xed\xa0", fin=False))
    failed_with(backend, conn, 1007)


def test_invalid_utf8_inside_incomplete_frame(backend):
    conn = server(backend)
    frame = cframe(backend, 1, b"valid " + b"\xc0\xaf" + b"x" * 1000)
    assert conn.receive_data(frame[:20]) == []
    failed_with(backend, conn, 1007)  # the rest of the frame never arrived


def test_invalid_utf8_inside_incomplete_continuation(backend):
    conn = server(backend)
    conn.receive_data(cframe(backend, 1, "€".encode()[:1], fin=False))
    frame = cframe(backend, 0, "€".encode()[1:] + b"\xff" + b"x" * 100)
    conn.receive_data(frame[:8])  # header (6 bytes) and the end of the euro sign
    assert conn.data_to_send() == b""
    conn.receive_data(frame[8:9])
    failed_with(backend, conn, 1007)


def test_split_multibyte_across_fragments_and_chunks(backend):
    conn = server(backend)
    text = "añ€😀" * 50
    raw = text.encode()
    data = cframe(backend, 1, raw[:7], fin=False) + cframe(backend, 0, raw[7:], fin=True)
    events = []
    for i in range(0, len(data), 3):
        events += conn.receive_data(data[i : i + 3])
    assert events == [Message(text)]


def test_unfinished_sequence_at_message_end(backend):
    conn = server(backend)
    conn.receive_data(cframe(backend, 1, b"a\xe2\x82", fin=False) + cframe(backend, 0, b"", fin=True))
    failed_with(backend, conn, 1007)


def test_invalid_utf8_single_frame(backend):
    conn = server(backend)
    conn.receive_data(cframe(backend, 1, b"\xff"))
    failed_with(backend, conn, 1007)


def test_message_too_big_from_frame_header(backend):
    conn = server(backend, max_message_size=1000)
    header_only = cframe(backend, 2, b"x" * 1001)[:8]  # 2 + 2 length bytes + 4 mask bytes
    assert conn.receive_data(header_only) == []
    failed_with(backend, conn, 1009)


def test_fragmented_message_too_big_from_next_header(backend):
    conn = server(backend, max_message_size=1000)
    assert conn.receive_data(cframe(backend, 2, b"x" * 600, fin=False)) == []
    # the next fragment would make 1200 bytes: refused at its header, before its payload
    conn.receive_data(cframe(backend, 0, b"y" * 600)[:8])
    failed_with(backend, conn, 1009)


def test_message_at_the_limit(backend):
    conn = server(backend, max_message_size=1000)
    data = (
        cframe(backend, 2, b"x" * 500, fin=False)
        + cframe(backend, 9, b"p" * 125)
        + cframe(backend, 0, b"y" * 500)
    )
    assert types_of(conn.receive_data(data)) == ["Ping", "Message"]


def test_frame_limit_below_message_limit(backend):
    conn = server(backend, max_message_size=1000, max_frame_size=100)
    assert conn.receive_data(cframe(backend, 2, b"x" * 100, fin=False)) == []
    conn.receive_data(cframe(backend, 0, b"x" * 101)[:8])
    failed_with(backend, conn, 1009)


def test_protocol_error_after_messages_queues_the_close_at_once(backend):
    """By default the close that fails the connection is ready right after the receive_data
    call that found the error, even when that call also delivered messages: a caller without
    timers still sends it."""
    conn = server(backend)
    events = conn.receive_data(
        cframe(backend, 1, "hello") + cframe(backend, 9, b"p") + raw_frame(backend, 0x80 | 0x20 | 1, b"x")
    )
    assert events == [Message("hello"), Ping(b"p")]
    assert not conn.failure_pending and conn.next_deadline() != 0.0
    frames = frames_of(backend, conn.data_to_send(), from_client=False)
    assert [f.opcode for f in frames] == [10, 8]  # the pong for the ping before the error, the close
    assert tuple(backend.parse_close(frames[1].payload))[0] == 1002
    assert conn.state is State.CLOSING and conn.error.close_code == 1002 and conn.should_close_transport
    with pytest.raises(ConnectionClosed):
        conn.send("hello")


def test_messages_before_an_error_come_first_then_the_close(backend):
    conn = server(backend, defer_failure_close=True)
    events = conn.receive_data(
        cframe(backend, 1, "hello") + raw_frame(backend, 0x80 | 0x20 | 1, b"x") + cframe(backend, 9)
    )
    assert events == [Message("hello")]
    # the close waits for a deadline at "now", so the application can still answer "hello"
    assert conn.data_to_send() == b"" and conn.failure_pending and conn.state is State.OPEN
    assert conn.next_deadline() == 0.0
    conn.send("hello")
    assert conn.receive_data(cframe(backend, 1, "ignored")) == []  # input is closed
    conn.handle_timeout(0.0)
    frames = frames_of(backend, conn.data_to_send(), from_client=False)
    assert [f.opcode for f in frames] == [1, 8]  # the echo, then the close; no pong
    assert tuple(backend.parse_close(frames[1].payload))[0] == 1002


def test_close_during_pending_failure_sends_the_error(backend):
    conn = server(backend, defer_failure_close=True)
    conn.receive_data(cframe(backend, 2, b"m") + cframe(backend, 0, b"x"))
    conn.close(1000)
    failed_with(backend, conn, 1002)


def test_invalid_close_reason_utf8(backend):
    conn = server(backend)
    conn.receive_data(cframe(backend, 8, b"\x03\xe8\xff\xfe"))
    failed_with(backend, conn, 1007)


@pytest.mark.parametrize(
    "payload", [b"\x03", b"\x03\xed", b"\x03\xee", b"\x00\x00", b"\x0b\xb7", b"\x13\x88"]
)
def test_invalid_close_payload(backend, payload):
    # 1 byte; 1005; 1006; 0; 2999; 5000
    conn = server(backend)
    conn.receive_data(cframe(backend, 8, payload))
    failed_with(backend, conn, 1002)


def test_data_after_failure_is_ignored(backend):
    conn = server(backend)
    conn.receive_data(cframe(backend, 0, b"x"))
    assert conn.receive_data(cframe(backend, 1, b"late") + cframe(backend, 9)) == []
    failed_with(backend, conn, 1002)


def test_send_rejects_other_types(backend):
    conn = server(backend)
    with pytest.raises(TypeError):
        conn.send(123)  # type: ignore[arg-type]


def test_send_after_failure_raises(backend):
    conn = server(backend)
    conn.receive_data(cframe(backend, 0, b"x"))
    with pytest.raises(ConnectionClosed) as info:
        conn.send("x")
    assert info.value.code == 1002


def test_input_buffers_are_counted_in_bytes(backend):
    """A chunk given as a buffer of 2-byte items, then bytes: the decoder counts bytes, so must
    the early UTF-8 check of the incomplete frame (it misread the next chunk as a header: 1007)."""
    text = "é" * 150
    frame = cframe(backend, 1, text.encode())
    for cut in range(2, 40, 2):
        for cut2 in range(cut + 1, cut + 30):
            conn = server(backend)
            events = conn.receive_data(memoryview(frame[:cut]).cast("H"))
            events += conn.receive_data(frame[cut:cut2]) + conn.receive_data(bytearray(frame[cut2:]))
            assert (events, conn.error) == ([Message(text)], None), (cut, cut2)


def test_output_buffers_are_counted_in_bytes(backend):
    client, srv = Connection("client", codec=backend), server(backend)
    words = memoryview(b"ab" * 62).cast("H")  # 62 items, 124 bytes: a valid control payload
    client.ping(words)
    client.pong(words)
    client.send(words)
    client.send_fragment(words, fin=False)
    client.send_fragment(memoryview(b"cd").cast("H"), fin=True)
    events = srv.receive_data(client.data_to_send())
    assert events[0].payload == b"ab" * 62 and events[1].payload == b"ab" * 62
    assert [e.data for e in events[2:]] == [b"ab" * 62, b"ab" * 62 + b"cd"]


def client_masks(conn: Connection, n: int) -> bytes:
    """The masking keys of ``n`` empty binary frames the client sends now."""
    for _ in range(n):
        conn.send(b"")
    out = conn.data_to_send()
    assert len(out) == 6 * n
    return b"".join(out[i + 2 : i + 6] for i in range(0, len(out), 6))


@needs_fork
def test_forked_client_draws_fresh_masks(backend):
    """Masks come from the backend's fork-safe source: a child must not send the masks its
    parent sends next (a per-connection buffer of random bytes was copied by fork)."""
    conn = Connection("client", codec=backend)
    client_masks(conn, 2)  # random bytes fetched before the fork
    child = in_child(lambda: client_masks(conn, 16), 64)
    parent = client_masks(conn, 16)
    assert len(child) == 64 and child != parent, "the child reused the parent's masks"
