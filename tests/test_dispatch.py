"""Runtime CPU dispatch: every kernel at every level this machine supports, against the scalar one.

The compiled backend picks its kernels once, at import (cython/wsc_cpu.h); these tests switch every
compiled module to each level in turn through the testing-only hook
``wscodec._c.mask._set_cpu_level`` and compare each kernel with the scalar level and with the
naive oracles: masking (copy and in place) at every alignment and phase, UTF-8 validation with
errors at every position around the 16/32/64-byte block boundaries of the vector kernels, fed
whole and split at every point around those boundaries, SHA-1 and the accept key, frame decoding.
Levels the CPU lacks are skipped with the reason; the compiled backend follows tests/conftest.py's
skip/require rules. ``WSCODEC_CPU`` itself is tested in subprocesses.
"""
from __future__ import annotations

import base64
import hashlib
import os
import random
import shutil
import subprocess
import sys
import sysconfig
from typing import Any, Callable, Iterator, List, Optional

import pytest

from . import oracles
from .conftest import load_backend

ALL_LEVELS = ("scalar", "sse2", "avx2", "avx512", "neon")
BLOCKS = (16, 32, 64)  # vector widths: every boundary below is a multiple of one of them
KEY = b"\x37\xfa\x21\x3d"


@pytest.fixture(scope="module")
def c() -> Any:
    load_backend("c")  # skipped or required as tests/conftest.py decides
    from wscodec._c import frames, handshake, mask, utf8

    class Modules:
        pass

    m = Modules()
    m.mask, m.utf8, m.handshake, m.frames = mask, utf8, handshake, frames
    return m


@pytest.fixture(params=ALL_LEVELS)
def level(request: pytest.FixtureRequest, c: Any) -> Iterator[str]:
    """Every compiled module switched to one level for the test, then back."""
    available = c.mask._cpu_levels()
    if request.param not in available:
        pytest.skip("CPU level %s is not available here (this machine: %s)" % (request.param, ", ".join(available)))
    previous = c.mask._set_cpu_level(request.param)
    try:
        yield request.param
    finally:
        c.mask._set_cpu_level(previous)


def at(c: Any, name: str, fn: Callable[..., Any], *args: Any) -> Any:
    """fn(*args) run at level ``name``, then back to the level the test is at."""
    previous = c.mask._set_cpu_level(name)
    try:
        return fn(*args)
    finally:
        c.mask._set_cpu_level(previous)


# -- masking -------------------------------------------------------------------------------------

def mask_cases(rng: random.Random) -> List[tuple]:
    """(length, data offset, output offset, phase): every length to 160 at every output alignment
    mod 64, then random lengths to 4 KiB."""
    cases = [(n, rng.randrange(64), off, (n + off) & 3) for n in range(161) for off in range(64)]
    cases += [(rng.randrange(4097), rng.randrange(64), rng.randrange(64), rng.randrange(4)) for _ in range(1500)]
    cases += [(n, rng.randrange(64), rng.randrange(64), rng.randrange(4)) for n in (4095, 4096)]
    return cases


def test_mask_kernels(c, level):
    rng = random.Random(6455)
    pool = rng.randbytes(4096 + 128)
    for n, src_off, dst_off, phase in mask_cases(rng):
        data = pool[src_off:src_off + n]
        expected = oracles.naive_mask(data, KEY, phase) if n < 300 else at(c, "scalar", _inplace, c, data, 0, phase)
        # in place, in a larger buffer, starting dst_off bytes in (any alignment)
        assert _inplace(c, data, dst_off, phase) == expected, (level, n, dst_off, phase)
        # copy kernel: source and destination both at arbitrary alignments
        src = bytearray(pool[:src_off]) + data
        dst = bytearray(b"\x5a" * (dst_off + n + 70))
        next_phase = c.mask._mask_into(memoryview(dst)[dst_off:dst_off + n], memoryview(src)[src_off:], KEY, phase)
        assert next_phase == (phase + n) & 3
        assert dst[dst_off:dst_off + n] == expected, (level, n, src_off, dst_off, phase)
        assert dst[:dst_off] == b"\x5a" * dst_off and dst[dst_off + n:] == b"\x5a" * 70  # no stray writes


