"""Text through the sans-I/O Connection against CPython's codec and the byte-by-byte RFC 3629
oracle: arbitrary bytes and str, every split into fragments and chunks, with and without
permessage-deflate and ``deliver_fragments``. Invalid UTF-8 must fail (1007) in the very chunk that
brings the first impossible byte (even inside an incomplete frame), an unfinished character in
the chunk that completes the message, and never earlier."""
from __future__ import annotations

import codecs
import zlib
from typing import Any, List, Tuple

from hypothesis import given
from hypothesis import strategies as st

from wscodec.connection import Connection
from wscodec.events import Fragment, Message

from .. import deflate_helpers as dh
from ..oracles import split, utf8_error_offset
from .strategies import cut_points, mask_keys, utf8_cut_hints, utf8_inputs

# any code point, surrogates included (sending them is a UnicodeEncodeError, as str.encode)
any_text = st.text(alphabet=st.characters(blacklist_categories=()), max_size=80)
# valid text long enough for the vector loops, and bytes that are mostly so
long_text = st.builds(lambda s, k: s * k, st.text(min_size=1, max_size=12), st.integers(1, 60))
payloads = st.one_of(utf8_inputs, long_text.map(lambda s: s.encode("utf-8", "surrogatepass")))


def frames(payload: bytes, cuts: List[int], mask: bytes) -> Tuple[bytes, List[int], List[int]]:
    """The message as masked client frames split at ``cuts``: (wire, wire offset of each payload
    byte, wire end of each frame)."""
    parts = split(payload, cuts)
    wire, where, ends = bytearray(), [], []
    for i, part in enumerate(parts):
        op = 1 if i == 0 else 0
        b0 = op | (0x80 if i == len(parts) - 1 else 0)
        n = len(part)
        head = bytes((b0, 0x80 | (n if n < 126 else 126))) + (n.to_bytes(2, "big") if n >= 126 else b"")
        head += mask
        body = bytes(b ^ mask[j % 4] for j, b in enumerate(part))
        where += range(len(wire) + len(head), len(wire) + len(head) + n)
        wire += head + body
        ends.append(len(wire))
    return bytes(wire), where, ends


def chunk_of(chunks: List[bytes], wire_offset: int) -> int:
    """Index of the chunk that carries wire byte ``wire_offset``."""
    end = 0
    for i, chunk in enumerate(chunks):
        end += len(chunk)
        if wire_offset < end:
            return i
    raise AssertionError(wire_offset)


def incremental(parts: List[bytes]) -> List[str]:
    """CPython's incremental decoder over the fragments: what each Fragment must carry."""
    dec = codecs.getincrementaldecoder("utf-8")()
    return [dec.decode(p, i == len(parts) - 1) for i, p in enumerate(parts)]


def feed(conn: Connection, chunks: List[bytes]) -> Tuple[List[Any], int]:
    """(events, index of the chunk after which the connection had failed, or -1)."""
    events: List[Any] = []
    for i, chunk in enumerate(chunks):
        events += conn.receive_data(chunk)
        if conn.error is not None:
            return events, i
    return events, -1


@st.composite
def text_streams(draw):
    payload = draw(payloads)
    frag_cuts = cut_points(draw, len(payload), utf8_cut_hints(payload))
    wire, where, ends = frames(payload, frag_cuts, draw(mask_keys))
    wire_cuts = cut_points(draw, len(wire), [where[i] for i in utf8_cut_hints(payload)] + ends)
    return payload, split(payload, frag_cuts), wire, where, split(wire, wire_cuts)


@given(stream=text_streams(), deliver=st.booleans())
def test_received_text_fails_exactly_where_the_oracle_says(backend, stream, deliver):
    payload, parts, wire, where, chunks = stream
    conn = Connection("server", codec=backend, deliver_fragments=deliver, max_message_size=None)
    events, failed_at = feed(conn, chunks)
    bad = utf8_error_offset(payload)
    if bad is None:
        assert failed_at == -1
        if deliver and len(parts) > 1:
            pieces = incremental(parts)
            assert events == [Fragment(p, i == len(pieces) - 1) for i, p in enumerate(pieces)]
        else:
            assert events == [Message(payload.decode("utf-8"))]
        return
    assert conn.error is not None and conn.error.close_code == 1007
    # the chunk with the first impossible byte; an unfinished character: the message's last byte
    expected = chunk_of(chunks, where[bad] if bad < len(payload) else len(wire) - 1)
    assert failed_at == expected
    delivered = "".join(e.data for e in events if isinstance(e, Fragment))
    assert not any(isinstance(e, Message) for e in events)
    assert codecs.getincrementaldecoder("utf-8")().decode(payload[:bad]).startswith(delivered)


@given(payload=payloads, cuts=st.data(), deliver=st.booleans())
def test_received_compressed_text_matches_the_oracle(backend, payload, cuts, deliver):
    raw = dh.deflate_raw(payload, bits=12)
    parts = split(raw, cut_points(cuts.draw, len(raw)))
    conn = dh.server_conn(backend, deliver_fragments=deliver)
    wire = [dh.cdata(backend, p, op=1 if i == 0 else 0, fin=i == len(parts) - 1) for i, p in enumerate(parts)]
    events, failed_at = feed(conn, wire)
    bad = utf8_error_offset(payload)
    if bad is None:
        assert failed_at == -1
        got = "".join(e.data for e in events) if deliver and len(parts) > 1 else None
        assert got == payload.decode("utf-8") if got is not None else events == [Message(payload.decode("utf-8"))]
        return
    assert conn.error is not None and conn.error.close_code == 1007
    # no frame fails before the one whose inflated bytes reach the bad one
    inflater, inflated, first = zlib.decompressobj(-12), 0, len(parts) - 1
    for i, p in enumerate(parts):
        inflated += len(inflater.decompress(p + (dh.TAIL if i == len(parts) - 1 else b"")))
        if inflated > bad:
            first = i
            break
    assert first <= failed_at
    assert not any(isinstance(e, Message) for e in events)


@given(text=any_text, how=st.sampled_from(["send", "fragment_size", "send_fragment"]),
       size=st.integers(1, 40), compress=st.booleans())
def test_sent_text_arrives_as_it_was(backend, text, how, size, compress):
    client, server = dh.conns(backend) if compress else (
        Connection("client", codec=backend), Connection("server", codec=backend))
    try:
        encoded = text.encode("utf-8")
    except UnicodeEncodeError:
        encoded = None
    pieces = [text[i : i + size] for i in range(0, len(text), size)] or [""]

    def send() -> None:
        if how == "send":
            client.send(text)
        elif how == "fragment_size":
            client.send(text, fragment_size=size)
        else:
            for i, piece in enumerate(pieces):
                client.send_fragment(piece, fin=i == len(pieces) - 1)

    if encoded is None:  # a lone surrogate: str.encode's error, nothing sent before it
        try:
            send()
        except UnicodeEncodeError:
            pass
        else:
            raise AssertionError("a surrogate was sent")
        assert how == "send_fragment" or client.data_to_send() == b""
        return
    send()
    out = client.data_to_send()
    if how == "send" and not compress:  # the str went into the frame as its UTF-8 bytes
        [frame] = backend.FrameDecoder(require_mask=True, max_frame_size=None).feed(out)
        assert bytes(frame.payload) == encoded and frame.opcode == 1 and frame.fin
    assert server.receive_data(out) == [Message(text)]


@given(text=long_text)
def test_server_text_frame_is_built_from_the_str(backend, text):
    conn = Connection("server", codec=backend)
    conn.send(text)
    assert conn.data_to_send() == backend.build_frame(1, text.encode("utf-8"))
