"""Differential fuzz targets: every public entry point of the compiled backend against the pure-Python
reference, on the same input, failing on any difference in result or error (type, reason,
close_code, offset, frames decoded before the error). A crash in the C code (ASan/UBSan build)
or an exception neither backend may raise (SystemError, MemoryError, ...) fails too.

Each target is a plain function of one ``bytes`` input, so the same inputs replay without atheris
(tests/test_fuzz_regressions.py replays fuzz/regressions/ through them). The input is decoded
with a tiny cursor, not atheris.FuzzedDataProvider, so seeds (fuzz/make_corpus.py) are easy to
write: option bytes first, then the payload.

    python fuzz/targets.py TARGET [libFuzzer args...]     # under atheris (see fuzz/run.sh)
"""
from __future__ import annotations

import array
import os
import random
import sys
import zlib
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Tuple

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)  # tests.oracles; wscodec comes from PYTHONPATH (the ASan tree)

LEVELS: Tuple[str, ...] = ()  # the compiled kernels' CPU levels this machine runs (SIMD dispatch)
C: Any = None  # the compiled backend's API (wscodec._backends.load("c"))
PY: Any = None  # the reference
Connection: Any = None
norm: Any = None
outcome: Any = None


def load() -> None:
    """Import both backends (main() does it under atheris' bytecode instrumentation)."""
    global C, PY, Connection, norm, outcome, LEVELS
    from tests import oracles
    from wscodec import _backends, connection

    C, PY, Connection = _backends.load("c"), _backends.load("python"), connection.Connection
    norm, outcome = oracles.norm, oracles.outcome
    levels = getattr(_mask_module(), "_cpu_levels", None)
    LEVELS = tuple(levels()) if levels is not None else ()


def _mask_module() -> Any:
    import importlib

    return importlib.import_module("wscodec._c.mask")


def set_level(name: str) -> None:
    """Switch every compiled kernel to CPU level ``name`` (scalar, sse2, avx2, ...)."""
    _mask_module()._set_cpu_level(name)


def at_some_level(target: Callable[[bytes], None]) -> Callable[[bytes], None]:
    """``target`` with the kernels at a CPU level picked by the input's hash: one run per input
    (no cost multiplier), every level explored, the same level when an input is replayed."""

    def run(data: bytes) -> None:
        if LEVELS:
            set_level(LEVELS[zlib.crc32(data) % len(LEVELS)])
        target(data)

    run.__name__ = target.__name__
    return run


if __name__ != "__main__":
    load()

# Sizes around the 7/16/64-bit length forms, the no-GIL threshold (16 KiB) and vector widths.
LIMITS: Tuple[Optional[int], ...] = (None, 0, 1, 125, 126, 65535, 65536, 1 << 20, 16384, (1 << 63) - 1, 1 << 64)
REPEATS = (1, 1, 2, 3, 17, 65, 300, 4100)  # payload * repeat reaches the kernels' big-input paths
PADS = (0, 0, 0, 1, 125, 65536, 16384, 70000)  # bytes appended so that long frames complete
INTS = (0, 1, 2, 3, 4, -1, 1 << 31, 1 << 63, -(1 << 63), 1 << 64, 13, 7)


MAX_PAYLOAD = 70000  # repeated payloads are cut here: past the no-GIL thresholds (64 KiB)


def pad(sel: int) -> bytes:
    # 0xFF: after the frame it completes, the padding is a reserved opcode, not 35,000 tiny frames
    return b"\xff" * PADS[sel & 7]


def repeat(data: bytes, sel: int) -> bytes:
    return (data * REPEATS[sel & 7])[: max(len(data), MAX_PAYLOAD)]


class Diff(AssertionError):
    """The two backends disagree."""


def check(what: str, c: Any, py: Any) -> None:
    if c != py:
        raise Diff("%s differs:\n  c:  %r\n  py: %r" % (what, c, py))


class Reader:
    """Bytes from the front of the input; zeros once it is used up."""

    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def byte(self) -> int:
        b = self.data[self.pos] if self.pos < len(self.data) else 0
        self.pos += 1
        return b

    def take(self, n: int) -> bytes:
        out = self.data[self.pos : self.pos + n]
        self.pos += n
        return out

    def rest(self) -> bytes:
        out = self.data[self.pos :]
        self.pos = len(self.data)
        return out

    def pick(self, seq: Sequence[Any]) -> Any:
        return seq[self.byte() % len(seq)]


