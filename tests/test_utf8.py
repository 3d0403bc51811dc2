"""UTF-8 validation (RFC 3629): validate_utf8, utf8_error_offset, Utf8Validator.

The error offset is the index of the first byte that cannot start or continue a sequence; when the
input ends inside a sequence, it is the length of the input (see src/wscodec/_py/utf8.py).
"""
from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from . import oracles

VALID = [
    b"",
    b"Hello",
    b"\x00",  # U+0000
    b"\x7f",  # U+007F
    b"\xc2\x80",  # U+0080
    b"\xdf\xbf",  # U+07FF
    b"\xe0\xa0\x80",  # U+0800
    b"\xed\x9f\xbf",  # U+D7FF, last before the surrogates
    b"\xee\x80\x80",  # U+E000, first after them
    b"\xef\xbf\xbf",  # U+FFFF
    b"\xf0\x90\x80\x80",  # U+10000
    b"\xf4\x8f\xbf\xbf",  # U+10FFFF
    "κόσμε".encode(),
    "孩子,地球太危险了,快回火星去吧!".encode(),
    "\U0001F600 emoji \u20ac".encode(),
]

# (bytes, offset of the first byte that cannot start or continue a sequence / len if truncated)
INVALID = [
    (b"\xc0\x80", 0),  # overlong NUL
    (b"\xc1\xbf", 0),  # overlong U+007F
    (b"\xe0\x80\x80", 1),  # overlong 3-byte
    (b"\xe0\x9f\xbf", 1),
    (b"\xf0\x80\x80\x80", 1),  # overlong 4-byte
    (b"\xf0\x8f\xbf\xbf", 1),
    (b"\xed\xa0\x80", 1),  # U+D800
    (b"\xed\xaf\xbf", 1),
    (b"\xed\xb0\x80", 1),  # U+DC00
    (b"\xed\xbf\xbf", 1),  # U+DFFF
    (b"\xed\xa0\x80\xed\xb0\x80", 1),  # surrogate pair, CESU-8 style
    (b"\xf4\x90\x80\x80", 1),  # U+110000
    (b"\xf4\xbf\xbf\xbf", 1),
    (b"\xf5\x80\x80\x80", 0),
    (b"\xf7\xbf\xbf\xbf", 0),
    (b"\xf8\x88\x80\x80\x80", 0),
    (b"\xfc\x84\x80\x80\x80\x80", 0),
    (b"\xfe", 0),
    (b"\xff", 0),
    (b"\x80", 0),  # lone continuation
    (b"\xbf", 0),
    (b"a\x80b", 1),
    (b"\xc3\xa9\x80", 2),
    (b"\xc3", 1),  # truncated 2-byte
    (b"\xe2\x82", 2),  # truncated 3-byte
    (b"\xe0\xa0", 2),
    (b"\xf0\x9f\x98", 3),  # truncated 4-byte
    (b"ab\xe2", 3),
    (b"\xc3\x28", 1),  # lead without continuation
    (b"\xe2\x82\x41", 2),
    (b"\xf0\x90\x41\x80", 2),
    (b"\xe2\x28\xa1", 1),
    (b"hello\xffworld", 5),
    (b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80\x65\x64\x69\x74\x65\x64", 12),  # Autobahn 6.x
]


@pytest.mark.parametrize("data", VALID)
def test_valid(backend, data):
    assert backend.validate_utf8(data) is True
    assert backend.utf8_error_offset(data) is None


@pytest.mark.parametrize("data, offset", INVALID)
def test_invalid_with_offset(backend, data, offset):
    assert oracles.utf8_error_offset(data) == offset  # the table itself agrees with the RFC oracle
    assert backend.validate_utf8(data) is False
    assert backend.utf8_error_offset(data) == offset


@pytest.mark.parametrize("byte", [bytes([b]) for b in range(0xF5, 0x100)] + [bytes([b]) for b in range(0x80, 0xC2)])
def test_bytes_that_never_start_a_sequence(backend, byte):
    assert backend.validate_utf8(byte) is False
    assert backend.utf8_error_offset(b"abc" + byte) == 3
    validator = backend.Utf8Validator()
    assert validator.feed(b"abc" + byte) is False
    assert validator.error_offset == 3


def test_every_single_byte(backend):
    for b in range(256):
        assert backend.validate_utf8(bytes([b])) is (b < 0x80), hex(b)


def test_every_two_byte_sequence_against_the_rfc_table(backend):
    for lead in range(0xC0, 0x100):
        for second in range(256):
            data = bytes([lead, second])
            assert backend.utf8_error_offset(data) == oracles.utf8_error_offset(data), data


def test_long_ascii_with_late_error(backend):
    # Long enough for any vectorized path; the error sits at every position of the last block.
    for pos in range(960, 1030):
        data = bytearray(b"x" * 1030)
        data[pos] = 0xFF
        assert backend.utf8_error_offset(data) == pos
        assert backend.validate_utf8(data) is False


def test_long_multibyte_text(backend):
    text = ("aé€\U0001F600" * 500).encode()
    assert backend.validate_utf8(text) is True
    assert backend.utf8_error_offset(text[:-1]) == len(text) - 1  # cut inside the last emoji


@pytest.mark.parametrize("kind", [bytes, bytearray, memoryview])
def test_buffer_kinds(backend, kind):
    assert backend.validate_utf8(kind("é".encode())) is True
    assert backend.utf8_error_offset(kind(b"a\xff")) == 1
    validator = backend.Utf8Validator()
    assert validator.feed(kind(b"\xc3")) is True
    assert validator.feed(kind(b"\xa9")) is True
    assert validator.finish() is True


@pytest.mark.parametrize("bad", ["text", 1, None])
def test_non_buffers_rejected(backend, bad):
    with pytest.raises(TypeError):
        backend.validate_utf8(bad)
    with pytest.raises(TypeError):
        backend.utf8_error_offset(bad)
    with pytest.raises(TypeError):
        backend.Utf8Validator().feed(bad)


# -- incremental validator ------------------------------------------------------------------


def test_impossible_byte_fails_at_once_across_chunks(backend):
    validator = backend.Utf8Validator()
    assert validator.feed(b"\xed") is True  # could still be U+D000..U+D7FF
    assert validator.feed(b"\xa0") is False  # ED A0 can only be a surrogate
    assert validator.error_offset == 1


def test_impossible_prefix_at_chunk_end_fails_immediately(backend):
    validator = backend.Utf8Validator()
    assert validator.feed(b"a\xed\xa0") is False
    assert validator.error_offset == 2


@pytest.mark.parametrize(
    "chunks, offset",
    [
        ([b"\xe0", b"\x80"], 1),  # overlong
        ([b"\xf0", b"\x8f"], 1),
        ([b"\xf4", b"\x90"], 1),  # > U+10FFFF
        ([b"abc", b"\xf5"], 3),
        ([b"\xc3", b"\xa9\xc3", b"("], 3),
        ([b"", b"ab", b"", b"c\x80"], 3),
        ([b"\xf0\x9f", b"\x98", b"\x80\xff"], 4),
    ],
)
def test_failure_offset_across_chunks(backend, chunks, offset):
    validator = backend.Utf8Validator()
    results = [validator.feed(c) for c in chunks]
    assert results == [True] * (len(chunks) - 1) + [False]
    assert validator.error_offset == offset
    assert validator.finish() is False


def _split_everywhere(data):
    for i in range(len(data) + 1):
        yield [data[:i], data[i:]]
        for j in range(i, len(data) + 1):
            yield [data[:i], data[i:j], data[j:]]


@pytest.mark.parametrize("data", [v for v in VALID if v])
def test_valid_sequences_split_at_every_point(backend, data):
    validator = backend.Utf8Validator()
    for chunks in _split_everywhere(data):
        validator.reset()
        assert [validator.feed(c) for c in chunks] == [True] * len(chunks), chunks
        assert validator.finish() is True, chunks
        assert validator.error_offset is None
        assert validator.offset == len(data)


@pytest.mark.parametrize("data", [b"\xc3", b"\xe2\x82", b"\xf0\x9f\x98", b"ok\xf4\x8f"])
def test_finish_fails_on_truncated_tail(backend, data):
    validator = backend.Utf8Validator()
    assert validator.feed(data) is True
    assert validator.error_offset is None
    assert validator.finish() is False
    assert validator.error_offset == len(data)


def test_stays_failed_until_reset(backend):
    validator = backend.Utf8Validator()
    assert validator.feed(b"\xff") is False
    assert validator.feed(b"a") is False
    assert validator.feed(b"") is False
    assert validator.finish() is False
    assert validator.error_offset == 0
    assert validator.valid is False
    validator.reset()
    assert validator.valid is True
    assert validator.error_offset is None
    assert validator.offset == 0
    assert validator.feed(b"a") is True
    assert validator.finish() is True


def test_reset_drops_a_pending_tail(backend):
    validator = backend.Utf8Validator()
    assert validator.feed(b"\xe2\x82") is True
    validator.reset()
    assert validator.feed(b"a") is True  # "\xe2\x82a" would be invalid
    assert validator.finish() is True


def test_offset_counts_bytes_fed(backend):
    validator = backend.Utf8Validator()
    validator.feed(b"ab")
    validator.feed(b"\xe2\x82")
    assert validator.offset == 4
    validator.feed(b"\xac")
    assert validator.offset == 5
    assert validator.finish() is True


def test_empty_stream_is_valid(backend):
    validator = backend.Utf8Validator()
    assert validator.feed(b"") is True
    assert validator.finish() is True


@given(text=st.text(max_size=40), cuts=st.lists(st.integers(0, 200), max_size=6))
def test_valid_text_in_any_chunks(backend, text, cuts):
    data = text.encode("utf-8")
    validator = backend.Utf8Validator()
    chunks = oracles.split(data, cuts)
    assert all(validator.feed(c) for c in chunks)
    assert validator.finish() is True
    assert backend.validate_utf8(data) is True


@given(data=st.binary(max_size=40), cuts=st.lists(st.integers(0, 40), max_size=4))
def test_random_bytes_against_rfc_oracle(backend, data, cuts):
    chunks = oracles.split(data, cuts)
    results, finished, error = oracles.validator_trace(chunks)
    validator = backend.Utf8Validator()
    assert [validator.feed(c) for c in chunks] == results
    assert validator.finish() is finished
    assert validator.error_offset == error
    assert backend.utf8_error_offset(data) == oracles.utf8_error_offset(data)
    assert backend.validate_utf8(data) is (oracles.utf8_error_offset(data) is None)
