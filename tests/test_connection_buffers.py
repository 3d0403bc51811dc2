"""``Connection.buffers_to_send()``: large unmasked payloads of bytes are written as they are,
apart from their frame header (no copy), and everything else as ``data_to_send()`` joins it.
Every test runs once per backend."""

from __future__ import annotations

import os
import sys
from typing import Any, List

import pytest

from wscodec._output import LARGE_PAYLOAD, _header
from wscodec._writes import write_buffers
from wscodec.connection import Connection
from wscodec.deflate import DeflateOptions
from wscodec.events import Message

from . import deflate_helpers as dh

SIZES = [LARGE_PAYLOAD - 1, LARGE_PAYLOAD, 65535, 65536, 3 * LARGE_PAYLOAD + 7]


def queue(conn: Connection, payload: Any) -> None:
    """A ping, the message, a pong and a small message: frames around the large one."""
    conn.ping(b"before")
    conn.send(payload)
    conn.pong(b"after")
    conn.send("small")


@pytest.mark.parametrize("rsv1", [False, True])
@pytest.mark.parametrize("length", [0, 125, 126, 65535, 65536, LARGE_PAYLOAD + 1])
def test_a_header_kept_apart_is_the_one_build_frame_writes(backend, length, rsv1):
    """The header written before a payload kept apart is built in Python for both backends:
    it must be byte for byte the head of the backend's own frame."""
    payload = b"\x5a" * length
    for op in (1, 2):
        assert _header(op, length, True, rsv1) + payload == backend.build_frame(op, payload, rsv1=rsv1)


def messages(conn: Connection, data: bytes) -> List[Any]:
    return [e.data for e in conn.receive_data(data) if isinstance(e, Message)]


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("role", ["server", "client"])
def test_buffers_join_to_what_data_to_send_gives(backend, role, size):
    payload = bytes(range(256)) * (size // 256) + b"x" * (size % 256)
    split, whole = Connection(role, codec=backend), Connection(role, codec=backend)
    queue(split, payload)
    queue(whole, payload)
    buffers = split.buffers_to_send()
    if role == "server":  # (a client's frames have random masks)
        assert b"".join(buffers) == whole.data_to_send()
    assert split.buffers_to_send() == [] and split.data_to_send() == b""
    apart = role == "server" and size >= LARGE_PAYLOAD
    assert any(b is payload for b in buffers) is apart
    assert len(buffers) == (3 if apart else 1)  # the small frames on either side are joined
    peer = Connection("client" if role == "server" else "server", codec=backend, max_message_size=None)
    assert messages(peer, b"".join(buffers)) == [payload, "small"]


@pytest.mark.parametrize("kind", [bytearray, memoryview])
def test_a_mutable_payload_is_copied_at_send(backend, kind):
    data = bytearray(b"a" * (LARGE_PAYLOAD + 10))
    conn = Connection("server", codec=backend)
    conn.send(kind(data))
    data[:4] = b"XXXX"  # the caller's buffer changes after send returned
    (frame,) = conn.buffers_to_send()
    assert frame.endswith(b"a" * (LARGE_PAYLOAD + 10))


def test_compressed_payloads_and_data_to_send_after_a_split(backend):
    client, server = dh.conns(backend, server=DeflateOptions(server_no_context_takeover=True))
    message = bytes(range(256)) * (2 * LARGE_PAYLOAD // 256)  # compresses to a few KiB
    noise = os.urandom(LARGE_PAYLOAD + 1)  # would not shrink: sent as it is, apart
    server.send(message)
    server.send(noise)
    assert server.deflate.sent_compressed == 1
    data = server.data_to_send()  # joins a payload kept apart, too
    assert messages(client, data) == [message, noise]
    assert server.buffers_to_send() == []
    server.send(noise)
    assert server.buffers_to_send()[1] is noise


class Recorder:
    """A transport that records what it is asked, holding ``buffered`` bytes afterwards."""

    def __init__(self, buffered: int) -> None:
        self.calls: List[Any] = []
        self.buffered = buffered

    def write(self, data: bytes) -> None:
        self.calls.append(("write", data))

    def writelines(self, data: List[bytes]) -> None:
        self.calls.append(("writelines", data))

    def get_write_buffer_size(self) -> int:
        return self.buffered

    def get_write_buffer_limits(self) -> Any:
        return (16384, 65536)

    def set_write_buffer_limits(self, high: int, low: int) -> None:
        self.calls.append(("limits", high, low))


@pytest.mark.parametrize("buffered", [0, 65536, 65537])
def test_write_buffers_copies_only_where_writelines_would(backend, buffered):
    payload = b"p" * LARGE_PAYLOAD
    conn = Connection("server", codec=backend)
    conn.send(payload)
    buffers = conn.buffers_to_send()
    transport = Recorder(buffered)
    write_buffers(transport, buffers)
    if sys.version_info >= (3, 12):  # selector transports send the list with sendmsg()
        assert buffers[1] is payload
        # over the high-water mark, the limits are set again: that pauses the protocol where
        # writelines() does not (CPython before 3.12.9 / 3.13.2)
        again = [("limits", 65536, 16384)] if buffered > 65536 else []
        assert transport.calls == [("writelines", buffers)] + again
    else:  # writelines() would join them anyway; one write beats one per buffer
        assert transport.calls == [("write", b"".join(buffers))]
