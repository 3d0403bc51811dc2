"""Frame headers, frame building and the batch decoder (RFC 6455 section 5)."""
from __future__ import annotations

import pytest

from wscodec import Frame, FrameHeader, Opcode
from wscodec.errors import PayloadTooBig, ProtocolError

from .oracles import encode_frame, encode_header, naive_mask

KEY = bytes.fromhex("37fa213d")

# RFC 6455 section 5.7
UNMASKED_HELLO = bytes.fromhex("810548656c6c6f")
MASKED_HELLO = bytes.fromhex("818537fa213d7f9f4d5158")
FRAGMENT_HEL = bytes.fromhex("010348656c")
FRAGMENT_LO = bytes.fromhex("80026c6f")
UNMASKED_PING = bytes.fromhex("890548656c6c6f")
MASKED_PONG = bytes.fromhex("8a8537fa213d7f9f4d5158")
BINARY_256_HEADER = bytes.fromhex("827e0100")
BINARY_64K_HEADER = bytes.fromhex("827f0000000000010000")

RESERVED_OPCODES = [3, 4, 5, 6, 7, 11, 12, 13, 14, 15]


def payload(n: int) -> bytes:
    return bytes((i * 7 + 3) & 0xFF for i in range(n))


def frames_of(result):
    return [(f.opcode, f.fin, f.rsv1, bytes(f.payload)) for f in result]


# -- parse_header ---------------------------------------------------------------------------

HEADER_VECTORS = [
    # (bytes, fin, opcode, masked, length, mask, header_size)
    (UNMASKED_HELLO, True, Opcode.TEXT, False, 5, None, 2),
    (MASKED_HELLO, True, Opcode.TEXT, True, 5, KEY, 6),
    (FRAGMENT_HEL, False, Opcode.TEXT, False, 3, None, 2),
    (FRAGMENT_LO, True, Opcode.CONTINUATION, False, 2, None, 2),
    (UNMASKED_PING, True, Opcode.PING, False, 5, None, 2),
    (MASKED_PONG, True, Opcode.PONG, True, 5, KEY, 6),
    (BINARY_256_HEADER, True, Opcode.BINARY, False, 256, None, 4),
    (BINARY_64K_HEADER, True, Opcode.BINARY, False, 65536, None, 10),
    (bytes.fromhex("8200"), True, Opcode.BINARY, False, 0, None, 2),
    (bytes.fromhex("827d"), True, Opcode.BINARY, False, 125, None, 2),
    (bytes.fromhex("827e007e"), True, Opcode.BINARY, False, 126, None, 4),
    (bytes.fromhex("827effff"), True, Opcode.BINARY, False, 65535, None, 4),
    (bytes.fromhex("827f0000000000010000"), True, Opcode.BINARY, False, 65536, None, 10),
    (bytes.fromhex("827f7fffffffffffffff"), True, Opcode.BINARY, False, 2**63 - 1, None, 10),
    (bytes.fromhex("82ff0000000100000005") + KEY, True, Opcode.BINARY, True, 2**32 + 5, KEY, 14),
    (bytes.fromhex("82fe0100") + KEY, True, Opcode.BINARY, True, 256, KEY, 8),
    (bytes.fromhex("887d"), True, Opcode.CLOSE, False, 125, None, 2),
    (bytes.fromhex("0280") + bytes(4), False, Opcode.BINARY, True, 0, bytes(4), 6),
]


@pytest.mark.parametrize("vector", HEADER_VECTORS, ids=lambda v: v[0][:4].hex())
def test_parse_header_vectors(backend, vector):
    data, fin, opcode, masked, length, mask, size = vector
    header = backend.parse_header(data)
    assert isinstance(header, FrameHeader)
    assert header == FrameHeader(fin, False, False, False, opcode, masked, length, mask, size)
    assert type(header.opcode) is Opcode
    # Every truncated prefix of the header asks for more bytes.
    for cut in range(size):
        assert backend.parse_header(data[:cut]) is None, cut
    # The payload does not have to be there.
    assert backend.parse_header(data[:size]) == header


def test_parse_header_reports_rsv_bits(backend):
    for bits, names in [(0x40, (True, False, False)), (0x20, (False, True, False)), (0x10, (False, False, True)),
                        (0x70, (True, True, True))]:
        header = backend.parse_header(bytes([0x80 | bits | 0x2, 0x00]))
        assert (header.rsv1, header.rsv2, header.rsv3) == names