def as_kind(data: bytes, kind: int) -> Any:
    """The same bytes as another buffer type (or not a buffer at all): both backends must agree."""
    kind %= 8
    if kind == 2:
        return bytearray(data)
    if kind == 3:
        return memoryview(data)
    if kind == 4 and len(data) % 2 == 0:
        return array.array("H", data)  # itemsize 2: read as flat bytes
    if kind == 5:
        return memoryview(data + data)[::2]  # non-contiguous: BufferError
    if kind == 6:
        return data.decode("latin-1")  # str: TypeError where bytes-like is required
    if kind == 7 and data:
        return memoryview(b"\x00" + data)[1:]  # offset view: unaligned base pointer
    return data


def chunks_of(data: bytes, seed: int) -> List[bytes]:
    """``data`` cut into chunks whose sizes a seed decides (0: one chunk)."""
    if seed == 0 or not data:
        return [data]
    rng = random.Random(seed)
    sizes = (1, 1, 2, 3, 4, 7, 13, 14, 64, 127, 1000, 20000)
    out: List[bytes] = []
    pos = 0
    while pos < len(data) and len(out) < 4096:
        n = rng.choice(sizes)
        out.append(data[pos : pos + n])
        pos += n
    if pos < len(data):
        out.append(data[pos:])
    return out


# ------------------------------------------------------------------------------------- masking
def target_mask(data: bytes) -> None:
    r = Reader(data)
    flags, seed = r.byte(), r.byte()
    key = r.take(r.byte() % 6) if flags & 0x80 else r.take(4)  # wrong key lengths too
    phase = r.pick(INTS) if flags & 0x40 else r.byte() % 4
    kind = flags & 7
    payload = repeat(r.rest(), flags >> 3)
    check("apply_mask", outcome(C.apply_mask, as_kind(payload, kind), key), outcome(PY.apply_mask, as_kind(payload, kind), key))
    bufs = [bytearray(payload), bytearray(payload)]
    got = [outcome(ns.mask_inplace, buf, key, phase) for ns, buf in zip((C, PY), bufs)]
    check("mask_inplace", got[0], got[1])
    check("mask_inplace buffer", bufs[0], bufs[1])
    maskers = [outcome(ns.Masker, key, phase) for ns in (C, PY)]
    check("Masker()", maskers[0][0], maskers[1][0])
    if maskers[0][0] != "return":
        return
    mc, mp = C.Masker(key, phase), PY.Masker(key, phase)
    check("Masker.mask", mc.mask, mp.mask)
    for i, chunk in enumerate(chunks_of(payload, seed)):
        if i % 3 == 2:
            a, b = bytearray(chunk), bytearray(chunk)
            check("apply_inplace", outcome(mc.apply_inplace, a), outcome(mp.apply_inplace, b))
            check("apply_inplace buffer", a, b)
        else:
            check("Masker.apply", outcome(mc.apply, as_kind(chunk, i)), outcome(mp.apply, as_kind(chunk, i)))
        check("Masker.phase", mc.phase, mp.phase)
        if i == 5:
            p = INTS[seed % len(INTS)]
            check("Masker.reset", outcome(mc.reset, p), outcome(mp.reset, p))


# ------------------------------------------------------------------------------------- UTF-8
def _validator_state(v: Any) -> Tuple[Any, ...]:
    return (v.offset, v.error_offset, v.valid)


def target_utf8(data: bytes) -> None:
    r = Reader(data)
    flags, seed = r.byte(), r.byte()
    payload = repeat(r.rest(), flags >> 3)
    kind = flags & 7
    for fn in ("validate_utf8", "utf8_error_offset"):
        check(fn, outcome(getattr(C, fn), as_kind(payload, kind)), outcome(getattr(PY, fn), as_kind(payload, kind)))
    try:  # and against CPython's own decoder, so that a bug shared by both still shows
        payload.decode("utf-8")
        ok = True
    except UnicodeDecodeError:
        ok = False
    check("validate_utf8 vs codecs", C.validate_utf8(payload), ok)
    vc, vp = C.Utf8Validator(), PY.Utf8Validator()
    for i, chunk in enumerate(chunks_of(payload, seed)):
        check("Utf8Validator.feed", outcome(vc.feed, as_kind(chunk, i if flags & 0x80 else 0)), outcome(vp.feed, as_kind(chunk, i if flags & 0x80 else 0)))
        check("Utf8Validator state", _validator_state(vc), _validator_state(vp))
        if flags & 0x40 and i == 3:
            vc.reset()
            vp.reset()
    check("Utf8Validator.finish", vc.finish(), vp.finish())
    check("Utf8Validator final", _validator_state(vc), _validator_state(vp))


