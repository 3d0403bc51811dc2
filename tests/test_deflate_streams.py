"""permessage-deflate data as RFC 7692 senders write it: final (BFINAL) blocks anywhere, data after
them, stored and empty blocks, sync and full flushes, from the stdlib zlib, isal and zlib-ng, with
and without context takeover, split into frames at any byte, decoded through a Connection by each
installed decompression library; and our own compressor's output read by every library.

Every test runs once per backend.
"""

from __future__ import annotations

import random
import zlib
from typing import Any, List

import pytest
from hypothesis import given, settings, strategies as st

from wscodec import deflate as d
from wscodec.connection import Connection
from wscodec.deflate import DeflateOptions, Params, PerMessageDeflate
from wscodec.events import Message

from .deflate_helpers import (LIBRARIES, TAIL, PeerCompressor, cdata, closed_with, json_like, library_or_skip,
                              message_frames)


def receiver(backend: Any, library: str = "zlib", bits: int = 15, takeover: bool = True,
             **kwargs: Any) -> Connection:
    """A server that agreed to ``client_max_window_bits=bits`` (and no context takeover when
    ``takeover`` is false), inflating with ``library``."""
    library_or_skip(library)
    params = Params(client_no_context_takeover=not takeover, client_max_window_bits=bits)
    pmd = PerMessageDeflate(params, False, DeflateOptions(library=library))
    return Connection("server", codec=backend, deflate=pmd, **kwargs)


def finish(data: bytes, zdict: bytes = b"", bits: int = 15) -> bytes:
    """``data`` as one whole raw DEFLATE stream: its last block is final (BFINAL)."""
    c = zlib.compressobj(6, zlib.DEFLATED, -bits, 8, zlib.Z_DEFAULT_STRATEGY, **({"zdict": zdict} if zdict else {}))
    return c.compress(data) + c.flush(zlib.Z_FINISH)


def messages(events: List[Any]) -> List[Any]:
    return [e.data for e in events if type(e) is Message]


# ---------------------------------------------------------------- final blocks (regressions)
@pytest.mark.parametrize("cut", [None, 3, "boundary"], ids=["one-frame", "frames", "frames-at-the-block-end"])
def test_data_after_a_final_block_is_not_dropped(backend, cut):
    """'Hello' in a final block, then 'World' (a new stream from the next byte, RFC 7692 7.2.1)
    in the same frame or the next: the message is 'HelloWorld', not 'Hello'."""
    first = finish(b"Hello")
    payload = first + finish(b"World")
    cuts = [] if cut is None else [len(first) if cut == "boundary" else cut]
    s = receiver(backend)
    assert messages(s.receive_data(message_frames(backend, payload, cuts))) == [b"HelloWorld"]
    assert s.error is None


@pytest.mark.parametrize("takeover", [True, False])
def test_later_stream_refers_back_across_a_final_block(backend, takeover):
    """Inside a message the window goes on after a final block whatever was negotiated; 'World'
    is coded as a reference to the first stream's bytes."""
    first = finish(b"Hello, World")
    second = finish(b"World, Hello", zdict=b"Hello, World")
    s = receiver(backend, bits=12, takeover=takeover)
    events = s.receive_data(message_frames(backend, first + second + b"\x00", [len(first) + 1]))
    assert messages(events) == [b"Hello, WorldWorld, Hello"] and s.error is None


@pytest.mark.parametrize("library", LIBRARIES)
def test_window_survives_a_final_block_with_context_takeover(backend, library):
    """RFC 7692 7.2.2: with context takeover the receiver keeps the LZ77 window, also after a
    message that ended with a final block; the next message refers back into it."""
    s = receiver(backend, library, bits=12)
    history = json_like(3000, 1)
    wire = (cdata(backend, finish(history, bits=12), op=2)
            + cdata(backend, finish(history[-2000:], zdict=history, bits=12), op=2))
    assert messages(s.receive_data(wire)) == [history, history[-2000:]] and s.error is None


def test_without_context_takeover_the_window_ends_with_the_message(backend):
    """client_no_context_takeover: a message that refers into the previous one (ended by a
    final block) is 1007, as after a sync flush."""
    history = json_like(3000, 1)
    s = receiver(backend, bits=12, takeover=False)
    wire = (cdata(backend, finish(history, bits=12), op=2)
            + cdata(backend, finish(history[-2000:], zdict=history, bits=12), op=2))
    events = s.receive_data(wire)
    assert messages(events) == [history] and closed_with(events, s) == 1007