def _inplace(c: Any, data: bytes, offset: int, phase: int) -> bytes:
    buf = bytearray(b"\xa5" * offset + data + b"\x3c" * 70)
    assert c.mask.mask_inplace(memoryview(buf)[offset:offset + len(data)], KEY, phase) == (phase + len(data)) & 3
    assert buf[:offset] == b"\xa5" * offset and buf[offset + len(data):] == b"\x3c" * 70
    return bytes(buf[offset:offset + len(data)])


def test_mask_public_api(c, level):
    """apply_mask, Masker and the GIL-releasing sizes go through the same kernel."""
    rng = random.Random(level)
    threshold = c.mask.cpu_info()["nogil_mask"]  # from here on, with the GIL released
    for n in (0, 15, 16, 17, 63, 64, 65, 1000, 16384, threshold - 1, threshold, threshold + 5):
        data = rng.randbytes(n)
        expected = at(c, "scalar", c.mask.apply_mask, data, KEY)
        assert c.mask.apply_mask(data, KEY) == expected
        masker, cut = c.mask.Masker(KEY), rng.randrange(n + 1)
        assert masker.apply(data[:cut]) + masker.apply(memoryview(data)[cut:]) == expected


# -- UTF-8 ---------------------------------------------------------------------------------------

CHARS = ["a", "~", "\u00e9", "\u07ff", "\u0800", "\u20ac", "\ud7ff", "\ue000", "\uffff", "\U00010000",
         "\U0001f600", "\U0010ffff"]
# Byte strings that are wrong where they stand: stray continuation, impossible bytes, overlongs,
# surrogates, above U+10FFFF, a lead byte followed by ASCII or by another lead.
BAD = [b"\x80", b"\xbf", b"\xc0\x80", b"\xc1\xbf", b"\xf5\x80\x80\x80", b"\xff", b"\xfe", b"\xe0\x80\x80",
       b"\xe0\x9f\xbf", b"\xed\xa0\x80", b"\xed\xbf\xbf", b"\xf0\x80\x80\x80", b"\xf0\x8f\xbf\xbf",
       b"\xf4\x90\x80\x80", b"\xf7\xbf\xbf\xbf", b"\xc2a", b"\xe2\x82a", b"\xf0\x9f\x98a", b"\xc2\xc2",
       b"\xe2\x82\xe2", b"\xf0\x9f\x98\xf0"]


# Sequences missing their last byte(s).
PARTIAL = [b"\xc2", b"\xdf", b"\xe0\xa0", b"\xe2", b"\xed\x9f", b"\xef\xbf", b"\xf0\x90\x80", b"\xf0\x9f",
           b"\xf4\x8f", b"\xf3"]


def valid_text(rng: random.Random, n: int) -> bytes:
    out = b"".join(rng.choice(CHARS).encode() for _ in range(n))
    return out


def corrupt_near_boundaries(rng: random.Random) -> Iterator[bytes]:
    """Valid text with a bad sequence at every position around the block boundaries up to 256
    bytes (and a few far ones), preceded by ASCII or by multi-byte text."""
    for boundary in range(16, 257, 16):
        for pos in range(boundary - 5, boundary + 5):
            for prefix_kind in ("ascii", "mixed"):
                if prefix_kind == "ascii":
                    prefix = b"x" * pos
                else:
                    prefix = valid_text(rng, pos)[:pos]
                    prefix = prefix[:len(prefix.decode("utf-8", "ignore").encode())]  # whole chars only
                    prefix += b"y" * (pos - len(prefix))
                yield prefix + rng.choice(BAD) + valid_text(rng, rng.randrange(0, 80))
                # a sequence cut short right at the boundary, then a whole block of ASCII
                partial = rng.choice(PARTIAL)
                yield prefix[:max(0, pos - len(partial) + 1)] + partial + b"z" * 140
    for n in (1000, 4000):
        text = valid_text(rng, n)
        at_ = rng.randrange(len(text))
        yield text[:at_] + rng.choice(BAD) + text[at_:]


def utf8_inputs(rng: random.Random) -> Iterator[bytes]:
    yield b""
    for n in list(range(0, 90)) + [300, 1000, 1400]:
        yield valid_text(rng, n)
        yield b"x" * n
        text = valid_text(rng, n)
        yield text[:-1]  # often truncated inside the last sequence
    yield from corrupt_near_boundaries(rng)


