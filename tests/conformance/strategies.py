"""Hypothesis strategies shared by the conformance tests.

Large payloads are not drawn byte by byte (slow, and hypothesis caps example size): a length and a
seed are drawn and the bytes come from ``random.Random(seed)``, so examples still shrink well.
"""
from __future__ import annotations

import random
from typing import List, NamedTuple, Optional

from hypothesis import strategies as st

from ..oracles import encode_header, naive_mask

RESERVED_OPCODES = [3, 4, 5, 6, 7, 11, 12, 13, 14, 15]
DATA_OPCODES = [1, 2, 0]
CONTROL_OPCODES = [8, 9, 10]
# Lengths at the 7/16/64-bit encoding switches and at SIMD-width and word boundaries.
BOUNDARY_LENGTHS = [0, 1, 2, 3, 4, 5, 7, 8, 15, 16, 17, 31, 32, 33, 63, 64, 65, 124, 125, 126, 127, 128,
                    255, 256, 65535, 65536, 65537]
HUGE_LENGTHS = [65536, 1 << 20, (1 << 20) + 1, 1 << 32, 1 << 40, (1 << 63) - 1]
INTERESTING_BYTES = [0x00, 0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0, 0xC1, 0xC2, 0xDF, 0xE0, 0xED, 0xEF,
                     0xF0, 0xF4, 0xF5, 0xF8, 0xFE, 0xFF]


def seeded_bytes(n: int, seed: int) -> bytes:
    return random.Random(seed).getrandbits(8 * n).to_bytes(n, "little") if n else b""


lengths = st.one_of(st.sampled_from(BOUNDARY_LENGTHS), st.integers(0, 300))
seeds = st.integers(0, 2**32 - 1)
mask_keys = st.binary(min_size=4, max_size=4)
buffer_kinds = st.sampled_from([bytes, bytearray, memoryview])


@st.composite
def sized_bytes(draw, length_strategy=lengths) -> bytes:
    """Random bytes of a boundary-biased length; small ones fully drawn, big ones seeded."""
    n = draw(length_strategy)
    if n <= 64:
        return draw(st.binary(min_size=n, max_size=n))
    return seeded_bytes(n, draw(seeds))


def cut_points(draw, total: int, hints: List[int] = ()) -> List[int]:
    """Random positions to cut a stream at, some of them near ``hints`` (frame boundaries)."""
    cuts = draw(st.lists(st.integers(0, total), max_size=8))
    if hints:
        near = st.tuples(st.sampled_from(sorted(hints)), st.integers(-2, 14)).map(lambda t: t[0] + t[1])
        cuts += draw(st.lists(near, max_size=6))
    return cuts


# -- UTF-8 ----------------------------------------------------------------------------------


@st.composite
def corrupted_utf8(draw) -> bytes:
    """Valid UTF-8 (sometimes repeated to reach vector-kernel sizes) with random corruption."""
    text = draw(st.text(max_size=40))
    data = bytearray(text.encode("utf-8") * draw(st.sampled_from([1, 1, 1, 2, 7, 40])))
    byte = st.one_of(st.sampled_from(INTERESTING_BYTES), st.integers(0, 255))
    for _ in range(draw(st.integers(0, 3))):
        pos = draw(st.integers(0, len(data)))
        op = draw(st.sampled_from(["insert", "replace", "truncate"]))
        if op == "insert" or pos == len(data):
            data[pos:pos] = bytes([draw(byte)])
        elif op == "replace":
            data[pos] = draw(byte)
        else:
            del data[pos:]
    return bytes(data)


utf8_inputs = st.one_of(corrupted_utf8(), st.binary(max_size=64))


def utf8_cut_hints(data: bytes) -> List[int]:
    """Positions inside or next to multi-byte sequences, where chunk boundaries matter."""
    return [i for i, b in enumerate(data) if b >= 0x80][:64]


# -- frames ---------------------------------------------------------------------------------

FAULTS = [None] * 14 + ["opcode", "rsv", "mask", "control_fin", "control_len", "huge", "top_bit", "nonminimal"]


class FrameSpec(NamedTuple):
    opcode: int
    fin: bool
    rsv1: bool
    payload: bytes
    wire: bytes
    open_ended: bool  # the header announces more bytes than will ever come


