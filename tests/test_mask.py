"""XOR masking (RFC 6455 5.3): apply_mask, mask_inplace, Masker."""
from __future__ import annotations

import array

import pytest
from hypothesis import given
from hypothesis import strategies as st

from .oracles import naive_mask, split

KEY = b"\x37\xfa\x21\x3d"  # RFC 6455 5.7
# Sizes around the word, SIMD-register and strategy-switch boundaries of the kernels.
SIZES = [0, 1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 127, 128, 129, 255, 256, 1000,
         4095, 4096, 4097, 16383, 16384, 16385, 65536 + 3]


def pattern(n: int, seed: int = 0) -> bytes:
    return bytes((i * 131 + seed * 7 + (i >> 8)) & 0xFF for i in range(n))


def test_rfc_hello(backend):
    assert backend.apply_mask(b"Hello", KEY) == bytes.fromhex("7f9f4d5158")
    assert backend.apply_mask(bytes.fromhex("7f9f4d5158"), KEY) == b"Hello"


@pytest.mark.parametrize("n", SIZES)
def test_apply_mask_matches_naive(backend, n):
    data = pattern(n)
    key = b"\x01\x80\xfe\x5a"
    out = backend.apply_mask(data, key)
    assert type(out) is bytes
    assert out == naive_mask(data, key)
    assert backend.apply_mask(out, key) == data


@pytest.mark.parametrize("kind", [bytes, bytearray, memoryview])
def test_apply_mask_accepts_buffers(backend, kind):
    data = pattern(100)
    assert backend.apply_mask(kind(data), kind(KEY)) == naive_mask(data, KEY)


def test_apply_mask_does_not_modify_input(backend):
    data = bytearray(pattern(64))
    backend.apply_mask(data, KEY)
    assert data == pattern(64)


def test_multibyte_format_buffers_are_raw_bytes(backend):
    words = array.array("H", [0x0102, 0xFFFF, 0x1234, 0x00AB, 7])
    raw = words.tobytes()
    assert backend.apply_mask(words, KEY) == naive_mask(raw, KEY)
    backend.mask_inplace(words, KEY)
    assert words.tobytes() == naive_mask(raw, KEY)


def test_unaligned_views(backend):
    base = pattern(300)
    for start in range(8):
        view = memoryview(base)[start:start + 200]
        assert backend.apply_mask(view, KEY) == naive_mask(base[start:start + 200], KEY)
        buf = bytearray(base)
        backend.mask_inplace(memoryview(buf)[start:start + 200], KEY, start & 3)
        expected = base[:start] + naive_mask(base[start:start + 200], KEY, start & 3) + base[start + 200:]
        assert bytes(buf) == expected


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("phase", [0, 1, 2, 3])
def test_mask_inplace_bytearray_every_phase(backend, n, phase):
    data = pattern(n, phase)
    buf = bytearray(data)
    assert backend.mask_inplace(buf, KEY, phase) == (phase + n) % 4
    assert bytes(buf) == naive_mask(data, KEY, phase)


@pytest.mark.parametrize("phase", [0, 1, 2, 3])
def test_mask_inplace_memoryview_every_phase(backend, phase):
    data = pattern(70, phase)
    buf = bytearray(data)
    assert backend.mask_inplace(memoryview(buf), KEY, phase) == (phase + 70) % 4
    assert bytes(buf) == naive_mask(data, KEY, phase)


def test_mask_inplace_default_phase_is_zero(backend):
    buf = bytearray(b"Hello")
    assert backend.mask_inplace(buf, KEY) == 1
    assert bytes(buf) == bytes.fromhex("7f9f4d5158")


def test_mask_inplace_pieces_equal_one_shot(backend):
    data = pattern(1031)
    buf = bytearray(data)
    phase = 0
    pos = 0
    for size in (0, 1, 2, 5, 3, 64, 17, 200, 739):
        phase = backend.mask_inplace(memoryview(buf)[pos:pos + size], KEY, phase)
        pos += size
    assert pos == len(data)
    assert phase == len(data) % 4
    assert bytes(buf) == naive_mask(data, KEY)


