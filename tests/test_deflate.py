"""permessage-deflate (RFC 7692) on the wire: round trips, context takeover, fragmented and
crafted messages, RSV misuse, corrupt data, the message limit against zip bombs, memory; and
negotiation headers with any content (declined or refused, never an uncaught exception).

Every test runs once per backend. Peer frames come from the stdlib ``zlib``.
"""

from __future__ import annotations

import functools
import random
import zlib
from typing import Any, List

import pytest
from hypothesis import given, strategies as st

from wscodec import deflate as d
from wscodec.connection import Connection
from wscodec.deflate import DeflateOptions
from wscodec.errors import InvalidHandshake
from wscodec.events import Message, Ping

from .connection_helpers import close_frames, pump, raw_frame
from .memtrace import tracemalloc_or_skip
from .deflate_helpers import (TAIL, cdata, closed_with, conns, deflate_raw, frames_of, inflate, json_like,
                              server_conn)


# ---------------------------------------------------------------- the codec on the wire
PARAMS = {
    "default": ({}, {}),
    "no-context-takeover": ({"server_no_context_takeover": True, "client_no_context_takeover": True}, {}),
    "windows-8": ({"server_max_window_bits": 8, "client_max_window_bits": 8}, {}),
    "windows-15": ({"server_max_window_bits": 15, "client_max_window_bits": 15}, {}),
    "client-offers-9-nct": ({}, {"client_max_window_bits": 9, "server_max_window_bits": 9,
                                 "server_no_context_takeover": True}),
    "level-9": ({"level": 9, "mem_level": 9}, {"level": 0}),
    "stdlib-zlib": ({"library": "zlib"}, {"library": "zlib"}),
}


@pytest.mark.parametrize("name", list(PARAMS))
def test_round_trip(backend, name):
    server_opts, client_opts = PARAMS[name]
    c, s = conns(backend, DeflateOptions(**server_opts), DeflateOptions(**client_opts))
    rng = random.Random(1)
    messages: List[Any] = ["", b"", "x", "é" * 16, json_like(31).decode(), json_like(32), json_like(127).decode(),
                           json_like(128), bytes(rng.randrange(256) for _ in range(3000)), json_like(70_000).decode(),
                           b"\x00" * 300_000, "€" * 50_000]
    for m in messages:
        c.send(m)
        s.send(m)
    from_c, from_s = c.data_to_send(), s.data_to_send()
    es = s.receive_data(from_c)
    ec = c.receive_data(from_s)
    assert [e.data for e in es] == messages and [e.data for e in ec] == messages
    # RSV1 marks exactly the messages at or over the threshold (that shrink, without takeover),
    # and the payloads are standard DEFLATE within the agreed window (8 included): the stdlib
    # inflates them, with one running inflater under context takeover, a fresh one per message
    # without it
    for frames, side in ((frames_of(backend, from_c, True), c), (frames_of(backend, from_s, False), s)):
        pmd = side.deflate
        assert pmd is not None
        bits = (pmd.params.client_max_window_bits if side.is_client else pmd.params.server_max_window_bits) or 15
        inflater = zlib.decompressobj(-bits)
        for f, m in zip(frames, messages):
            raw = m.encode() if isinstance(m, str) else m
            if len(raw) < pmd.threshold:
                assert not f.rsv1
            elif not pmd._local_reset:
                assert f.rsv1, (len(raw), pmd)
            if f.rsv1:
                if pmd._local_reset:
                    inflater = zlib.decompressobj(-bits)
                assert inflate(bytes(f.payload), bits, inflater) == raw
        assert pmd.sent_compressed == sum(f.rsv1 for f in frames)


def test_context_takeover_on_the_wire(backend):
    msg = json_like(2000)
    for takeover in (True, False):
        opts = DeflateOptions(server_no_context_takeover=not takeover)
        c, s = conns(backend, opts)
        s.send(msg)
        s.send(msg)
        first, second = frames_of(backend, s.data_to_send(), False)
        assert first.rsv1 and second.rsv1
        if takeover:  # the second refers back to the first
            assert len(second.payload) < len(first.payload) // 10
            inflater = zlib.decompressobj(-12)
            assert inflater.decompress(bytes(first.payload) + TAIL) == msg
            assert inflater.decompress(bytes(second.payload) + TAIL) == msg
        else:  # each stands alone
            assert bytes(first.payload) == bytes(second.payload)
            assert inflate(bytes(second.payload), 12) == msg