@st.composite
def frame_specs(draw, require_mask: bool, faults: bool = True) -> FrameSpec:
    fault = draw(st.sampled_from(FAULTS)) if faults else None
    control = draw(st.integers(0, 3)) == 0
    if fault == "opcode":
        opcode = draw(st.sampled_from(RESERVED_OPCODES))
    else:
        opcode = draw(st.sampled_from(CONTROL_OPCODES if control else DATA_OPCODES))
    is_control = opcode >= 8
    fin = draw(st.booleans()) if not is_control or fault == "control_fin" else True
    rsv1 = draw(st.sampled_from([False, False, False, True]))  # rare: fails unless allow_rsv1
    rsv2, rsv3 = (draw(st.sampled_from([(True, False), (False, True), (True, True)])) if fault == "rsv"
                  else (False, False))
    masked = (not require_mask) if fault == "mask" else require_mask
    key = draw(mask_keys) if masked else None
    form = None
    if is_control and fault != "control_len":
        payload = draw(st.binary(max_size=125))
    elif fault == "control_len" and is_control:
        payload = seeded_bytes(draw(st.integers(126, 400)), draw(seeds))
    else:
        payload = draw(sized_bytes())
    if fault == "nonminimal":
        form = draw(st.sampled_from([16, 64])) if len(payload) < 65536 else 64
    if fault in ("huge", "top_bit"):
        length = draw(st.sampled_from(HUGE_LENGTHS)) if fault == "huge" else draw(
            st.sampled_from([1 << 63, (1 << 63) + 5, (1 << 64) - 1]))
        head = encode_header(opcode, length, fin=fin, rsv1=rsv1, rsv2=rsv2, rsv3=rsv3, mask=key, form=64)
        body = seeded_bytes(draw(st.integers(0, 40)), draw(seeds))
        return FrameSpec(opcode, fin, rsv1, b"", head + body, True)
    head = encode_header(opcode, len(payload), fin=fin, rsv1=rsv1, rsv2=rsv2, rsv3=rsv3, mask=key, form=form)
    body = naive_mask(payload, key) if key is not None else payload
    return FrameSpec(opcode, fin, rsv1, payload, head + body, False)


@st.composite
def frame_streams(draw, require_mask: bool, faults: bool = True, max_frames: int = 6) -> List[FrameSpec]:
    specs = []
    for _ in range(draw(st.integers(1, max_frames))):
        spec = draw(frame_specs(require_mask, faults))
        specs.append(spec)
        if spec.open_ended:
            break
    return specs


max_frame_sizes = st.one_of(st.none(), st.sampled_from([0, 1, 125, 126, 65535, 65536, 1 << 20]),
                            st.integers(0, 70000))


def limits_near(specs: List[FrameSpec]):
    """max_frame_size values at, just under and just over the lengths of the frames sent."""
    sizes = {len(s.payload) for s in specs if not s.open_ended}
    return st.sampled_from(sorted({max(0, n + d) for n in sizes for d in (-1, 0, 1)}))


# -- close ----------------------------------------------------------------------------------


@st.composite
def close_payloads(draw) -> bytes:
    code = draw(st.one_of(st.integers(0, 65535), st.sampled_from([1000, 1001, 1005, 1006, 1015, 3000, 4999, 5000])))
    reason = draw(st.one_of(
        st.text(max_size=70).map(lambda t: t.encode("utf-8")),
        corrupted_utf8(),
        st.binary(max_size=130),
        st.integers(118, 128).map(lambda n: b"r" * n),
    ))
    payload = code.to_bytes(2, "big") + reason
    return draw(st.sampled_from([payload, payload[:1], b""])) if draw(st.integers(0, 9)) == 0 else payload


close_codes_any = st.one_of(
    st.integers(-5, 70000),
    st.sampled_from([1000, 1004, 1005, 1006, 1015, 2999, 3000, 4999, 5000]),
    st.none(),
    st.booleans(),
    st.integers(min_value=2**31 - 1, max_value=2**70) | st.integers(min_value=-(2**70), max_value=-(2**31)),
    st.floats(allow_nan=False, max_value=1e5, min_value=-1e5),
    st.text(max_size=5),
)


@st.composite
def reasons_near_limit(draw) -> str:
    """A reason of 118..128 bytes of UTF-8 (the limit is 123), ASCII or with multi-byte chars."""
    size = draw(st.integers(118, 128))
    char = draw(st.sampled_from(["a", "é", "€", "😀"]))
    width = len(char.encode())
    wide = draw(st.integers(0, size // width))
    return "a" * (size - wide * width) + char * wide


close_reasons_any = st.one_of(
    st.text(max_size=40),
    reasons_near_limit(),
    st.text(st.characters(min_codepoint=0xD7F0, max_codepoint=0xE010), max_size=4),  # incl. surrogates
    st.binary(max_size=5),
    st.none(),
)

# -- handshake ------------------------------------------------------------------------------

B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


@st.composite
def handshake_keys(draw):
    import base64

    raw = base64.b64encode(draw(st.binary(min_size=14, max_size=18))).decode()
    mutated = list(raw)
    for _ in range(draw(st.integers(0, 2))):
        if not mutated:
            break
        pos = draw(st.integers(0, len(mutated) - 1))
        mutated[pos] = draw(st.sampled_from(list(B64) + ["=", "-", "_", " ", "\n", "\x00", "é", "\u0100"]))
    key = "".join(mutated)
    key = draw(st.one_of(st.just(key), st.text(alphabet=B64 + "=", min_size=20, max_size=26), st.text(max_size=26)))
    kind = draw(st.sampled_from(["str", "bytes", "bytearray"]))
    if kind == "str":
        return key
    data = key.encode("utf-8")
    return data if kind == "bytes" else bytearray(data)