def test_utf8_kernels(c, level):
    rng = random.Random(3629)
    for data in utf8_inputs(rng):
        expected = oracles.utf8_error_offset(data)
        assert at(c, "scalar", c.utf8.utf8_error_offset, data) == expected, data
        for offset in (0, 1, 7, 31, 63):  # input alignment
            view = memoryview(b"\x00" * offset + data)[offset:]
            assert c.utf8.utf8_error_offset(view) == expected, (level, offset, data)
        assert c.utf8.validate_utf8(data) is (expected is None)


def validator_trace(v: Any, chunks: List[bytes]) -> list:
    v.reset()
    trace = [(v.feed(chunk), v.error_offset, v.offset) for chunk in chunks]
    return trace + [(v.finish(), v.error_offset)]


def test_utf8_incremental_splits(c, level):
    """Split in two at every point around the block boundaries, and in three around the error."""
    rng = random.Random(20)
    v = c.utf8.Utf8Validator()
    samples = [valid_text(rng, 70), valid_text(rng, 140)[:-2]] + [
        valid_text(rng, 20) + bad + valid_text(rng, 60) for bad in BAD[::3]
    ] + list(corrupt_near_boundaries(rng))[::37]
    for data in samples:
        error = oracles.utf8_error_offset(data)
        cuts = {p + d for p in range(0, len(data) + 1, 16) for d in range(-4, 5)} | ({error} if error else set())
        for cut in sorted(x for x in cuts if 0 <= x <= len(data)):
            chunks = [data[:cut], data[cut:]]
            results, finished, err = oracles.validator_trace(chunks)
            got = validator_trace(v, chunks)
            assert got == at(c, "scalar", validator_trace, v, chunks), (level, cut, data)
            assert [t[0] for t in got[:-1]] == results and got[-1] == (finished, err), (level, cut, data)
        if error is not None:
            for a in range(max(0, error - 4), min(len(data), error + 4)):
                chunks = [data[:a], data[a:error + 1], data[error + 1:]]
                assert validator_trace(v, chunks) == at(c, "scalar", validator_trace, v, chunks)


def test_utf8_large_inputs(c, level):
    """Long runs through the block loop: ASCII, multi-byte, ASCII after multi-byte, GIL-free sizes."""
    rng = random.Random(7)
    for text in ("x" * 70000, "\u6211\u80fd" * 12000, ("\U0001f600" + "ab" * 40) * 300,
                 ("\u00e9" * 63 + "a" * 200) * 100):
        data = text.encode()
        assert c.utf8.validate_utf8(data)
        for _ in range(5):
            pos = rng.randrange(len(data))
            bad = data[:pos] + b"\xff" + data[pos + 1:]
            assert c.utf8.utf8_error_offset(bad) == oracles.utf8_error_offset(bad)


# -- SHA-1 and the accept key --------------------------------------------------------------------

def test_sha1_and_accept_key(c, level):
    rng = random.Random(1)
    for n in list(range(0, 200)) + [1000, 4097]:
        data = rng.randbytes(n)
        assert c.handshake._sha1(data) == hashlib.sha1(data).digest(), (level, n)
    for _ in range(200):
        key = base64.b64encode(rng.randbytes(16)).decode()
        expected = base64.b64encode(hashlib.sha1(key.encode() + b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11").digest())
        assert c.handshake.accept_key(key) == expected.decode()


# -- frames --------------------------------------------------------------------------------------

def test_frame_decoder(c, level):
    """Masked frames of every small length and a few large ones, whole and in odd chunks."""
    py = load_backend("python")
    rng = random.Random(9)
    sizes = list(range(0, 140)) + [1000, 4096, 16384, 70000]
    stream = b"".join(py.build_frame(2, rng.randbytes(n), mask=rng.randbytes(4)) for n in sizes)
    for chunk in (len(stream), 4093, 64, 7):
        dec = c.frames.FrameDecoder(require_mask=True, max_frame_size=None)
        got = [f for i in range(0, len(stream), chunk) for f in dec.feed(stream[i:i + chunk])]
        ref = py.FrameDecoder(require_mask=True, max_frame_size=None).feed(stream)
        assert got == ref


# -- selection -----------------------------------------------------------------------------------

def test_levels_and_hook(c):
    levels = c.mask._cpu_levels()
    assert levels[0] == "scalar" and c.mask.cpu_level() == levels[-1]  # the best one allowed is in use
    info = c.mask.cpu_info()
    assert info["level"] == c.mask.cpu_level() and info["sha1"] in ("scalar", "sha")
    with pytest.raises(ValueError):
        c.mask._set_cpu_level("avx9000")
    assert c.mask._set_cpu_level(c.mask.cpu_level()) == c.mask.cpu_level()


def _info(env: dict) -> subprocess.CompletedProcess:
    full = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path), **env)
    full.pop("WSCODEC_NO_EXTENSIONS", None)
    code = "from wscodec._c import mask; print(mask.cpu_level(), ','.join(mask._cpu_levels()))"
    return subprocess.run([sys.executable, "-c", code], env=full, capture_output=True, text=True, timeout=60)