def test_window_8_is_honoured(backend):
    """zlib has no raw 8-bit deflate: 9 is used, which never reaches back more than 250 bytes, so
    an 8-bit inflater reads it (a repeated 384-byte block would need a 384-byte reach)."""
    c, s = conns(backend, DeflateOptions(server_max_window_bits=8))
    block = bytes(random.Random(3).randrange(256) for _ in range(384))
    s.send(block * 4)
    (f,) = frames_of(backend, s.data_to_send(), False)
    assert f.rsv1 and inflate(bytes(f.payload), 8) == block * 4
    assert c.receive_data(raw_frame(backend, 0xC2, bytes(f.payload), mask=None)) == [Message(block * 4)]


@pytest.mark.parametrize("pieces", [1, 2, 7])
@pytest.mark.parametrize("chunked", [False, True], ids=["whole", "byte-by-byte"])
def test_fragmented_compressed_message_from_stdlib_zlib(backend, pieces, chunked):
    text = json_like(5000).decode() + "€😀"
    payload = deflate_raw(text.encode(), bits=12)
    cut = [len(payload) * i // pieces for i in range(pieces + 1)]
    wire = b""
    for i in range(pieces):
        first, last = i == 0, i == pieces - 1
        wire += cdata(backend, payload[cut[i]:cut[i + 1]], 1 if first else 0, fin=last, rsv1=first)
        if first and not last:
            wire += raw_frame(backend, 0x89, b"mid")  # control frames may come in between
    # the next message from a fresh compressor: valid with context takeover too (it refers to
    # nothing before it)
    wire += cdata(backend, deflate_raw(b"second", bits=12), 2)
    s = server_conn(backend)
    events: List[Any] = []
    if chunked:
        for i in range(len(wire)):
            events += s.receive_data(wire[i:i + 1])
    else:
        events = s.receive_data(wire)
    msgs = [e for e in events if type(e) is Message]
    assert msgs == [Message(text), Message(b"second")]
    assert (pieces > 1) == any(type(e) is Ping for e in events)
    assert s.error is None and s.deflate is not None and s.deflate.received_compressed == 2


def test_compressed_then_uncompressed_then_takeover(backend):
    """Uncompressed messages (RSV1 clear) may come between compressed ones; the peer's context
    carries over only the compressed ones."""
    c = zlib.compressobj(6, zlib.DEFLATED, -12)
    one = c.compress(b"hello hello hello") + c.flush(zlib.Z_SYNC_FLUSH)
    two = c.compress(b"hello hello hello again") + c.flush(zlib.Z_SYNC_FLUSH)
    s = server_conn(backend)
    wire = (cdata(backend, one[:-4]) + cdata(backend, b"plain", rsv1=False)
            + cdata(backend, two[:-4][:3], fin=False) + cdata(backend, two[:-4][3:], op=0, rsv1=False))
    assert s.receive_data(wire) == [Message("hello hello hello"), Message("plain"),
                                   Message("hello hello hello again")]


@pytest.mark.parametrize("takeover", [True, False])
def test_bfinal_block_and_empty_message(backend, takeover):
    """RFC 7692 7.2.3.3 (a final block instead of a sync flush) and 7.2.3.6 (empty message)."""
    s = server_conn(backend, server=DeflateOptions(client_no_context_takeover=not takeover))
    wire = (cdata(backend, deflate_raw(b"final block", finish=True)) + cdata(backend, b"\x00")
            + cdata(backend, deflate_raw(b"")) + cdata(backend, deflate_raw(b"after", bits=12)))
    assert s.receive_data(wire) == [Message("final block"), Message(""), Message(""), Message("after")]


# ---------------------------------------------------------------- protocol errors
@pytest.mark.parametrize("case", ["rsv1-continuation", "rsv1-continuation-plain", "rsv1-ping", "rsv1-pong",
                                  "rsv1-close", "rsv2", "rsv3"])
def test_rsv_misuse_is_1002(backend, case):
    payload = deflate_raw(b"abcdef" * 20)
    frames = {
        "rsv1-continuation": cdata(backend, payload[:5], fin=False) + cdata(backend, payload[5:], op=0, rsv1=True),
        "rsv1-continuation-plain": (cdata(backend, b"ab", fin=False, rsv1=False)
                                    + cdata(backend, b"cd", op=0, rsv1=True)),
        "rsv1-ping": raw_frame(backend, 0xC9, b"p"),
        "rsv1-pong": raw_frame(backend, 0xCA, b"p"),
        "rsv1-close": raw_frame(backend, 0xC8, b"\x03\xe8"),
        "rsv2": raw_frame(backend, 0xA1, payload),
        "rsv3": raw_frame(backend, 0x91, payload),
    }[case]
    s = server_conn(backend)
    events = s.receive_data(frames)
    assert not [e for e in events if type(e) is Message]
    assert closed_with(events, s) == 1002
    assert [code for code, _ in close_frames(backend, s.data_to_send(), False)] == [1002]


def test_rsv1_without_negotiation_is_1002(backend):
    s = Connection("server", codec=backend)
    events = s.receive_data(cdata(backend, deflate_raw(b"hello")))
    assert closed_with(events, s) == 1002 and not [e for e in events if type(e) is Message]


@pytest.mark.parametrize("payload", [b"\xff\xff\xff\xff", b"\x07", b"\x00\x05\x00\x00\x00"],
                         ids=["reserved-block-type", "final-reserved", "stored-length-mismatch"])
def test_corrupt_deflate_data_is_1007(backend, payload):
    s = server_conn(backend)
    events = s.receive_data(cdata(backend, payload, op=2))
    assert closed_with(events, s) == 1007


def test_reference_before_the_start_is_1007(backend):
    """A message that refers back to data this side never saw (the peer kept a context that it
    promised to drop, or lost a message) is corrupt data."""
    s = server_conn(backend, server=DeflateOptions(client_no_context_takeover=True))
    c = zlib.compressobj(6, zlib.DEFLATED, -12)
    c.compress(b"a message the server never gets")
    c.flush(zlib.Z_SYNC_FLUSH)
    second = c.compress(b"a message the server never gets") + c.flush(zlib.Z_SYNC_FLUSH)
    events = s.receive_data(cdata(backend, second[:-4]))
    assert closed_with(events, s) == 1007


@pytest.mark.parametrize("fragmented", [False, True])
def test_invalid_utf8_in_compressed_text_is_1007(backend, fragmented):
    payload = deflate_raw(b"valid text " * 50 + b"\xff" + b"more text " * 50)
    s = server_conn(backend)
    if fragmented:
        wire = cdata(backend, payload[:10], fin=False) + cdata(backend, payload[10:], op=0, fin=False)
        events = s.receive_data(wire)  # fails at the fragment that inflates to the bad byte
    else:
        events = s.receive_data(cdata(backend, payload))
    assert closed_with(events, s) == 1007


# ---------------------------------------------------------------- limits and memory
@functools.lru_cache(maxsize=None)
def zero_bomb(total: int, chunk: int = 8 << 20) -> bytes:
    """``total`` zero bytes deflated (~1/1000): after the first chunk each sync-flushed chunk of
    zeros compresses to the same bytes, so the stream is built from two chunks' worth of work."""
    c = zlib.compressobj(9, zlib.DEFLATED, -15, 9)
    zeros = bytes(chunk)
    first = c.compress(zeros) + c.flush(zlib.Z_SYNC_FLUSH)
    again = c.compress(zeros) + c.flush(zlib.Z_SYNC_FLUSH)
    assert c.compress(zeros) + c.flush(zlib.Z_SYNC_FLUSH) == again
    return (first + again * (total // chunk - 1))[:-4]


def test_zero_bomb_construction(backend):
    small = zero_bomb(32 << 20)
    assert zlib.decompressobj(-15).decompress(small + TAIL) == bytes(32 << 20)
    assert len(zero_bomb(1 << 30)) < 1 << 20


@pytest.mark.parametrize("fragments", [1, 8])
def test_zip_bomb_is_1009_before_memory_grows(backend, fragments):
    """1 GiB of zeros in a ~1 MiB payload against a 1 MiB message limit: 1009, and the memory
    allocated while inflating stays within a few times the limit (never near 1 GiB)."""
    limit = 1 << 20
    bomb = zero_bomb(1 << 30)
    assert len(bomb) < limit  # it passes the wire-size check: only the inflated size can stop it
    cut = [len(bomb) * i // fragments for i in range(fragments + 1)]
    wire = b"".join(cdata(backend, bomb[cut[i]:cut[i + 1]], 2 if i == 0 else 0, fin=i == fragments - 1,
                          rsv1=i == 0) for i in range(fragments))
    s = server_conn(backend, max_message_size=limit)
    tracemalloc = tracemalloc_or_skip()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        events = s.receive_data(wire)
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    assert closed_with(events, s) == 1009
    assert not [e for e in events if type(e) is Message]
    # the wire bytes (~1 MiB, plus the decoder's and the unmasked copies) and at most the limit
    # (+ one inflate step) of output
    assert peak < 6 * limit, "peak %.1f MiB while inflating a bomb" % (peak / 2**20)


def test_message_limit_counts_inflated_bytes(backend):
    limit = 100_000
    for size, ok in ((limit, True), (limit + 1, False)):
        s = server_conn(backend, max_message_size=limit)
        events = s.receive_data(cdata(backend, deflate_raw(b"a" * size), op=2))
        if ok:
            assert events == [Message(b"a" * size)]
        else:
            assert closed_with(events, s) == 1009
        # fragmented: the running total is checked at each fragment
        s = server_conn(backend, max_message_size=limit)
        p = deflate_raw(b"b" * size)
        events = s.receive_data(cdata(backend, p[:20], 2, fin=False) + cdata(backend, p[20:], 0))
        assert (events == [Message(b"b" * size)]) if ok else closed_with(events, s) == 1009


def traced_kib(fn: Any) -> float:
    """Memory still allocated after ``fn()`` (whose result is kept alive while measuring)."""
    tracemalloc = tracemalloc_or_skip()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        keep = fn()
        used = tracemalloc.get_traced_memory()[0] - base
        del keep
    finally:
        tracemalloc.stop()
    return used / 1024


@pytest.mark.parametrize("takeover", [True, False])
def test_memory_per_connection(backend, takeover):
    """With the stdlib zlib and the server defaults (windows of 12 bits, memLevel 5): about
    50 KiB per connection once it has compressed and inflated a message with context takeover
    (README), nothing between messages without it."""
    opts = DeflateOptions(library="zlib", server_no_context_takeover=not takeover,
                          client_no_context_takeover=not takeover)
    msg = json_like(65536)
    payload = deflate_raw(msg, bits=12)

    def exchange() -> Connection:
        s = server_conn(backend, server=opts, client=DeflateOptions(library="zlib"))
        assert s.receive_data(cdata(backend, payload, op=2)) == [Message(msg)]
        s.send(msg)
        s.data_to_send()
        return s

    exchange()  # warm up imports and caches
    idle = traced_kib(lambda: Connection("server", codec=backend))
    used = traced_kib(exchange) - idle
    if takeover:
        assert 30 < used < 80, used  # compressor ~37 KiB + decompressor ~12 KiB
    else:
        assert used < 8, used


# ---------------------------------------------------------------- libraries
def test_libraries_interoperate(backend):
    """Whatever is installed (isal, zlib-ng) talks to the stdlib zlib both ways."""
    names = ["zlib"]
    for name in ("isal", "zlib-ng"):
        try:
            d.load_library(name)
            names.append(name)
        except ImportError:
            pass
    for a in names:
        for b in names:
            c, s = conns(backend, DeflateOptions(library=a), DeflateOptions(library=b, client_max_window_bits=9))
            assert (c.deflate.library, s.deflate.library) == (b, a)
            msgs = [json_like(n, n).decode() for n in (100, 5000, 200_000)]
            for m in msgs:
                c.send(m)
                s.send(m)
            ec, es = pump(c, s)
            assert [e.data for e in ec] == msgs == [e.data for e in es]


def test_library_selection(backend, monkeypatch):
    assert d.load_library("zlib") == ("zlib", zlib)
    with pytest.raises(ValueError):
        d.load_library("brotli")
    monkeypatch.setenv("WSCODEC_DEFLATE", "zlib")
    assert d.load_library()[0] == "zlib"
    monkeypatch.delenv("WSCODEC_DEFLATE")
    try:
        import isal.isal_zlib  # noqa: F401
        expected = "isal"
    except ImportError:
        expected = "zlib"
    assert d.load_library()[0] == expected  # the fast one when installed, else the stdlib




# ---------------------------------------------------------------- hostile negotiation headers
def exchange(backend: Any, client: d.PerMessageDeflate, server: d.PerMessageDeflate) -> None:
    """A negotiated pair really talks: compressed messages both ways."""
    c = Connection("client", codec=backend, deflate=client)
    s = Connection("server", codec=backend, deflate=server)
    msgs = [json_like(600, 1).decode(), json_like(3000, 2)]
    for m in msgs:
        c.send(m)
        s.send(m)
    ec, es = pump(c, s)
    assert [e.data for e in ec] == msgs == [e.data for e in es]
    assert c.error is None and s.error is None


# digits of other scripts (str.isdigit() and int() take some), signs, blanks, leading zeros,
# and a number int() refuses to parse (Python's 4300-digit limit)
BAD_WINDOWS = ["\xb9", "\xb9\xb2", "\u0661\u0665", "\uff11\uff12", "1\u0665", "\U0001d7d7", "+9", " 9", "9 ", "1_0",
               "009", "9" * 5000]


@pytest.mark.parametrize("value", BAD_WINDOWS, ids=lambda v: ascii(v)[:12])
@pytest.mark.parametrize("param", ["client_max_window_bits", "server_max_window_bits"])
def test_window_bits_are_ascii_digits(backend, param, value):
    """Window bits are ASCII digits 8..15 and nothing else: the server declines such an offer
    (and takes the next one), the client refuses such an answer; no other exception."""
    bad = 'permessage-deflate; %s="%s"' % (param, value)
    got = d.server_negotiate([bad + ", permessage-deflate; client_max_window_bits"], DeflateOptions())
    assert got is not None and got[0] == "permessage-deflate; server_max_window_bits=12; client_max_window_bits=12"
    client = d.client_accept([got[0]], DeflateOptions())
    assert client is not None
    exchange(backend, client, got[1])
    with pytest.raises(InvalidHandshake):
        d.client_accept([bad], DeflateOptions())


# weighted towards what reaches the parameter checks: one permessage-deflate offer, window bits
_NAMES = st.sampled_from(["permessage-deflate"] * 4 + ["Permessage-Deflate", "x-webkit-deflate-frame", "foo"])
_PARAM_NAMES = st.sampled_from(list(d._PARAMS) + ["server_max_window_bits", "client_max_window_bits",
                                                  "Client_Max_Window_Bits", "foo"])
_VALUES = st.one_of(st.none(), st.sampled_from(["8", "9", "12", "15", "16", "0", "08"]),
                    st.sampled_from(BAD_WINDOWS[:-1]), st.text(max_size=6),
                    # numbers of any script: decimal digits, superscripts, fractions, ...
                    st.text(st.characters(categories=["Nd", "No", "Nl"]), min_size=1, max_size=2))


@st.composite
def extension_headers(draw: Any) -> str:
    """Sec-WebSocket-Extensions values, mostly well formed, with any characters in values."""
    offers = []
    for _ in range(draw(st.sampled_from([1, 1, 1, 2, 3]))):
        parts = [draw(_NAMES)]
        for _ in range(draw(st.integers(0, 3))):
            name, value = draw(_PARAM_NAMES), draw(_VALUES)
            if value is None:
                parts.append(name)
            elif draw(st.booleans()):  # quoted, escaped: parses whatever it holds (but controls)
                parts.append('%s="%s"' % (name, value.replace("\\", "\\\\").replace('"', '\\"')))
            else:  # as it is: a syntax error unless it is a token
                parts.append("%s=%s" % (name, value))
        offers.append(draw(st.sampled_from(["; ", ";", " ;\t"])).join(parts))
    return draw(st.sampled_from([", ", ",", " , "])).join(offers)


HEADERS = st.lists(st.one_of(extension_headers(), st.text()), min_size=1, max_size=2)
ANSWERS = st.one_of(st.lists(extension_headers(), min_size=1, max_size=1), HEADERS)  # one extension, mostly


@given(values=HEADERS)
def test_server_negotiate_takes_any_header(backend, values):
    """Any header: an answer whose codec works with a client's, or a decline; nothing raises."""
    got = d.server_negotiate(values, DeflateOptions())
    if got is not None:
        client = d.client_accept([got[0]], DeflateOptions())  # what our client offers by default
        assert client is not None
        exchange(backend, client, got[1])


@given(values=ANSWERS)
def test_client_accept_takes_any_header(backend, values):
    """Any answer: a codec that works with a server of those parameters, None, or
    InvalidHandshake; nothing else raises."""
    try:
        client = d.client_accept(values, DeflateOptions())
    except InvalidHandshake:
        return
    if client is not None:
        exchange(backend, client, d.PerMessageDeflate(client.params, False))
