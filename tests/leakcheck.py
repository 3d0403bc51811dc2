"""Memory-flatness checks shared by tests/test_leaks.py (short) and bench/leak_check.py (long,
valgrind): every public function and the Connection, on valid and invalid input, called many
times; the memory still allocated (tracemalloc) and the process RSS must not grow.

A leak of one reference or one small buffer per call shows as call-count * size bytes: 100,000
calls leaking 8 bytes are 800 KB, well over the allowances below.
"""
from __future__ import annotations

import gc
import os
import sys
import time
import types
from typing import Any, Callable, Dict, List, NamedTuple, Optional, Tuple

from wscodec.connection import Connection

from .memtrace import tracemalloc_or_skip
from wscodec.errors import InvalidKey, ProtocolError

KEY = b"\x37\xfa\x21\x3d"
WS_KEY = "dGhlIHNhbXBsZSBub25jZQ=="
EXPECTED = (ValueError, TypeError, BufferError, ProtocolError, InvalidKey)


def rss() -> int:
    """Resident set size of this process in bytes (Linux; 0 elsewhere)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError):
        return 0


def _swallow(fn: Callable[[], Any]) -> Callable[[], Any]:
    """Call ``fn``; the error it is meant to raise is part of the case."""

    def call() -> Any:
        try:
            return fn()
        except EXPECTED as exc:
            return exc

    return call


def cases(ns: types.SimpleNamespace) -> Dict[str, Callable[[], Any]]:
    """name -> zero-argument call exercising one entry point of backend ``ns``."""
    payload = bytes(range(256)) * 4
    text = ("héllo wörld 你好 🎉 " * 20).encode()
    bad_text = text[:50] + b"\xed\xa0\x80" + text[50:]
    stream = b"".join(
        ns.build_frame(op, p, fin=fin, mask=KEY)
        for op, p, fin in ((1, b"hel", False), (9, b"ping", True), (0, b"lo", True), (2, payload, True))
    )
    bad_stream = stream[:20] + b"\x83\x80" + KEY  # reserved opcode after a complete frame
    partial = stream[: len(stream) - 100]
    close_ok = ns.build_close(1001, "going away")

    def decode_ok() -> Any:
        d = ns.FrameDecoder(require_mask=True)
        d.feed(partial)
        return d.feed(stream[len(partial) :])

    def decode_bad() -> Any:
        d = ns.FrameDecoder(require_mask=True)
        try:
            d.feed(bad_stream)
        except ProtocolError as exc:
            assert exc.frames  # the frame before the error travels with it
        try:
            d.feed(b"x")  # after an error: the same error again
        except ProtocolError:
            pass

    def decode_too_big() -> Any:
        d = ns.FrameDecoder(require_mask=True, max_frame_size=100)
        return _swallow(lambda: d.feed(stream[:40] + payload))()

    def validator() -> Any:
        v = ns.Utf8Validator()
        v.feed(text[:33])
        v.feed(text[33:])
        v.finish()
        v.reset()
        v.feed(bad_text)
        return v.finish()

    def masker() -> Any:
        m = ns.Masker(KEY, 1)
        buf = bytearray(payload[:100])
        m.apply(payload[:7])
        m.apply_inplace(buf)
        m.reset(2)
        return m.apply(memoryview(payload)[3:50])

    return {
        "apply_mask": lambda: ns.apply_mask(payload, KEY),
        "apply_mask bad key": _swallow(lambda: ns.apply_mask(payload, b"abc")),
        "apply_mask str": _swallow(lambda: ns.apply_mask("abc", KEY)),
        "mask_inplace": lambda: ns.mask_inplace(bytearray(payload), KEY, 3),
        "mask_inplace read-only": _swallow(lambda: ns.mask_inplace(payload, KEY)),
        "mask_inplace bad phase": _swallow(lambda: ns.mask_inplace(bytearray(8), KEY, 9)),
        "Masker": masker,
        "Masker bad key": _swallow(lambda: ns.Masker(b"12345")),
        "validate_utf8": lambda: ns.validate_utf8(text),
        "validate_utf8 invalid": lambda: ns.validate_utf8(bad_text),
        "utf8_error_offset": lambda: ns.utf8_error_offset(bad_text),
        "Utf8Validator": validator,
        "parse_header": lambda: ns.parse_header(stream, 0),
        "parse_header incomplete": lambda: ns.parse_header(stream[:1]),
        "parse_header reserved opcode": _swallow(lambda: ns.parse_header(b"\x83\x00")),
        "parse_header bad offset": _swallow(lambda: ns.parse_header(stream, -1)),
        "build_frame": lambda: ns.build_frame(2, payload, mask=KEY),
        "build_frame text": lambda: ns.build_frame(1, "héllo", mask=True),
        "build_frame bad opcode": _swallow(lambda: ns.build_frame(3, b"")),
        "build_frame control too long": _swallow(lambda: ns.build_frame(9, payload)),
        "FrameDecoder": decode_ok,
        "FrameDecoder protocol error": decode_bad,
        "FrameDecoder too big": decode_too_big,
        "parse_close": lambda: ns.parse_close(close_ok),
        "parse_close empty": lambda: ns.parse_close(b""),
        "parse_close bad code": _swallow(lambda: ns.parse_close(b"\x03\xed")),
        "parse_close bad utf8": _swallow(lambda: ns.parse_close(b"\x03\xe8\xff")),
        "build_close": lambda: ns.build_close(4000, "reason ü"),
        "build_close bad": _swallow(lambda: ns.build_close(1005, "")),
        "is_valid_close_code": lambda: ns.is_valid_close_code(1 << 70),
        "accept_key": lambda: ns.accept_key(WS_KEY),
        "accept_key invalid": _swallow(lambda: ns.accept_key("nope")),
        "validate_key": lambda: ns.validate_key(WS_KEY.encode()),
        "generate_key": ns.generate_key,
    }


def connection_cases(ns: types.SimpleNamespace) -> Dict[str, Callable[[], Any]]:
    """Whole connection lifetimes (valid session, protocol error, oversized message, abort)."""
    frames = [ns.build_frame(op, p, fin=fin, mask=KEY) for op, p, fin in
              ((1, "héllo".encode(), True), (2, b"x" * 300, False), (9, b"p", True), (0, b"y" * 300, True))]
    session = b"".join(frames) + ns.build_frame(8, ns.build_close(1000, "bye"), mask=KEY)
    bad = frames[0] + ns.build_frame(1, b"\xff\xfe", mask=KEY)
    big = ns.build_frame(2, b"z" * 2000, mask=KEY)

    def run(data: bytes, step: int, **kw: Any) -> Any:
        conn = Connection("server", codec=ns, ping_interval=1.0, ping_timeout=1.0, **kw)
        for i in range(0, len(data), step):
            conn.receive_data(data[i : i + step], now=0.1)
        conn.send("reply") if conn.open else None
        conn.handle_timeout(5.0)
        conn.data_to_send()
        return conn.receive_eof(6.0)

    def client() -> Any:
        conn = Connection("client", codec=ns)
        conn.send(b"a" * 100)
        conn.ping()
        conn.close(1000, "done")
        conn.data_to_send()
        conn.receive_data(ns.build_frame(8, ns.build_close(1000)))
        return conn.receive_eof()

    return {
        "Connection session": lambda: run(session, len(session)),
        "Connection session in 61-byte chunks": lambda: run(session, 61),
        "Connection invalid UTF-8": lambda: run(bad, 5),
        "Connection message too big": lambda: run(big, 100, max_message_size=1000),
        "Connection client": client,
    }


class Result(NamedTuple):
    name: str
    calls: int
    seconds: float
    block_growth: int  # sys.getallocatedblocks() after the calls minus before
    rss_growth: int  # bytes
    traced_calls: int
    traced_growth: int  # bytes still allocated (tracemalloc) after the traced calls, minus before

    def __str__(self) -> str:
        return "%-38s %9d calls %6.2fs blocks %+5d rss %+6d KiB | %6d traced calls %+6d B" % (
            self.name, self.calls, self.seconds, self.block_growth, self.rss_growth // 1024,
            self.traced_calls, self.traced_growth)


MIN_CALLS = 200  # even past the time budget: a leak of one block per call must show


def _loop(fn: Callable[[], Any], calls: int, seconds: float, min_calls: int = MIN_CALLS) -> Tuple[int, float]:
    start = time.perf_counter()
    deadline, done = start + seconds, 0
    while done < calls:
        for _ in range(50):
            fn()
        done += 50
        if done >= min_calls and time.perf_counter() > deadline:
            break
    return done, time.perf_counter() - start


def measure(name: str, fn: Callable[[], Any], calls: int, seconds: float, traced_share: float = 0.1) -> Result:
    """After a warm-up, call ``fn`` up to ``calls`` times (stopping after ``seconds``) and report
    the growth of allocated blocks (every PyObject/PyMem allocation, at no cost) and RSS; then
    ``traced_share`` as many calls under tracemalloc (slow, so fewer) for the traced growth."""
    _loop(fn, max(50, min(2000, calls // 20)), seconds / 5, 50)  # warm-up: caches settle
    gc.collect()
    blocks, resident = sys.getallocatedblocks(), rss()
    done, elapsed = _loop(fn, calls, seconds)
    gc.collect()
    blocks, resident = sys.getallocatedblocks() - blocks, rss() - resident
    traced_calls = traced = 0
    if traced_share > 0:
        tracemalloc = tracemalloc_or_skip()
        tracemalloc.start()
        _loop(fn, 50, 0.0, 50)
        gc.collect()
        before = tracemalloc.get_traced_memory()[0]
        traced_calls, _ = _loop(fn, max(50, int(done * traced_share)), seconds * traced_share, 50)
        gc.collect()
        traced = tracemalloc.get_traced_memory()[0] - before
        tracemalloc.stop()
    return Result(name, done, elapsed, blocks, resident, traced_calls, traced)


def all_cases(ns: types.SimpleNamespace) -> List[Tuple[str, Callable[[], Any]]]:
    return list(cases(ns).items()) + list(connection_cases(ns).items())


def run_all(ns: types.SimpleNamespace, calls: int, seconds: float, traced_share: float = 0.1,
            report: Optional[Callable[[Result], None]] = None) -> List[Result]:
    """Every case of backend ``ns``. The objects alive before are frozen out of the collector's
    view (gc.freeze), so that the full collections around each measurement stay cheap even in
    a big process (pytest with hypothesis: 0.14 s each otherwise)."""
    gc.collect()
    gc.freeze()
    try:
        results = []
        for name, fn in all_cases(ns):
            results.append(measure(name, fn, calls, seconds, traced_share))
            if report is not None:
                report(results[-1])
        return results
    finally:
        gc.unfreeze()


# Allowances: caches (interned strings, free lists, the decoder's kept buffer) settle during the
# warm-up; what is left is noise of a few blocks and RSS pages.
BLOCK_LIMIT = 40
TRACED_LIMIT = 8192
RSS_LIMIT = 2 << 20


def check(results: List[Result], rss_limit: int = RSS_LIMIT) -> Optional[str]:
    """A report of the cases over the limits, None when all are flat."""
    bad = [r for r in results if r.block_growth > BLOCK_LIMIT or r.traced_growth > TRACED_LIMIT
           or r.rss_growth > rss_limit]
    return "\n".join(str(r) for r in bad) or None