def _decoded(ns: Any, data: Any) -> Any:
    result = outcome(ns.decode_text, data)  # and the compact kind CPython would have chosen
    if result[0] != "return":
        return result
    # the compact kind: the compiled str as it is; CPython's own (the Python backend) may carry a
    # cached UTF-8 copy (3.13), so its size is taken from a fresh str of the same characters
    s = ns.decode_text(data)
    if ns.name != "c":
        top = max(map(ord, s), default=0)
        fill, width = ("a", 1) if top < 0x80 else ("\xff", 1) if top < 0x100 else \
            ("\u0100", 2) if top < 0x10000 else ("\U00010000", 4)
        return result + (sys.getsizeof(fill * (len(s) + 1)) - width,)
    return result + (sys.getsizeof(s),)


def _encoded(ns: Any, text: str) -> Any:
    try:
        return ("return", ns.encode_text(text), ns.build_frame(1, text, mask=b"wsc!"))
    except UnicodeEncodeError as exc:
        return ("raise", exc.args)


def target_text(data: bytes) -> None:
    r = Reader(data)
    flags, seed = r.byte(), r.byte()
    payload = repeat(r.rest(), flags >> 3)
    kind = flags & 7
    check("decode_text", _decoded(C, as_kind(payload, kind)), _decoded(PY, as_kind(payload, kind)))
    dc, dp = C.TextDecoder(), PY.TextDecoder()
    chunks = chunks_of(payload, seed)
    for i, chunk in enumerate(chunks):
        final = i == len(chunks) - 1 and not flags & 0x40
        check("TextDecoder.decode", outcome(dc.decode, chunk, final), outcome(dp.decode, chunk, final))
        check("TextDecoder.offset", dc.offset, dp.offset)
    # any str, lone surrogates included: the payload's 16-bit units (and 32-bit ones below U+110000)
    texts = [payload[:len(payload) & ~1].decode("utf-16-le", "surrogatepass")]
    texts.append("".join(chr(u % 0x110000) for u in array.array("I", payload[:len(payload) & ~3])))
    for text in texts:
        check("encode_text", _encoded(C, text), _encoded(PY, text))
        try:
            check("encode_text vs str.encode", C.encode_text(text), text.encode("utf-8"))
        except UnicodeEncodeError:
            pass


# ------------------------------------------------------------------------------------- frames
def target_header(data: bytes) -> None:
    r = Reader(data)
    flags = r.byte()
    payload = r.rest()
    offsets = (0, 0, 0, 1, 2, len(payload) - 2, len(payload), len(payload) + 3, -1, 1 << 63, 1 << 64, True)
    offset = offsets[flags % len(offsets)]
    kind = flags >> 4
    check("parse_header", outcome(C.parse_header, as_kind(payload, kind), offset), outcome(PY.parse_header, as_kind(payload, kind), offset))