def test_parse_header_at_offset(backend):
    data = b"garbage" + MASKED_HELLO
    header = backend.parse_header(data, 7)
    assert header == backend.parse_header(MASKED_HELLO)
    assert header.mask == KEY
    assert backend.parse_header(data, len(data)) is None
    assert backend.parse_header(data, len(data) + 5) is None
    assert backend.parse_header(memoryview(data), 7) == header
    assert backend.parse_header(bytearray(data), offset=7) == header


def test_parse_header_negative_offset(backend):
    with pytest.raises(ValueError):
        backend.parse_header(UNMASKED_HELLO, -1)


@pytest.mark.parametrize("opcode", RESERVED_OPCODES)
def test_reserved_opcodes(backend, opcode):
    for b0 in (0x80 | opcode, opcode):
        with pytest.raises(ProtocolError) as info:
            backend.parse_header(bytes([b0, 0x00]))
        assert info.value.close_code == 1002
        assert type(info.value) is ProtocolError


@pytest.mark.parametrize("opcode", [8, 9, 10])
def test_fragmented_control_frame(backend, opcode):
    with pytest.raises(ProtocolError) as info:
        backend.parse_header(bytes([opcode, 0x00]))
    assert info.value.close_code == 1002


@pytest.mark.parametrize("opcode", [8, 9, 10])
@pytest.mark.parametrize("second", [0x7E, 0x7F, 0xFE, 0xFF])
def test_control_frame_over_125(backend, opcode, second):
    # Provable from the first two bytes: the extended length does not have to be there.
    with pytest.raises(ProtocolError) as info:
        backend.parse_header(bytes([0x80 | opcode, second]))
    assert info.value.close_code == 1002
    with pytest.raises(ProtocolError):
        backend.parse_header(bytes([0x80 | opcode, 0x7E, 0x00, 0x7E]) + payload(126))


@pytest.mark.parametrize("length", [2**63, 2**63 + 1, 2**64 - 1])
def test_64bit_length_with_top_bit(backend, length):
    with pytest.raises(ProtocolError) as info:
        backend.parse_header(b"\x82\x7f" + length.to_bytes(8, "big"))
    assert info.value.close_code == 1002


def test_non_minimal_length_encodings_parse(backend):
    # RFC 6455 says "minimal number of bytes"; wscodec reads the value as sent (like most peers).
    assert backend.parse_header(encode_header(2, 5, form=16)).length == 5
    assert backend.parse_header(encode_header(2, 5, form=64)).length == 5


# -- build_frame ----------------------------------------------------------------------------


def test_build_rfc_vectors(backend):
    assert backend.build_frame(Opcode.TEXT, b"Hello") == UNMASKED_HELLO
    assert backend.build_frame(Opcode.TEXT, "Hello") == UNMASKED_HELLO
    assert backend.build_frame(Opcode.TEXT, b"Hello", mask=KEY) == MASKED_HELLO
    assert backend.build_frame(Opcode.TEXT, b"Hel", fin=False) == FRAGMENT_HEL
    assert backend.build_frame(Opcode.CONTINUATION, b"lo") == FRAGMENT_LO
    assert backend.build_frame(Opcode.PING, b"Hello") == UNMASKED_PING
    assert backend.build_frame(Opcode.PONG, b"Hello", mask=KEY) == MASKED_PONG
    assert backend.build_frame(Opcode.BINARY, payload(256)) == BINARY_256_HEADER + payload(256)
    assert backend.build_frame(Opcode.BINARY, payload(65536)) == BINARY_64K_HEADER + payload(65536)


@pytest.mark.parametrize("length, header", [
    (0, "8200"), (125, "827d"), (126, "827e007e"), (65535, "827effff"), (65536, "827f0000000000010000"),
    (65537, "827f0000000000010001"),
])
def test_build_length_encodings(backend, length, header):
    data = payload(length)
    assert backend.build_frame(2, data) == bytes.fromhex(header) + data
    masked = backend.build_frame(2, data, mask=KEY)
    head = bytes.fromhex(header)
    assert masked == bytes([head[0], head[1] | 0x80]) + head[2:] + KEY + naive_mask(data, KEY)