@given(data=st.binary(max_size=600), key=st.binary(min_size=4, max_size=4),
       phase=st.integers(0, 3), cuts=st.lists(st.integers(0, 600), max_size=8))
def test_masker_across_chunks_equals_one_shot(backend, data, key, phase, cuts):
    masker = backend.Masker(key, phase)
    out = b"".join(masker.apply(chunk) for chunk in split(data, cuts))
    assert out == naive_mask(data, key, phase)
    assert masker.phase == (phase + len(data)) % 4


def test_masker_default_phase_and_properties(backend):
    masker = backend.Masker(KEY)
    assert masker.phase == 0
    assert bytes(masker.mask) == KEY
    assert masker.apply(b"Hel") == bytes.fromhex("7f9f4d")
    assert masker.phase == 3
    assert masker.apply(b"lo") == bytes.fromhex("5158")
    assert masker.phase == 1


def test_masker_apply_inplace_and_reset(backend):
    masker = backend.Masker(KEY)
    first = bytearray(b"Hel")
    second = bytearray(b"lo")
    masker.apply_inplace(first)
    masker.apply_inplace(second)
    assert bytes(first + second) == bytes.fromhex("7f9f4d5158")
    masker.reset()
    assert masker.phase == 0
    assert masker.apply(b"Hello") == bytes.fromhex("7f9f4d5158")
    masker.reset(2)
    assert masker.apply(b"\x00") == KEY[2:3]


@pytest.mark.parametrize("data", ["text", 12, None, [1, 2]])
def test_apply_mask_rejects_non_buffers(backend, data):
    with pytest.raises(TypeError):
        backend.apply_mask(data, KEY)


def test_str_mask_is_a_type_error(backend):
    with pytest.raises(TypeError):
        backend.apply_mask(b"data", "abcd")
    with pytest.raises(TypeError):
        backend.mask_inplace(bytearray(b"data"), "abcd")
    with pytest.raises(TypeError):
        backend.Masker("abcd")


@pytest.mark.parametrize("buf", [b"read-only", memoryview(b"read-only"), "text"])
def test_mask_inplace_rejects_read_only(backend, buf):
    with pytest.raises(TypeError):
        backend.mask_inplace(buf, KEY)


def test_masker_apply_inplace_rejects_read_only(backend):
    with pytest.raises(TypeError):
        backend.Masker(KEY).apply_inplace(b"read-only")


@pytest.mark.parametrize("key", [b"", b"\x01", b"\x01\x02\x03", b"\x01\x02\x03\x04\x05", b"\x00" * 8])
def test_bad_mask_length(backend, key):
    with pytest.raises(ValueError):
        backend.apply_mask(b"data", key)
    with pytest.raises(ValueError):
        backend.mask_inplace(bytearray(b"data"), key)
    with pytest.raises(ValueError):
        backend.Masker(key)


@pytest.mark.parametrize("phase", [-1, 4, 5, 255, -(2**31)])
def test_bad_phase(backend, phase):
    buf = bytearray(b"data")
    with pytest.raises(ValueError):
        backend.mask_inplace(buf, KEY, phase)
    assert buf == b"data"
    with pytest.raises(ValueError):
        backend.Masker(KEY, phase)
    masker = backend.Masker(KEY)
    with pytest.raises(ValueError):
        masker.reset(phase)


def test_non_contiguous_buffer(backend):
    strided = memoryview(bytearray(pattern(16)))[::2]
    with pytest.raises(BufferError):
        backend.apply_mask(strided, KEY)
    with pytest.raises(BufferError):
        backend.mask_inplace(strided, KEY)


@pytest.mark.parametrize("phase", [0.0, 1.0, 1.5, "1", None])
def test_phase_must_be_an_integer(backend, phase):
    # Rejected up front (the reference once accepted 0.0 <= phase <= 3.0 and failed later).
    with pytest.raises(TypeError):
        backend.mask_inplace(bytearray(b"data"), KEY, phase)
    with pytest.raises(TypeError):
        backend.Masker(KEY, phase)
    with pytest.raises(TypeError):
        backend.Masker(KEY).reset(phase)
