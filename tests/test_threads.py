"""Many threads on one backend at once: no result may depend on what the other threads do.

On free-threaded CPython (3.14t) the threads run in parallel, and importing the compiled modules
must not turn the GIL back on (they declare ``freethreading_compatible``). With the GIL, the
kernels still release it for payloads of 16 KiB and more, so masking and UTF-8 validation overlap
there too. Objects (FrameDecoder, Utf8Validator, Masker) are per thread, as documented; inputs and
the in-place target buffer are shared.
"""
from __future__ import annotations

import base64
import hashlib
import os
import sys
import sysconfig
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, List, TypeVar

import pytest

T = TypeVar("T")
THREADS = 8
ROUNDS = 16
BIG = 3 * 131072 + 5  # above every GIL-release threshold (cpu_info()), not a multiple of any vector width
SHARED = os.urandom(BIG)
GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def xor(data: bytes, key: bytes, phase: int = 0) -> bytes:
    """Reference masking (whole-integer XOR, independent of both backends)."""
    n = len(data)
    stream = (key[phase:] + key[:phase]) * (n // 4 + 1)
    return (int.from_bytes(data, "little") ^ int.from_bytes(stream[:n], "little")).to_bytes(n, "little")


def key_for(i: int) -> bytes:
    return bytes((i * 37 + k * 11 + 1) & 0xFF for k in range(4))


def in_threads(fn: Callable[[int], T], n: int = THREADS) -> List[T]:
    """fn(0..n-1), each in its own thread, all released at once; exceptions propagate."""
    barrier = threading.Barrier(n, timeout=60)

    def run(i: int) -> T:
        barrier.wait()
        return fn(i)

    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(run, range(n)))


def test_gil_stays_disabled(backend):
    if not sysconfig.get_config_var("Py_GIL_DISABLED"):
        pytest.skip("not a free-threaded CPython")
    if os.environ.get("PYTHON_GIL") == "1":
        pytest.skip("PYTHON_GIL=1 forces the GIL on")
    in_threads(lambda i: backend.apply_mask(SHARED, key_for(i)))
    assert not sys._is_gil_enabled(), "importing backend %r re-enabled the GIL" % backend.name


def test_apply_mask_shared_input(backend):
    view = memoryview(SHARED)

    def work(i: int) -> None:
        key = key_for(i)
        expected = xor(SHARED, key)
        for r in range(ROUNDS):
            assert backend.apply_mask(SHARED, key) == expected
            start = (i + r) % 7
            assert backend.apply_mask(view[start:], key) == xor(SHARED[start:], key)
            assert backend.apply_mask(SHARED[: 100 + r], key) == expected[: 100 + r]

    in_threads(work)


def test_mask_inplace_disjoint_slices_of_one_buffer(backend):
    # Slices of odd sizes side by side: a kernel that writes past its slice corrupts a neighbour.
    size = BIG // 4 + 3
    original = os.urandom(size * THREADS)
    buf = bytearray(original)
    view = memoryview(buf)

    def work(i: int) -> None:
        part = view[i * size:(i + 1) * size]
        key = key_for(i)
        for _ in range(ROUNDS):  # an even number of passes: back to the original
            assert backend.mask_inplace(part, key, i % 4) == (i + size) % 4
        masker = backend.Masker(key)
        for lo in range(0, size, 1000 + i):  # once more through a streaming Masker
            masker.apply_inplace(part[lo:lo + 1000 + i])
        assert masker.phase == size % 4

    in_threads(work)
    for i in range(THREADS):
        lo = i * size
        assert bytes(buf[lo:lo + size]) == xor(original[lo:lo + size], key_for(i)), "slice %d" % i


def test_independent_frame_decoders(backend):
    def work(i: int) -> None:
        payloads = [os.urandom(n) for n in (0, 1, 125, 126, 1000 + i, 65535, 65536 + i, BIG)]
        stream = b"".join(backend.build_frame(2, p, mask=True) for p in payloads)
        for r in range(ROUNDS // 2):
            decoder = backend.FrameDecoder(require_mask=True, max_frame_size=None)
            step = 97 + 1000 * i + r
            frames = []
            for lo in range(0, len(stream), step):
                frames.extend(decoder.feed(stream[lo:lo + step]))
            assert [bytes(f.payload) for f in frames] == payloads
            assert all(f.fin and int(f.opcode) == 2 for f in frames)
            assert decoder.buffered == 0

    in_threads(work)


def test_independent_utf8_validators(backend):
    text = ("wscodec héllo wörld € 𝄞 " * 3000).encode()
    bad_at = len(text) // 2 + 1
    bad = text[:bad_at] + b"\xed\xa0\x80" + text[bad_at:]  # a surrogate: invalid at its 2nd byte

    def work(i: int) -> None:
        step = 1000 + 7 * i  # cuts through multi-byte sequences at thread-specific places
        v = backend.Utf8Validator()
        for r in range(ROUNDS // 2):
            v.reset()
            assert all(v.feed(text[lo:lo + step]) for lo in range(0, len(text), step))
            assert v.finish()
            v.reset()
            results = [v.feed(bad[lo:lo + step]) for lo in range(0, len(bad), step)]
            assert False in results and not v.finish()
            assert v.error_offset == bad_at + 1
            assert backend.validate_utf8(text) and not backend.validate_utf8(bad)
            assert backend.utf8_error_offset(bad) == bad_at + 1

    in_threads(work)


def test_accept_key(backend):
    def work(i: int) -> None:
        for r in range(50):
            key = base64.b64encode(bytes((i * 50 + r + k) & 0xFF for k in range(16))).decode()
            expected = base64.b64encode(hashlib.sha1(key.encode() + GUID).digest()).decode()
            assert backend.accept_key(key) == expected
            fresh = backend.generate_key()
            assert backend.validate_key(fresh)
            assert backend.accept_key(fresh) == base64.b64encode(hashlib.sha1(fresh.encode() + GUID).digest()).decode()

    in_threads(work)


def test_a_decoder_shared_by_mistake_refuses_overlapping_feeds(backend):
    """One decoder fed from two threads (a misuse): a feed that overlaps another raises
    RuntimeError instead of touching the running one's buffer; the frames still come out intact."""
    payload = os.urandom(1 << 24)
    key = key_for(3)
    frame = backend.build_frame(2, payload, mask=key)
    decoder = backend.FrameDecoder(require_mask=True, max_frame_size=None)
    stop = threading.Event()
    refused: List[str] = []

    def intruder() -> None:
        while not stop.is_set():
            try:
                assert decoder.feed(b"") == []
            except RuntimeError as exc:
                refused.append(str(exc))

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)  # switch threads often: overlaps happen in every round or two
    thread = threading.Thread(target=intruder)
    thread.start()
    deadline = time.monotonic() + 20
    try:
        # At least 8 rounds, then on until an overlap was seen (bounded): the timing of thread
        # switches differs between interpreters (PyPy's JIT makes a feed short).
        rounds = 0
        while rounds < 8 or (not refused and time.monotonic() < deadline):
            rounds += 1
            while True:
                try:
                    frames = decoder.feed(frame)
                    break
                except RuntimeError as exc:  # the intruder's empty feed was running
                    refused.append(str(exc))
            assert len(frames) == 1 and frames[0].payload == payload
            assert decoder.buffered == 0
    finally:
        stop.set()
        thread.join()
        sys.setswitchinterval(interval)
    assert refused and set(refused) == {"FrameDecoder.feed called again while running"}
