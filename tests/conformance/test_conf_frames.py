"""Frames: parse_header, build_frame and FrameDecoder, backend vs backend and vs the generator."""
from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from wscodec import Opcode

from ..oracles import encode_frame, encode_header, naive_mask, norm, outcome, split
from .strategies import (
    RESERVED_OPCODES,
    buffer_kinds,
    cut_points,
    frame_streams,
    limits_near,
    mask_keys,
    max_frame_sizes,
    sized_bytes,
)


def frame_boundaries(specs):
    points, pos = [], 0
    for spec in specs:
        points.append(pos)
        pos += len(spec.wire)
    return points + [pos]


def decode_trace(ns, chunks, kind, **options):
    """Every feed's outcome (frames, or the error with its .frames) and the buffered count."""
    decoder = ns.FrameDecoder(**options)
    trace = []
    for chunk in chunks:
        trace.append((outcome(decoder.feed, kind(chunk)), decoder.buffered))
    return trace


decoder_options = st.fixed_dictionaries({
    "require_mask": st.booleans(),
    "max_frame_size": max_frame_sizes,
    "allow_rsv1": st.booleans(),
})


@given(options=decoder_options, kind=buffer_kinds, data=st.data())
def test_decoder_backends_agree_on_frame_streams(backends, options, kind, data):
    specs = data.draw(frame_streams(options["require_mask"]), label="frames")
    if specs[0].open_ended is False and data.draw(st.booleans(), label="limit near the frame sizes"):
        options = dict(options, max_frame_size=data.draw(limits_near(specs), label="max_frame_size"))
    stream = b"".join(s.wire for s in specs)
    cuts = cut_points(data.draw, len(stream), frame_boundaries(specs))
    chunks = split(stream, cuts) + [b"", stream[:3]]  # after the stream: more input (or more errors)
    py, c = backends
    assert decode_trace(c, chunks, kind, **options) == decode_trace(py, chunks, kind, **options)


@given(options=decoder_options, stream=st.binary(max_size=200), cuts=st.lists(st.integers(0, 200), max_size=5))
def test_decoder_backends_agree_on_random_bytes(backends, options, stream, cuts):
    chunks = split(stream, cuts)
    py, c = backends
    assert decode_trace(c, chunks, bytes, **options) == decode_trace(py, chunks, bytes, **options)


@given(require_mask=st.booleans(), data=st.data())
def test_decoder_returns_exactly_the_frames_sent(backend, require_mask, data):
    """Only valid frames, cut anywhere: the decoded frames are the generated ones, in order."""
    specs = data.draw(frame_streams(require_mask, faults=False), label="frames")
    stream = b"".join(s.wire for s in specs)
    chunks = split(stream, cut_points(data.draw, len(stream), frame_boundaries(specs)))
    decoder = backend.FrameDecoder(require_mask=require_mask, max_frame_size=None, allow_rsv1=True)
    got = []
    for chunk in chunks:
        got += decoder.feed(chunk)
    assert [(int(f.opcode), f.fin, f.rsv1, bytes(f.payload)) for f in got] == \
        [(s.opcode, s.fin, s.rsv1, s.payload) for s in specs]
    assert decoder.buffered == 0


@given(data=st.data())
def test_decoder_limit_is_checked_from_the_header(backend, data):
    """A frame over max_frame_size fails as soon as its header is complete, whatever follows."""
    limit = data.draw(st.integers(0, 70000), label="limit")
    length = data.draw(st.integers(limit + 1, limit + 70000) | st.sampled_from([2**40, 2**63 - 1]), label="length")
    key = data.draw(st.none() | mask_keys, label="key")
    header = encode_header(2, length, mask=key)
    decoder = backend.FrameDecoder(require_mask=key is not None, max_frame_size=limit)
    for i in range(len(header) - 1):
        assert decoder.feed(header[i:i + 1]) == []
    err = outcome(decoder.feed, header[-1:])
    assert err[:2] == ("raise", "PayloadTooBig") and err[4] == 1009


# -- parse_header ---------------------------------------------------------------------------

header_fields = st.fixed_dictionaries({
    "opcode": st.one_of(st.sampled_from([0, 1, 2, 8, 9, 10]), st.sampled_from(RESERVED_OPCODES)),
    "length": st.one_of(st.sampled_from([0, 125, 126, 65535, 65536, 2**32, 2**63 - 1, 2**63, 2**64 - 1]),
                        st.integers(0, 70000)),
    "fin": st.booleans(), "rsv1": st.booleans(), "rsv2": st.booleans(), "rsv3": st.booleans(),
    "mask": st.none() | mask_keys,
    "form": st.sampled_from([None, None, None, 16, 64]),
})


@st.composite
def header_inputs(draw):
    """(bytes, offset): a header (legal or not) between random bytes, whole or cut short, or
    random bytes; the offset is mostly where the header starts, sometimes anywhere."""
    fields = draw(header_fields)
    length = fields["length"]
    if fields["form"] == 16 and length > 65535 or fields["form"] is None and length > 2**63:
        fields["form"] = 64
    header = encode_header(fields.pop("opcode"), fields.pop("length"), **fields)
    prefix = draw(st.binary(max_size=6))
    suffix = draw(st.binary(max_size=6))
    data = draw(st.sampled_from([prefix + header + suffix, (prefix + header)[:draw(st.integers(0, 20))]]))
    data = draw(st.one_of(st.just(data), st.just(data), st.just(data), st.binary(max_size=24)))
    offset = draw(st.one_of(st.just(len(prefix)), st.integers(-3, len(data) + 3)))
    return data, offset