def test_build_flags(backend):
    frame = backend.build_frame(Opcode.BINARY, b"x", fin=False, rsv1=True)
    assert frame == bytes([0x42, 0x01]) + b"x"
    assert backend.build_frame(Opcode.TEXT, "é") == b"\x81\x02\xc3\xa9"


@pytest.mark.parametrize("kind", [bytes, bytearray, memoryview])
def test_build_accepts_buffers(backend, kind):
    assert backend.build_frame(1, kind(b"Hello"), mask=kind(KEY)) == MASKED_HELLO


@pytest.mark.parametrize("kind", [bytes, bytearray, memoryview])
def test_build_masks_buffers_of_every_length(backend, kind):
    # Every length across the vector widths, from each buffer kind: the tail must be masked too.
    for n in range(0, 200):
        data = payload(n)
        frame = backend.build_frame(Opcode.BINARY, kind(data), mask=KEY)
        header = backend.parse_header(frame)
        assert frame[header.header_size:] == naive_mask(data, KEY)


@pytest.mark.parametrize("no_mask", [False, None])
def test_build_unmasked(backend, no_mask):
    assert backend.build_frame(1, b"Hello", mask=no_mask) == UNMASKED_HELLO


def test_build_random_mask(backend):
    frames = [backend.build_frame(Opcode.BINARY, b"payload", mask=True) for _ in range(8)]
    keys = set()
    for frame in frames:
        header = backend.parse_header(frame)
        assert header.masked and header.header_size == 6
        keys.add(header.mask)
        assert naive_mask(frame[6:], header.mask) == b"payload"
    assert len(keys) > 1  # 8 keys from a CSPRNG: all equal with probability 2**-224


@pytest.mark.parametrize("opcode", RESERVED_OPCODES + [-1, 16, 255])
def test_build_invalid_opcode(backend, opcode):
    with pytest.raises(ValueError):
        backend.build_frame(opcode, b"")


@pytest.mark.parametrize("opcode", [8, 9, 10])
def test_build_control_frame_rules(backend, opcode):
    assert len(backend.build_frame(opcode, payload(125))) == 127
    with pytest.raises(ValueError):
        backend.build_frame(opcode, payload(126))
    with pytest.raises(ValueError):
        backend.build_frame(opcode, b"", fin=False)
    with pytest.raises(ValueError):
        backend.build_frame(opcode, b"", rsv1=True)


@pytest.mark.parametrize("key", [b"", b"abc", b"abcde"])
def test_build_bad_mask_length(backend, key):
    with pytest.raises(ValueError):
        backend.build_frame(2, b"x", mask=key)


def test_build_bad_payload_type(backend):
    with pytest.raises(TypeError):
        backend.build_frame(2, 12345)


# -- FrameDecoder ---------------------------------------------------------------------------


def test_decode_rfc_vectors(backend):
    client = backend.FrameDecoder(require_mask=False)
    stream = UNMASKED_HELLO + FRAGMENT_HEL + FRAGMENT_LO + UNMASKED_PING + BINARY_256_HEADER + payload(256)
    assert frames_of(client.feed(stream)) == [
        (Opcode.TEXT, True, False, b"Hello"),
        (Opcode.TEXT, False, False, b"Hel"),
        (Opcode.CONTINUATION, True, False, b"lo"),
        (Opcode.PING, True, False, b"Hello"),
        (Opcode.BINARY, True, False, payload(256)),
    ]
    server = backend.FrameDecoder(require_mask=True)
    result = server.feed(MASKED_HELLO + MASKED_PONG)
    assert frames_of(result) == [(Opcode.TEXT, True, False, b"Hello"), (Opcode.PONG, True, False, b"Hello")]
    assert all(isinstance(f, Frame) and type(f.opcode) is Opcode for f in result)


def test_decode_64k_frame(backend):
    decoder = backend.FrameDecoder(require_mask=False)
    data = payload(65536)
    assert decoder.feed(BINARY_64K_HEADER) == []
    assert decoder.feed(data[:1000]) == []
    assert frames_of(decoder.feed(data[1000:])) == [(Opcode.BINARY, True, False, data)]
    assert decoder.buffered == 0