def decode_trace(ns: Any, chunks: List[bytes], opts: Dict[str, Any], changes: List[Tuple[str, Any]], kind: int) -> List[Any]:
    made = outcome(ns.FrameDecoder, **opts)
    if made[0] != "return":
        return [made]
    decoder = ns.FrameDecoder(**opts)
    trace: List[Any] = []
    for i, chunk in enumerate(chunks):
        if changes and i % 4 == 3:  # the settings may change between feeds
            name, value = changes[(i // 4) % len(changes)]
            trace.append(("set", name, outcome(setattr, decoder, name, value)))
        trace.append((outcome(decoder.feed, as_kind(chunk, kind)), decoder.buffered))
    trace.append((decoder.require_mask, decoder.allow_rsv1, norm(decoder.max_frame_size)))
    return trace


def target_decoder(data: bytes) -> None:
    r = Reader(data)
    flags, seed, extra = r.byte(), r.byte(), r.byte()
    opts = {"require_mask": bool(flags & 1), "allow_rsv1": bool(flags & 2), "max_frame_size": LIMITS[(flags >> 2) % len(LIMITS)]}
    if extra & 0x80:
        opts["max_frame_size"] = r.pick(INTS)  # negative, huge: ValueError / no limit
    stream = r.rest() + pad(extra)
    changes: List[Tuple[str, Any]] = []
    if extra & 0x40:
        changes = [("max_frame_size", LIMITS[seed % len(LIMITS)]), ("allow_rsv1", not opts["allow_rsv1"]), ("require_mask", seed & 1)]
    kind = (extra >> 3) & 3  # bytes, bytes, bytearray, memoryview
    chunks = chunks_of(stream, seed) + [b"", stream[:3]]  # then more input (or the error again)
    check("FrameDecoder trace", decode_trace(C, chunks, opts, changes, kind), decode_trace(PY, chunks, opts, changes, kind))


def _fixed_urandom(n: int) -> bytes:
    return bytes(range(0x5A, 0x5A + n))


def target_build_frame(data: bytes) -> None:
    r = Reader(data)
    flags, op, mask_sel = r.byte(), r.byte(), r.byte()
    opcode: Any = op % 20 - 2 if not flags & 0x80 else r.pick(INTS + (1.0, "1", True))
    mask: Any = (False, None, True, r.take(4), r.take(mask_sel % 6), b"\x00\x00\x00\x00")[mask_sel % 6]
    payload: Any = repeat(r.rest(), flags >> 3)
    if flags & 0x40:
        payload = payload.decode("utf-8", "surrogateescape")  # str: UTF-8 encoded (lone surrogates fail)
    elif flags & 4:
        payload = as_kind(payload, flags & 7)
    kw = dict(fin=not flags & 1, rsv1=bool(flags & 2), mask=mask)
    saved = os.urandom
    os.urandom = _fixed_urandom  # mask=True draws from os.urandom in both backends: make it equal
    try:
        got_c, got_py = outcome(C.build_frame, opcode, payload, **kw), outcome(PY.build_frame, opcode, payload, **kw)
    finally:
        os.urandom = saved
    check("build_frame", got_c, got_py)
    if got_c[0] == "return":  # round trip through the compiled decoder
        frame = got_c[1][1]
        masked = bool(frame[1] & 0x80)
        frames = C.FrameDecoder(require_mask=masked, max_frame_size=None, allow_rsv1=True).feed(frame)
        check("build_frame round trip", len(frames), 1)


# ------------------------------------------------------------------------------------- close
def target_close(data: bytes) -> None:
    r = Reader(data)
    flags, sel = r.byte(), r.byte()
    code_bytes = r.take(2)
    raw = r.rest()
    check("parse_close", outcome(C.parse_close, as_kind(code_bytes + raw, flags)), outcome(PY.parse_close, as_kind(code_bytes + raw, flags)))
    code: Any = int.from_bytes(code_bytes, "big") if len(code_bytes) == 2 else None
    if sel & 0x80:
        code = (None, True, 1000.0, "1000", -1, 1 << 64, 1 << 63, -(1 << 70), 999, 5000, 0, 65535)[sel % 12]
    reason: Any = raw.decode("utf-8", "surrogateescape") if sel & 0x40 else raw.decode("latin-1")
    if sel & 0x20:
        reason = raw  # bytes: TypeError
    got = [outcome(ns.build_close, code, reason) for ns in (C, PY)]
    check("build_close", got[0], got[1])
    if got[0][0] == "return" and got[0][1][1]:  # round trip
        check("parse_close(build_close)", outcome(C.parse_close, got[0][1][1]), ("return", norm(PY.parse_close(got[0][1][1]))))
    for value in (code, int.from_bytes(code_bytes or b"\0", "big")):
        check("is_valid_close_code", outcome(C.is_valid_close_code, value), outcome(PY.is_valid_close_code, value))


# ------------------------------------------------------------------------------------- handshake
def target_handshake(data: bytes) -> None:
    r = Reader(data)
    flags = r.byte()
    raw = r.rest()
    key: Any = raw
    if flags % 4 == 1:
        key = raw.decode("latin-1")
    elif flags % 4 == 2:
        key = raw.decode("utf-8", "replace")
    elif flags % 4 == 3:
        key = as_kind(raw, flags >> 2)
    for fn in ("validate_key", "accept_key"):
        check(fn, outcome(getattr(C, fn), key), outcome(getattr(PY, fn), key))


# ------------------------------------------------------------------------------------- Connection
def connection_trace(ns: Any, chunks: List[bytes], opts: Dict[str, Any], ops: int) -> List[Any]:
    conn = Connection("server", codec=ns, now=0.0, **opts)
    trace: List[Any] = []
    for i, chunk in enumerate(chunks):
        now = float(i)
        trace.append(outcome(conn.receive_data, chunk, now))
        if ops & 1 and i % 5 == 4:
            trace.append(outcome(conn.send, "x" * i if i % 2 else b"y" * i, now))
        if ops & 2 and i % 7 == 6:
            trace.append(outcome(conn.ping, None, now))
        if conn.next_deadline() is not None and conn.next_deadline() <= now:
            trace.append(outcome(conn.handle_timeout, now))
        trace.append((conn.data_to_send(), conn.state, conn.should_close_transport, conn.close_code))
    if ops & 4:
        trace.append(outcome(conn.close, 1000, "bye", float(len(chunks))))
    trace.append(outcome(conn.receive_eof, float(len(chunks))))
    trace.append((conn.data_to_send(), conn.state, conn.close_code, conn.close_reason, conn.was_clean, conn.closed_by))
    return trace


def target_connection(data: bytes) -> None:
    r = Reader(data)
    flags, seed, ops = r.byte(), r.byte(), r.byte()
    sizes = (None, 0, 1, 125, 126, 1000, 65536, 1 << 20)
    opts = {"max_message_size": sizes[flags & 7], "max_frame_size": sizes[(flags >> 3) & 7], "ping_interval": 3.0 if flags & 0x40 else None, "ping_timeout": 2.0, "idle_timeout": 50.0 if flags & 0x80 else None, "close_timeout": 4.0}
    opts["deliver_fragments"] = bool(ops & 8)
    chunks = chunks_of(r.rest() + pad(ops >> 5), seed)
    check("Connection trace", connection_trace(C, chunks, opts, ops), connection_trace(PY, chunks, opts, ops))


TARGETS: Dict[str, Callable[[bytes], None]] = {
    "mask": target_mask,
    "utf8": target_utf8,
    "text": target_text,
    "header": target_header,
    "decoder": target_decoder,
    "build_frame": target_build_frame,
    "close": target_close,
    "handshake": target_handshake,
    "connection": target_connection,
}


PY_COVERAGE: Dict[str, List[str]] = {"connection": ["wscodec.connection", "wscodec._output", "wscodec._assembler"]}


def iter_files(paths: Sequence[str]) -> Iterator[str]:
    for path in paths:
        if os.path.isdir(path):
            for name in sorted(os.listdir(path)):
                yield os.path.join(path, name)
        else:
            yield path


def main(argv: List[str]) -> None:
    if len(argv) < 2 or argv[1] not in TARGETS:
        sys.exit("usage: targets.py {%s} [libFuzzer args | --replay FILES...]" % ",".join(TARGETS))
    target = at_some_level(TARGETS[argv[1]])
    if len(argv) > 2 and argv[2] == "--replay":  # no atheris needed; every input at every level
        load()
        for path in iter_files(argv[3:]):
            with open(path, "rb") as f:
                data = f.read()
            for level in LEVELS or ("",):
                if level:
                    set_level(level)
                TARGETS[argv[1]](data)
        return
    import atheris

    # The compiled code reports its comparisons (GCC -fsanitize-coverage=trace-cmp, see
    # build_asan.sh). Python code gets atheris' bytecode coverage only where it is the subject
    # (the Connection's logic): it costs ~4x in executions. FUZZ_PY_COVERAGE=all instruments the
    # reference backend too.
    include = PY_COVERAGE.get(argv[1], [])
    if os.environ.get("FUZZ_PY_COVERAGE") == "all":
        include = ["wscodec", "tests"]
    if include:
        with atheris.instrument_imports(include=include):
            load()
    else:
        load()
    # internal_libfuzzer: import the libFuzzer copy that env.sh preloaded (the same file, so the
    # same instance), not core_without_libfuzzer, whose symbols would clash with it.
    atheris.Setup([argv[0]] + argv[2:], target, internal_libfuzzer=True)
    atheris.Fuzz()


if __name__ == "__main__":
    main(sys.argv)