@given(case=header_inputs(), kind=buffer_kinds)
def test_parse_header_backends_agree(backends, case, kind):
    data, offset = case
    py, c = backends
    assert outcome(c.parse_header, kind(data), offset) == outcome(py.parse_header, kind(data), offset)


@given(fields=header_fields, prefix=st.binary(max_size=5), tail=st.binary(max_size=5))
def test_parse_header_against_the_rfc_layout(backend, fields, prefix, tail):
    opcode, length, mask = fields["opcode"], fields["length"], fields["mask"]
    form = fields["form"]
    if form == 16 and length > 65535 or form is None and length > 2**63:
        form = 64
    flags = {k: fields[k] for k in ("fin", "rsv1", "rsv2", "rsv3")}
    header = encode_header(opcode, length, mask=mask, form=form, **flags)
    got = outcome(backend.parse_header, prefix + header + tail, len(prefix))
    illegal = (opcode in RESERVED_OPCODES
               or opcode >= 8 and (not flags["fin"] or header[1] & 0x7F > 125)
               or length >= 2**63)
    if illegal:
        assert got[:2] == ("raise", "ProtocolError") and got[4] == 1002
    else:
        assert got == ("return", norm(_expected_header(opcode, length, mask, len(header), **flags)))
    # Same answer on the header alone (offset 0); None on every truncated prefix when legal.
    assert outcome(backend.parse_header, header + tail) == got
    if not illegal:
        assert [backend.parse_header(header[:i]) for i in range(len(header))] == [None] * len(header)


def _expected_header(opcode, length, mask, size, *, fin, rsv1, rsv2, rsv3):
    from wscodec import FrameHeader

    return FrameHeader(fin, rsv1, rsv2, rsv3, Opcode(opcode), mask is not None, length, mask, size)


@given(data=st.binary(max_size=20), offset=st.integers(0, 22))
def test_parse_header_offset_is_a_slice(backend, data, offset):
    assert outcome(backend.parse_header, data, offset) == outcome(backend.parse_header, data[offset:])


# -- build_frame ----------------------------------------------------------------------------

build_args = st.fixed_dictionaries({
    "opcode": st.one_of(st.sampled_from(list(Opcode)), st.integers(-2, 17), st.sampled_from([2**40, -(2**40)])),
    "payload": st.one_of(sized_bytes(), sized_bytes(), st.text(max_size=70), st.sampled_from([None, 5, 1.5])),
    "kind": buffer_kinds,
    "fin": st.booleans(),
    "rsv1": st.booleans(),
    "mask": st.one_of(st.sampled_from([False, None, True]), mask_keys, st.binary(max_size=6),
                      st.text(min_size=4, max_size=4)),
})


def build(ns, args):
    payload = args["payload"]
    if isinstance(payload, bytes):
        payload = args["kind"](payload)
    frame = ns.build_frame(args["opcode"], payload, fin=args["fin"], rsv1=args["rsv1"], mask=args["mask"])
    if args["mask"] is True:  # a fresh random key: compare the frame with the key removed
        size = {126: 4, 127: 10}.get(frame[1] & 0x7F, 2)
        key = frame[size:size + 4]
        return frame[:size] + naive_mask(frame[size + 4:], key)
    return frame


@given(args=build_args)
def test_build_frame_backends_agree(backends, args):
    py, c = backends
    assert outcome(build, c, args) == outcome(build, py, args)


@given(args=build_args)
def test_build_frame_against_the_rfc_layout(backend, args):
    opcode, payload, mask, fin, rsv1 = args["opcode"], args["payload"], args["mask"], args["fin"], args["rsv1"]
    got = outcome(build, backend, args)
    faults = set()
    if not isinstance(payload, (bytes, str)):
        faults.add("TypeError")  # not bytes-like
    if isinstance(mask, str):
        faults.add("TypeError")  # a key must be bytes-like too
    if opcode not in (0, 1, 2, 8, 9, 10):
        faults.add("ValueError")
    if isinstance(mask, bytes) and len(mask) != 4:
        faults.add("ValueError")
    data = payload.encode() if isinstance(payload, str) else payload
    if opcode in (8, 9, 10) and (not fin or rsv1 or isinstance(data, bytes) and len(data) > 125):
        faults.add("ValueError")
    if faults:
        # One kind of fault names the exception; with several, either is a fair report.
        assert got[0] == "raise" and got[1] in faults, (got, faults)
        return
    if mask is True:  # build() stripped the random key: expect the layout without the key
        expected = encode_header(opcode, len(data), fin=fin, rsv1=rsv1) + data
        expected = expected[:1] + bytes([expected[1] | 0x80]) + expected[2:]
    else:
        key = mask if isinstance(mask, bytes) else None
        expected = encode_frame(opcode, data, mask=key, fin=fin, rsv1=rsv1)
    assert got == ("return", ("bytes", expected))
