"""The compiled backend's shortcuts in frame decoding and building, against the Python backend.

* Long frames that arrive in pieces are unmasked straight into their payload object (no
  intermediate buffer): every chunking, the ``buffered`` count after each feed and settings changed
  mid-frame must look exactly as with the Python backend's buffer.
* Frames are built as Frame tuples without going through ``Frame.__new__``.
* Client masks come from a buffer of os.urandom bytes: fresh after fork, and os.urandom itself is
  called per frame when it has been replaced (tests patch it), as the Python backend does.
"""
from __future__ import annotations

import os
import random
import sys
from typing import Any, List

import pytest

from wscodec._types import Frame, Opcode

from .conftest import load_backend
from .forking import in_child, needs_fork

KiB = 1024


@pytest.fixture(scope="module")
def py() -> Any:
    return load_backend("python")


@pytest.fixture(scope="module")
def c() -> Any:
    return load_backend("c")


def stream_of(py: Any, sizes: List[int], masked: bool, seed: int) -> bytes:
    rng = random.Random(seed)
    return b"".join(py.build_frame(2, rng.randbytes(n), mask=rng.randbytes(4) if masked else False) for n in sizes)


def trace(ns: Any, stream: bytes, cuts: List[int], masked: bool, **settings: Any) -> list:
    dec = ns.FrameDecoder(require_mask=masked, max_frame_size=None)
    out, pos = [], 0
    for cut in cuts + [len(stream)]:
        chunk, pos = stream[pos:cut], max(pos, cut)
        out.append((dec.feed(memoryview(chunk)), dec.buffered))
    return out


@pytest.mark.parametrize("masked", [True, False])
@pytest.mark.parametrize("chunk", [1000, 4096, 65536, 100003])
def test_long_frames_in_chunks(py, c, masked, chunk):
    sizes = [64 * KiB - 1, 64 * KiB, 3, 64 * KiB + 1, 200 * KiB, 0, (1 << 20) + 3, 10]
    stream = stream_of(py, sizes, masked, chunk)
    cuts = list(range(chunk, len(stream), chunk))
    got = trace(c, stream, cuts, masked)
    assert got == trace(py, stream, cuts, masked)
    assert [len(f.payload) for frames, _ in got for f in frames] == sizes


def test_random_cuts(py, c):
    rng = random.Random(5)
    stream = stream_of(py, [70000, 5, 131072, 65536, 300000], True, 1)
    for _ in range(20):
        cuts = sorted(rng.randrange(len(stream)) for _ in range(rng.randrange(1, 12)))
        assert trace(c, stream, cuts, True) == trace(py, stream, cuts, True)


def test_settings_change_mid_frame(py, c):
    """A limit lowered while a long frame is half received fails on the next feed, like Python."""
    stream = stream_of(py, [100 * KiB], True, 2)

    def run(ns: Any) -> list:
        dec = ns.FrameDecoder(require_mask=True, max_frame_size=None)
        seen = [dec.feed(stream[:50000]), dec.buffered]
        dec.max_frame_size = 1000
        try:
            dec.feed(stream[50000:60000])
        except Exception as exc:  # the same type, reason and close code in both backends
            seen.append((type(exc), exc.reason, exc.close_code, exc.frames))
        return seen

    assert run(c) == run(py)


def test_huge_announced_length(py, c):
    """No memory is taken up front for an absurd length: the frame is buffered as it arrives."""
    header = bytes([0x82, 0x7F]) + (1 << 40).to_bytes(8, "big")
    for ns in (c, py):
        dec = ns.FrameDecoder(require_mask=False, max_frame_size=None)
        assert dec.feed(header + b"x" * 100) == []
        assert dec.buffered == 110


def test_beyond_up_front_limit(py, c):
    """A 20 MiB frame: buffered until a quarter of it is in, then unmasked straight through."""
    stream = stream_of(py, [20 << 20], True, 3)
    cuts = list(range(1 << 20, len(stream), 1 << 20))
    assert trace(c, stream, cuts, True) == trace(py, stream, cuts, True)


def test_frames_are_frame_tuples(py, c):
    stream = stream_of(py, [0, 1, 125, 126, 70000], True, 4) + py.build_frame(9, b"ping", mask=b"abcd")
    frames = c.FrameDecoder(require_mask=True).feed(stream)
    assert frames == py.FrameDecoder(require_mask=True).feed(stream)
    for f in frames:
        assert type(f) is Frame and isinstance(f.opcode, Opcode) and f.fin is True and f.rsv1 is False
        assert type(f.payload) is bytes and f == Frame(*f) and f._asdict()["payload"] == f.payload


def test_patched_urandom_is_called_per_frame(py, c, monkeypatch):
    masks = iter([b"\x01\x02\x03\x04", b"\x05\x06\x07\x08"] * 2)
    monkeypatch.setattr(os, "urandom", lambda n: next(masks))
    got = [ns.build_frame(1, b"hello", mask=True) for ns in (c, c, py, py)]
    assert got[0] == got[2] and got[1] == got[3] and got[0][2:6] == b"\x01\x02\x03\x04"


def masks_of(c: Any, n: int) -> List[bytes]:
    return [c.build_frame(2, b"", mask=True)[2:6] for _ in range(n)]


def test_pool_masks_vary_and_refill(c):
    masks = masks_of(c, 3000)  # more than one pool (1024 masks) of os.urandom bytes
    assert len(set(masks)) > 2990


@needs_fork
def test_child_after_fork_draws_fresh_masks(c):
    masks_of(c, 3)  # the pool is filled now
    child = in_child(lambda: b"".join(masks_of(c, 16)), 64)
    parent = b"".join(masks_of(c, 16))
    assert len(child) == 64 and child != parent, "the child reused the parent's mask pool"


def test_build_frame_argument_handling(py, c):
    """The fast paths for int/Opcode/bytes keep the reference's checks and error order."""
    from .oracles import outcome

    cases = [(1, b"x"), (Opcode.TEXT, "h\u00e9"), (True, b""), (3, b""), (1.0, b""), ("1", b""), (8, b"x" * 126),
             (9, bytearray(b"p")), (2, memoryview(b"abc")), (2, 5), (1 << 70, b"")]
    for opcode, payload in cases:
        for kw in ({}, {"fin": False}, {"rsv1": True}, {"mask": b"abcd"}, {"mask": b"abc"}, {"mask": None}):
            assert outcome(c.build_frame, opcode, payload, **kw) == outcome(py.build_frame, opcode, payload, **kw)


if sys.version_info < (3, 9):  # random.randbytes
    pytestmark = pytest.mark.skip(reason="needs Python 3.9+")
