"""Raw frame streams for the integration tests: mostly-valid conversations with occasional
corruption, so that both long accepted paths and every kind of protocol error are exercised.

Frames are built here by hand (not with wscodec) so that invalid ones (reserved opcodes, RSV bits,
non-minimal lengths, wrong mask bits, bad close payloads) can be produced.
"""

from __future__ import annotations

import importlib
import itertools
import struct
import threading
import types
from typing import Callable, Iterator, List, Optional, Sequence, Tuple

import pytest
from hypothesis import strategies as st

from ._peers import skip_or_fail

REQUIRE_PEERS = "WSCODEC_REQUIRE_PEERS"


def require_library(module: str, distribution: str) -> types.ModuleType:
    """Import the library an integration test module needs: skip the module with the reason when
    it is not installed, or fail when WSCODEC_REQUIRE_PEERS=1 (CI must not skip silently)."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        skip_or_fail(REQUIRE_PEERS, "%s is not installed (%s)" % (distribution, exc))
        raise  # not reached: skip_or_fail raises

def assert_version_gate(
    integration: types.ModuleType, backend: types.SimpleNamespace, monkeypatch: pytest.MonkeyPatch,
    library: types.ModuleType, version: str, *, attribute: str = "__version__", match: Optional[str] = None,
) -> None:
    """With ``library`` claiming an unsupported ``version``, installing is refused (nothing is
    installed) unless forced."""
    from wscodec import integrations

    monkeypatch.setattr(library, attribute, version)
    with pytest.raises(integrations.UnsupportedVersion, match=match):
        integration.install(codec=backend)
    assert integration.installed() is None
    assert integration.install(codec=backend, force=True)


CONTROL = (0x8, 0x9, 0xA)
RESERVED = (0x3, 0x4, 0x5, 0x6, 0x7, 0xB, 0xC, 0xD, 0xE, 0xF)


def xor(data: bytes, key: bytes) -> bytes:
    n = len(data)
    stream = (key * (n // 4 + 1))[:n]
    return (int.from_bytes(data, "little") ^ int.from_bytes(stream, "little")).to_bytes(n, "little")


def encode(
    opcode: int,
    payload: bytes,
    *,
    fin: bool = True,
    rsv: Tuple[bool, bool, bool] = (False, False, False),
    key: Optional[bytes] = None,
    length_form: str = "minimal",
    mask_bit: Optional[bool] = None,
) -> bytes:
    """One frame. ``length_form``: "minimal", "16" or "64" (possibly non-minimal), "msb" (64-bit
    length with the top bit set: header only)."""
    b0 = (
        (0x80 if fin else 0)
        | (0x40 if rsv[0] else 0)
        | (0x20 if rsv[1] else 0)
        | (0x10 if rsv[2] else 0)
        | opcode
    )
    masked = key is not None if mask_bit is None else mask_bit
    m = 0x80 if masked else 0
    n = len(payload)
    if length_form == "msb":
        return bytes((b0, m | 127)) + struct.pack("!Q", (1 << 63) | n)
    if length_form == "16" and n < 65536:
        head = bytes((b0, m | 126)) + struct.pack("!H", n)
    elif length_form == "64" or n >= 65536:
        head = bytes((b0, m | 127)) + struct.pack("!Q", n)
    elif n < 126:
        head = bytes((b0, m | n))
    else:
        head = bytes((b0, m | 126)) + struct.pack("!H", n)
    if masked:
        k = key if key is not None else b"\x00\x00\x00\x00"
        return head + k + xor(payload, k)
    return head + payload


#: Invalid or truncated UTF-8 to insert into text: bad bytes, overlong, surrogate, over U+10FFFF,
#: and sequences cut short.
BAD_UTF8 = [b"\xff", b"\x80", b"\xc0\x80", b"\xed\xa0\x80", b"\xf4\x90", b"\xe0\x80", b"\xe2\x82", b"\xf0\x9f\x98"]


@st.composite
def text_and_corruption(draw) -> Tuple[str, bytes, bytes, int, int]:
    """(a str without surrogates, its UTF-8, the same with BAD_UTF8 at any position, a split
    point for each of the two payloads)."""
    text = draw(st.text(max_size=30))
    valid = text.encode()
    pos = draw(st.integers(0, len(valid)))
    bad = valid[:pos] + draw(st.sampled_from(BAD_UTF8)) + valid[pos:]
    return text, valid, bad, draw(st.integers(0, len(valid))), draw(st.integers(0, len(bad)))


def text_frames(payload: bytes, cut: int, key: Optional[bytes] = None) -> bytes:
    """A text message in one frame (``cut`` at its end) or two frames split at ``cut``."""
    if cut >= len(payload):
        return encode(0x1, payload, key=key)
    return encode(0x1, payload[:cut], fin=False, key=key) + encode(0x0, payload[cut:], key=key)


small_bytes = st.binary(max_size=40)
#: 64 KiB and more around the 16/64-bit length boundary, cheap to draw (a repeated pattern).
big_bytes = st.builds(
    lambda n, b: (b * (n // len(b) + 1))[:n], st.integers(65530, 70000), st.binary(min_size=1, max_size=8)
)
payloads = st.one_of(small_bytes, st.binary(min_size=100, max_size=300), big_bytes)
keys = st.binary(min_size=4, max_size=4)
close_payloads = st.one_of(
    st.just(b""),
    st.binary(min_size=1, max_size=1),
    st.builds(
        lambda code, reason: struct.pack("!H", code) + reason,
        st.sampled_from(
            [
                1000,
                1001,
                1002,
                1003,
                1004,
                1005,
                1006,
                1007,
                1011,
                1014,
                1015,
                1016,
                2999,
                3000,
                4999,
                5000,
                0,
                999,
            ]
        ),
        st.one_of(st.text(max_size=30).map(lambda s: s.encode()), st.binary(max_size=10)),
    ),
    st.binary(min_size=126, max_size=130),
)


@st.composite
def conversation(draw: st.DrawFn, masked: bool) -> bytes:
    """Messages (text and binary, fragmented anywhere, even inside a UTF-8 sequence) with control
    frames between the fragments, maybe a close frame, maybe corruption."""
    frames: List[bytes] = []

    def key() -> Optional[bytes]:
        return draw(keys) if masked else None

    for _ in range(draw(st.integers(0, 6))):
        text = draw(st.booleans())
        data = draw(st.text(max_size=60)).encode() if text else draw(payloads)
        if text and draw(st.integers(0, 9)) == 0:
            data += draw(st.sampled_from([b"\xff", b"\xed\xa0\x80", b"\xc3", b"\xf4\x90\x80\x80"]))
        cuts = sorted(draw(st.lists(st.integers(0, len(data)), max_size=3)))
        pieces = [data[a:b] for a, b in zip([0] + cuts, cuts + [len(data)])]
        for i, piece in enumerate(pieces):
            opcode = (0x1 if text else 0x2) if i == 0 else 0x0
            frames.append(
                encode(
                    opcode,
                    piece,
                    fin=i == len(pieces) - 1,
                    key=key(),
                    length_form=draw(st.sampled_from(["minimal"] * 8 + ["16", "64"])),
                )
            )
            if draw(st.integers(0, 4)) == 0:
                frames.append(
                    encode(draw(st.sampled_from([0x9, 0xA])), draw(st.binary(max_size=125)), key=key())
                )
    if draw(st.booleans()):
        frames.append(encode(0x8, draw(close_payloads), key=key()))
        if draw(st.booleans()):
            frames.append(encode(0x2, b"after close", key=key()))
    for _ in range(draw(st.integers(0, 2))):
        frames.insert(draw(st.integers(0, len(frames))), draw(odd_frame(masked)))
    stream = b"".join(frames)
    if stream and draw(st.integers(0, 5)) == 0:  # flip one bit anywhere
        pos = draw(st.integers(0, len(stream) - 1))
        stream = stream[:pos] + bytes((stream[pos] ^ (1 << draw(st.integers(0, 7))),)) + stream[pos + 1 :]
    return stream


@st.composite
def odd_frame(draw: st.DrawFn, masked: bool) -> bytes:
    """A frame that is unusual or invalid in one respect."""
    kind = draw(st.sampled_from(["opcode", "rsv", "mask", "length", "msb", "control", "cont", "plain"]))
    opcode = draw(st.sampled_from([0x0, 0x1, 0x2, 0x8, 0x9, 0xA]))
    payload = draw(small_bytes)
    key = draw(keys) if masked else None
    if kind == "opcode":
        return encode(draw(st.sampled_from(RESERVED)), payload, key=key)
    if kind == "rsv":
        rsv = draw(st.tuples(st.booleans(), st.booleans(), st.booleans()))
        return encode(opcode, payload, rsv=rsv, key=key)
    if kind == "mask":
        return encode(opcode, payload, key=None if masked else draw(keys))
    if kind == "length":
        return encode(opcode, payload, key=key, length_form=draw(st.sampled_from(["16", "64"])))
    if kind == "msb":
        return encode(opcode, payload, key=key, length_form="msb")
    if kind == "control":
        return encode(
            draw(st.sampled_from(CONTROL)), draw(st.binary(max_size=130)), fin=draw(st.booleans()), key=key
        )
    if kind == "cont":
        return encode(0x0, payload, fin=draw(st.booleans()), key=key)
    return encode(opcode, payload, fin=draw(st.booleans()), key=key)


@st.composite
def chunked(draw: st.DrawFn, stream: bytes) -> List[bytes]:
    """``stream`` cut into reads: whole, at random points, or byte by byte (short streams)."""
    how = draw(st.sampled_from(["whole", "random", "random", "bytes"]))
    if how == "whole" or not stream:
        return [stream]
    if how == "bytes" and len(stream) <= 400:
        return [stream[i : i + 1] for i in range(len(stream))]
    cuts = sorted(set(draw(st.lists(st.integers(1, max(1, len(stream) - 1)), max_size=12))))
    return [stream[a:b] for a, b in zip([0] + cuts, cuts + [len(stream)])]


def counter_bytes() -> Callable[[int], bytes]:
    """A deterministic stand-in for os.urandom / secrets.token_bytes."""
    counter: Iterator[int] = itertools.count(1)

    def fake(n: int) -> bytes:
        return bytes((next(counter) * 37 + i * 11) & 0xFF for i in range(n))

    return fake


def differential(
    run: Callable[[], object], install: Callable[[], object], uninstall: Callable[[], object]
) -> object:
    """run() without the integration, then with it; assert both give the same; return it."""
    uninstall()
    expected = run()
    install()
    try:
        actual = run()
    finally:
        uninstall()
    assert actual == expected
    return expected


def toggle_during(
    traffic: Callable[[], object], install: Callable[[], object], uninstall: Callable[[], object]
) -> List[BaseException]:
    """install()/uninstall() 60 times from each of 4 threads while 2 threads run ``traffic()``
    over and over, each run compared with a first run; returns what went wrong (an empty list)."""
    expected = traffic()
    errors: List[BaseException] = []
    stop = threading.Event()

    def toggler(seed: int) -> None:
        try:
            for i in range(60):
                if (i + seed) % 3:
                    install()
                else:
                    uninstall()
        except BaseException as exc:  # pragma: no cover - reported by the caller
            errors.append(exc)

    def reader() -> None:
        try:
            while not stop.is_set():
                assert traffic() == expected
        except BaseException as exc:  # pragma: no cover - reported by the caller
            errors.append(exc)

    togglers = [threading.Thread(target=toggler, args=(s,)) for s in range(4)]
    readers = [threading.Thread(target=reader) for _ in range(2)]
    for t in readers + togglers:
        t.start()
    for t in togglers:
        t.join(120)
    stop.set()
    for t in readers:
        t.join(120)
    if any(t.is_alive() for t in togglers + readers):
        errors.append(TimeoutError("a thread did not finish within 120 s"))
    return errors


def describe(exc: BaseException) -> Tuple[str, str]:
    return type(exc).__name__, str(exc)


def kinds(values: Sequence[object]) -> List[str]:
    return [type(v).__name__ for v in values]