def test_wscodec_cpu_caps_the_level(c):
    best = c.mask.cpu_info()["cpu_best"]
    names = c.mask._level_names()
    for name in names:
        result = _info({"WSCODEC_CPU": " %s " % name.upper()})
        assert result.returncode == 0, result.stderr
        expected = names[min(names.index(name), names.index(best))]
        assert result.stdout.split() == [expected, ",".join(names[:names.index(expected) + 1])]
    assert _info({"WSCODEC_CPU": ""}).stdout.split()[0] == best


def test_wscodec_cpu_unknown_value_is_an_error(c):
    result = _info({"WSCODEC_CPU": "avx3"})
    assert result.returncode != 0
    assert "WSCODEC_CPU='avx3' is not a CPU level" in result.stderr


@pytest.mark.skipif(sys.platform != "linux" or sysconfig.get_platform().split("-")[-1] != "x86_64",
                    reason="objdump check written for x86-64 ELF")
def test_only_isa_named_functions_use_wider_instructions(c):
    """Code for AVX2/AVX-512/SHA lives only in functions whose symbol names the ISA, so the
    baseline build never executes such instructions before the CPU check."""
    objdump = shutil.which("objdump")
    if objdump is None:
        pytest.skip("objdump is not installed")
    registers = ("%ymm", "%zmm", "%k0", "%k1", "%k2", "%k3", "%k4", "%k5", "%k6", "%k7")
    beyond_sse2 = ("sha1", "sha256", "pshufb", "palignr", "phadd", "phsub", "pabs", "psign", "pmaddubsw",
                   "pmulhrsw", "pextrb", "pextrd", "pextrq", "pinsrb", "pinsrd", "pinsrq", "ptest", "pblend",
                   "blendp", "pminsb", "pmaxsb", "pminu", "pmaxu", "pminsd", "pmaxsd", "pmulld", "pcmpeqq",
                   "pcmpgtq", "packusdw", "pmovsx", "pmovzx", "round", "dpp", "crc32", "popcnt", "andn",
                   "bzhi", "pdep", "pext ", "shlx", "shrx", "sarx", "rorx", "mulx", "movbe")
    for module in (c.mask, c.utf8, c.frames, c.handshake):
        out = subprocess.run([objdump, "-d", "--no-show-raw-insn", module.__file__], capture_output=True,
                             text=True, check=True).stdout
        function: Optional[str] = None
        offenders = set()
        for line in out.splitlines():
            if line.endswith(">:"):
                function = line.split("<", 1)[1][:-2]
                continue
            parts = line.split("\t")
            if len(parts) < 2 or function is None:
                continue
            insn = parts[1].strip()
            mnemonic = insn.split()[0] if insn else ""
            uses_wide = (any(r in insn for r in registers) or mnemonic.startswith("v")
                         or (mnemonic + " ").startswith(beyond_sse2))
            if uses_wide and not function.endswith(("_avx2", "_avx512", "_sha")):
                offenders.add(function)
        assert not offenders, "%s: wider-ISA instructions outside ISA-named functions: %s" % (
            os.path.basename(module.__file__), sorted(offenders))