@pytest.mark.parametrize("length", [0, 1, 125, 126, 127, 65535, 65536, 70000])
@pytest.mark.parametrize("masked", [False, True])
def test_decode_every_length_encoding_byte_by_byte_header(backend, length, masked):
    data = payload(length)
    frame = encode_frame(2, data, mask=KEY if masked else None)
    decoder = backend.FrameDecoder(require_mask=masked, max_frame_size=None)
    header_size = len(frame) - length
    for i in range(header_size - 1):  # the header one byte at a time: nothing yet
        assert decoder.feed(frame[i:i + 1]) == []
    assert decoder.buffered == header_size - 1
    assert frames_of(decoder.feed(frame[header_size - 1:])) == [(Opcode.BINARY, True, False, data)]
    assert decoder.buffered == 0


def test_decode_byte_by_byte(backend):
    stream = MASKED_HELLO + encode_frame(2, payload(300), mask=KEY) + encode_frame(9, b"", mask=KEY)
    decoder = backend.FrameDecoder(require_mask=True)
    got = []
    for i in range(len(stream)):
        got += decoder.feed(stream[i:i + 1])
    assert frames_of(got) == [(1, True, False, b"Hello"), (2, True, False, payload(300)), (9, True, False, b"")]


@pytest.mark.parametrize("kind", [bytes, bytearray, memoryview])
def test_decode_buffer_kinds(backend, kind):
    decoder = backend.FrameDecoder(require_mask=True)
    assert frames_of(decoder.feed(kind(MASKED_HELLO))) == [(1, True, False, b"Hello")]


def test_decode_does_not_keep_a_reference_to_the_input(backend):
    decoder = backend.FrameDecoder(require_mask=False)
    buf = bytearray(UNMASKED_HELLO + UNMASKED_HELLO[:4])
    first = decoder.feed(buf)
    buf[:] = b"\xff" * len(buf)  # the caller reuses its buffer
    assert frames_of(first) == [(1, True, False, b"Hello")]
    assert frames_of(decoder.feed(UNMASKED_HELLO[4:])) == [(1, True, False, b"Hello")]


def test_decoder_constructor(backend):
    with pytest.raises(TypeError):
        backend.FrameDecoder()  # require_mask has no default: the caller must pick a side
    with pytest.raises(TypeError):
        backend.FrameDecoder(True)  # keyword-only
    with pytest.raises(ValueError):
        backend.FrameDecoder(require_mask=False, max_frame_size=-1)
    decoder = backend.FrameDecoder(require_mask=True)
    assert decoder.require_mask is True
    assert decoder.max_frame_size == 1 << 20
    assert decoder.allow_rsv1 is False


def _expect_error(decoder, data, cls=ProtocolError, code=1002):
    with pytest.raises(cls) as info:
        decoder.feed(data)
    assert type(info.value) is cls
    assert info.value.close_code == code
    return info.value


@pytest.mark.parametrize("allow_rsv1", [False, True])
@pytest.mark.parametrize("bits", [0x20, 0x10, 0x30, 0x60, 0x50, 0x70])
def test_rsv2_rsv3_always_fail(backend, allow_rsv1, bits):
    decoder = backend.FrameDecoder(require_mask=False, allow_rsv1=allow_rsv1)
    _expect_error(decoder, bytes([0x82 | bits, 0x01, 0x00]))


def test_rsv1_needs_allow_rsv1(backend):
    frame = bytes([0xC1, 0x01]) + b"x"
    _expect_error(backend.FrameDecoder(require_mask=False), frame)
    allowed = backend.FrameDecoder(require_mask=False, allow_rsv1=True)
    assert frames_of(allowed.feed(frame)) == [(Opcode.TEXT, True, True, b"x")]


def test_server_rejects_unmasked_frames(backend):
    err = _expect_error(backend.FrameDecoder(require_mask=True), UNMASKED_HELLO)
    assert err.frames == []


def test_client_rejects_masked_frames(backend):
    _expect_error(backend.FrameDecoder(require_mask=False), MASKED_HELLO)


@pytest.mark.parametrize("opcode", RESERVED_OPCODES)
def test_decoder_reserved_opcode(backend, opcode):
    _expect_error(backend.FrameDecoder(require_mask=False), bytes([0x80 | opcode, 0x00]))


def test_decoder_control_frame_errors(backend):
    _expect_error(backend.FrameDecoder(require_mask=False), bytes([0x09, 0x00]))
    _expect_error(backend.FrameDecoder(require_mask=False), bytes([0x89, 0x7E, 0x00, 0x7E]))
    _expect_error(backend.FrameDecoder(require_mask=False), b"\x82\x7f" + (2**63).to_bytes(8, "big"))