@pytest.mark.parametrize("library", LIBRARIES)
def test_window_is_the_last_window_bits_of_output(backend, library):
    """The window kept across a final block is the last 2**bits bytes: a reference 400 bytes back
    decodes at 9 bits, one 600 bytes back is 1007 with every library (isal's own window is
    always 32 KiB: only the kept window stops it)."""
    rng = random.Random(5)
    block = bytes(rng.randrange(256) for _ in range(256))
    for distance, ok in ((400, True), (600, False)):
        s = receiver(backend, library, bits=9)
        first = block + bytes(rng.randrange(256) for _ in range(distance - len(block)))
        second = finish(block, zdict=first)  # a match of the whole block, ``distance`` back
        assert len(second) < 16
        events = s.receive_data(cdata(backend, finish(first), op=2) + cdata(backend, second, op=2))
        if ok:
            assert messages(events) == [first, block]
        else:
            assert closed_with(events, s) == 1007


@pytest.mark.parametrize("frames", [1, 4])
def test_large_stream_after_a_final_block(backend, frames):
    """After a final block the rest of a frame goes to the inflater in pieces: a 200 KB stream
    (references to the first stream included) then ends with the tail as usual."""
    rng = random.Random(7)
    head = json_like(1000, 4)
    body = bytes(rng.randrange(256) for _ in range(100_000)) + json_like(100_000, 4)
    c = zlib.compressobj(6, zlib.DEFLATED, -15, 8, zlib.Z_DEFAULT_STRATEGY, zdict=head)
    payload = finish(head) + (c.compress(body) + c.flush(zlib.Z_SYNC_FLUSH))[:-4]
    s = receiver(backend)
    cuts = [len(payload) * i // frames for i in range(1, frames)]
    assert messages(s.receive_data(message_frames(backend, payload, cuts))) == [head + body]
    assert s.error is None


def test_many_final_blocks_in_one_frame(backend):
    """Thousands of one-byte streams in one frame: all decoded (each stream's end copies only
    what is left of a bounded piece of input, never the rest of the frame)."""
    data = json_like(3000, 2)
    payload, history = b"", b""
    for i in range(len(data)):
        payload += finish(data[i:i + 1], zdict=history[-4096:], bits=12)
        history += data[i:i + 1]
    s = receiver(backend, bits=12)
    assert messages(s.receive_data(cdata(backend, payload, op=2))) == [data]


# ---------------------------------------------------------------- limits and errors across streams
@pytest.mark.parametrize("frames", [1, 3])
def test_limit_is_exact_across_final_blocks(backend, frames):
    """The message limit holds the total of all streams in a message: limit bytes decode,
    limit + 1 is 1009."""
    limit = 50_000
    for size, ok in ((limit, True), (limit + 1, False)):
        data = json_like(size, 3)
        payload = b"".join(finish(data[i:i + 7000]) for i in range(0, size, 7000))
        s = receiver(backend, max_message_size=limit)
        cuts = [len(payload) * i // frames for i in range(1, frames)]
        events = s.receive_data(message_frames(backend, payload, cuts))
        if ok:
            assert messages(events) == [data]
        else:
            assert closed_with(events, s) == 1009 and not messages(events)


def test_bomb_after_a_final_block_is_1009(backend):
    limit = 1 << 20
    bomb = zlib.compressobj(1, zlib.DEFLATED, -15)
    payload = finish(b"small") + bomb.compress(bytes(8 << 20)) + bomb.flush(zlib.Z_SYNC_FLUSH)
    s = receiver(backend, max_message_size=limit)
    assert closed_with(s.receive_data(cdata(backend, payload[:-4], op=2)), s) == 1009


@pytest.mark.parametrize("after", [b"\xff\xff\xff", b"\x07", b"\x00\x05\x00\x00\x00"],
                         ids=["reserved-block-type", "final-reserved", "stored-length-mismatch"])
def test_corrupt_data_after_a_final_block_is_1007(backend, after):
    s = receiver(backend)
    assert closed_with(s.receive_data(cdata(backend, finish(b"fine so far") + after, op=2)), s) == 1007


# ---------------------------------------------------------------- other compressors' vectors
MESSAGE_SIZES = [0, 1, 5, 31, 200, 1000, 5000, 20000]


@st.composite
def connection_plans(draw: Any, library: str) -> Any:
    styles = PeerCompressor.styles(library)
    bits = draw(st.sampled_from([8, 9, 12, 15] if library != "isal" else [9, 12, 15]))
    sizes = draw(st.lists(st.sampled_from(MESSAGE_SIZES), min_size=1, max_size=5))
    return dict(
        style=draw(st.sampled_from(styles)),
        bits=bits,
        takeover=draw(st.booleans()),
        level=draw(st.sampled_from([0, 1, 6, 9])),
        # repeated and related content, so that messages refer back into earlier ones
        messages=[json_like(n, draw(st.integers(0, 2))) for n in sizes],
        plain=[draw(st.integers(0, 9)) == 0 for _ in sizes],  # some go uncompressed (RSV1 clear)
        cuts=[draw(st.lists(st.integers(0, 1 << 16), max_size=4)) for _ in sizes],
        seed=draw(st.integers(0, 2**32)),
    )


@pytest.mark.parametrize("decoder", LIBRARIES)
@pytest.mark.parametrize("peer", LIBRARIES)
@settings(max_examples=max(10, settings().max_examples // 6))  # 9 pairs: 1.5x the profile's count
@given(data=st.data())
def test_peer_streams_decode(backend, peer, decoder, data):
    """Messages from ``peer`` in every style, each split into frames at random bytes, come out of
    a Connection inflating with ``decoder`` as they went in; the window kept for final blocks
    never holds more than 2 windows of output."""
    module = library_or_skip(peer)
    plan = data.draw(connection_plans(peer))
    sender = PeerCompressor(module, plan["style"], plan["bits"], plan["takeover"], plan["level"],
                            random.Random(plan["seed"]))
    s = receiver(backend, decoder, plan["bits"], plan["takeover"])
    for msg, plain, cuts in zip(plan["messages"], plan["plain"], plan["cuts"]):
        payload = msg if plain else sender.payload(msg)
        cuts = [c % (len(payload) + 1) for c in cuts]
        assert messages(s.receive_data(message_frames(backend, payload, cuts, compressed=not plain))) == [msg]
        assert s.error is None
        pmd = s.deflate
        assert pmd._recent_size == sum(map(len, pmd._recent)) <= 2 << plan["bits"]
        assert len(pmd._recent) <= d._RECENT_PARTS


# ---------------------------------------------------------------- our compressor, every decoder
@pytest.mark.parametrize("decoder", LIBRARIES)
@pytest.mark.parametrize("encoder", LIBRARIES)
@pytest.mark.parametrize("bits", [8, 9, 12, 15])
@pytest.mark.parametrize("takeover", [True, False])
def test_our_output_reads_with_every_library(backend, encoder, decoder, bits, takeover):
    """encode() output, inflated by each library's own raw inflater (one per connection with
    context takeover, one per message without), and by a Connection that uses that library."""
    library_or_skip(encoder)
    module = library_or_skip(decoder)
    opts = DeflateOptions(library=encoder, server_max_window_bits=bits, server_no_context_takeover=not takeover)
    client = d.client_accept([d.server_negotiate([d.client_offer(DeflateOptions())], opts)[0]],
                             DeflateOptions(library=decoder))
    server = d.server_negotiate([d.client_offer(DeflateOptions())], opts)[1]
    assert client is not None and client.library == decoder and server.library == encoder
    c = Connection("client", codec=backend, deflate=client)
    rng = random.Random(bits)
    msgs = [json_like(n, n % 3) for n in (40, 300, 5000, 70_000)] + [bytes(rng.randrange(256) for _ in range(3000))]
    inflater = module.decompressobj(-bits)
    wire = b""
    for m in msgs:
        payload, rsv1 = server.encode(m)
        assert rsv1 or not takeover
        if rsv1:
            if not takeover:
                inflater = module.decompressobj(-bits)
            assert inflater.decompress(bytes(payload) + TAIL) == m
        wire += backend.build_frame(2, payload, rsv1=rsv1)
    assert messages(c.receive_data(wire)) == msgs and c.error is None