@pytest.mark.parametrize("masked", [False, True])
@pytest.mark.parametrize("length", [2**20 + 1, 2**32, 2**40, 2**63 - 1])
def test_payload_too_big_from_the_header_alone(backend, masked, length):
    decoder = backend.FrameDecoder(require_mask=masked, max_frame_size=2**20)
    header = encode_header(2, length, mask=KEY if masked else None)
    err = _expect_error(decoder, header, PayloadTooBig, 1009)
    assert isinstance(err, ProtocolError)


def test_max_frame_size_boundary(backend):
    decoder = backend.FrameDecoder(require_mask=False, max_frame_size=126)
    assert frames_of(decoder.feed(encode_frame(2, payload(126)))) == [(2, True, False, payload(126))]
    _expect_error(decoder, encode_header(2, 127), PayloadTooBig, 1009)


def test_max_frame_size_zero_and_none(backend):
    zero = backend.FrameDecoder(require_mask=False, max_frame_size=0)
    assert frames_of(zero.feed(b"\x89\x00")) == [(9, True, False, b"")]
    _expect_error(zero, b"\x81\x01", PayloadTooBig, 1009)
    unlimited = backend.FrameDecoder(require_mask=False, max_frame_size=None)
    assert unlimited.feed(encode_header(2, 2**40)) == []
    assert unlimited.buffered == 10


def test_error_carries_frames_decoded_in_the_same_feed(backend):
    decoder = backend.FrameDecoder(require_mask=True)
    assert decoder.feed(MASKED_HELLO) != []  # an earlier feed: not part of the error
    stream = MASKED_HELLO + encode_frame(2, payload(200), mask=KEY) + MASKED_PONG[:3]
    assert len(decoder.feed(stream)) == 2
    err = _expect_error(decoder, MASKED_PONG[3:] + encode_frame(9, b"hi", mask=KEY) + UNMASKED_HELLO)
    assert frames_of(err.frames) == [(Opcode.PONG, True, False, b"Hello"), (Opcode.PING, True, False, b"hi")]


@pytest.mark.parametrize("bad, cls, code", [
    (UNMASKED_HELLO, ProtocolError, 1002),
    (bytes([0x83, 0x00]), ProtocolError, 1002),
    (encode_header(2, 2**30, mask=KEY), PayloadTooBig, 1009),
])
def test_decoder_stays_failed(backend, bad, cls, code):
    decoder = backend.FrameDecoder(require_mask=True)
    _expect_error(decoder, MASKED_HELLO + bad, cls, code)
    for later in (MASKED_HELLO, b"", MASKED_HELLO[:1]):
        _expect_error(decoder, later, cls, code)


def test_integer_arguments_reject_floats(backend):
    with pytest.raises(TypeError):
        backend.parse_header(UNMASKED_HELLO, 0.0)
    with pytest.raises(TypeError):
        backend.build_frame(1.0, b"")
    with pytest.raises(TypeError):
        backend.FrameDecoder(require_mask=False, max_frame_size=10.0)
    with pytest.raises(TypeError):
        backend.FrameDecoder(require_mask=False, max_frame_size="10")


def test_decoder_settings_apply_from_the_next_header(backend):
    decoder = backend.FrameDecoder(require_mask=True, max_frame_size=3)
    assert decoder.feed(MASKED_HELLO[:2]) == []  # header incomplete: nothing judged yet
    decoder.max_frame_size = 5
    assert frames_of(decoder.feed(MASKED_HELLO[2:])) == [(Opcode.TEXT, True, False, b"Hello")]
    decoder.require_mask = False
    assert frames_of(decoder.feed(UNMASKED_HELLO)) == [(Opcode.TEXT, True, False, b"Hello")]
    decoder.allow_rsv1 = True
    assert frames_of(decoder.feed(b"\xc1\x01x")) == [(Opcode.TEXT, True, True, b"x")]
    decoder.max_frame_size = None
    assert decoder.max_frame_size is None
    assert decoder.feed(encode_header(2, 2**40)) == []
    with pytest.raises(ValueError):
        decoder.max_frame_size = -1
    with pytest.raises(TypeError):
        decoder.max_frame_size = 1.5
