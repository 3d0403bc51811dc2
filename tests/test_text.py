"""Text messages: decode_text, encode_text, TextDecoder and build_frame with a str payload.

Every test runs on both backends; the compiled one also at every CPU level this machine has (the
hook of tests/test_dispatch.py) and under WSCODEC_CPU in subprocesses. Inputs: each str kind
(ASCII, Latin-1, 2-byte, 3-byte, 4-byte, mixed) at lengths around the 16/32/64-byte vector
boundaries, and every invalid class at every position around them.
"""
from __future__ import annotations

import os
import random
import subprocess
import sys
from typing import Any, Iterator, List, Tuple

import pytest

from wscodec.errors import InvalidUTF8

from . import oracles
from .test_dispatch import c, level  # noqa: F401  (fixtures: the compiled modules, each CPU level)

ALPHABETS = {
    "ascii": ["a", "~", "\x00", "\x7f", "{", "0"],
    "latin1": ["a", "\x80", "\xe9", "\xff", " "],
    "two": ["\u0100", "\u07ff", "\xe9", "a"],
    "chinese": ["\u6211", "\u4eec", "\u4e2d", "\u6587", "\u3002", "\uff0c"],
    "bmp": ["\u0800", "\ud7ff", "\ue000", "\uffff", "\u20ac", "a", "\u0100"],
    "emoji": ["\U0001f600", "\U0001f44d", "\U0010ffff", "\U00010000"],
    "mixed": ["a", "\xe9", "\u0100", "\u6211", "\U0001f600", " ", "\U0010ffff"],
}
# Byte strings invalid where they stand: stray continuation, overlong, surrogate, > U+10FFFF,
# impossible bytes, a lead byte followed by ASCII or another lead.
INVALID = {
    "stray": [b"\x80", b"\xbf"],
    "overlong": [b"\xc0\x80", b"\xc1\xbf", b"\xe0\x80\x80", b"\xe0\x9f\xbf", b"\xf0\x80\x80\x80", b"\xf0\x8f\xbf\xbf"],
    "surrogate": [b"\xed\xa0\x80", b"\xed\xbf\xbf"],
    "too_large": [b"\xf4\x90\x80\x80", b"\xf5\x80\x80\x80", b"\xf7\xbf\xbf\xbf", b"\xff", b"\xfe"],
    "cut": [b"\xc2a", b"\xe2\x82a", b"\xf0\x9f\x98a", b"\xc2\xc2", b"\xe2\x82\xe2", b"\xf0\x9f\x98\xf0"],
}
TRUNCATED = [b"\xc2", b"\xe0\xa0", b"\xe2\x82", b"\xed\x9f", b"\xf0\x9f", b"\xf0\x9f\x98", b"\xf4\x8f\xbf"]
LENGTHS = [0, 1, 2, 3, 5, 11, 12, 13, 15, 16, 17, 31, 32, 33, 47, 48, 49, 63, 64, 65, 95, 96, 97, 127, 128, 129,
           191, 192, 193, 255, 256, 257, 1000]


def text_of(rng: random.Random, alphabet: str, nbytes: int) -> str:
    """A str of the alphabet whose UTF-8 is about ``nbytes`` long (exactly, for 1-byte alphabets)."""
    out: List[str] = []
    size = 0
    while size < nbytes:
        ch = rng.choice(ALPHABETS[alphabet])
        out.append(ch)
        size += len(ch.encode("utf-8"))
    return "".join(out)


def texts(seed: int = 6455) -> Iterator[str]:
    rng = random.Random(seed)
    for alphabet in ALPHABETS:
        for n in LENGTHS:
            yield text_of(rng, alphabet, n)
        # one character of a wider kind late in long text: the kind is decided by the whole input
        for n in (70, 130, 5000):
            yield "x" * n + rng.choice(ALPHABETS[alphabet])


def invalid_inputs(seed: int = 1007) -> Iterator[bytes]:
    """Every invalid class at every position around 16/32/64-byte boundaries, after ASCII or
    after multi-byte text, followed by more text; and truncated sequences at the end."""
    rng = random.Random(seed)
    for boundary in (16, 32, 48, 64, 128, 192):
        for pos in range(boundary - 5, boundary + 4):
            for prefix_alphabet in ("ascii", "mixed"):
                prefix = text_of(rng, prefix_alphabet, pos).encode()[:pos]
                prefix = prefix.decode("utf-8", "ignore").encode()
                prefix += b"y" * (pos - len(prefix))
                suffix = text_of(rng, rng.choice(list(ALPHABETS)), rng.randrange(0, 90)).encode()
                for group in INVALID.values():
                    yield prefix + rng.choice(group) + suffix
                yield prefix + rng.choice(TRUNCATED)
    for n in (2000, 70000):
        data = text_of(rng, "mixed", n).encode()
        at = rng.randrange(len(data))
        yield data[:at] + b"\xed\xa0\x80" + data[at:]


def decode_outcome(fn: Any, data: Any) -> Tuple:
    try:
        result = fn(data)
    except InvalidUTF8 as exc:
        return ("error", exc.offset, exc.close_code, exc.reason)
    backend_name = "c" if getattr(fn, "__module__", "").startswith("wscodec._c") else "python"
    return ("ok", result, oracles.str_size(backend_name, result))  # the same compact kind as CPython's


def expected_outcome(data: bytes) -> Tuple:
    offset = oracles.utf8_error_offset(data)
    if offset is None:
        text = data.decode("utf-8")
        return ("ok", text, oracles.compact_size(text))
    reason = "incomplete UTF-8 sequence at the end of a text message" if offset == len(data) else \
        "invalid UTF-8 in text message"
    return ("error", offset, 1007, reason)


def check_all(ns: Any) -> None:
    """decode_text and encode_text over every sample, against CPython's codec and the oracle."""
    for text in texts():
        data = text.encode("utf-8")
        size = oracles.compact_size(text)
        assert decode_outcome(ns.decode_text, data) == ("ok", text, size), text[:40]
        assert decode_outcome(ns.decode_text, memoryview(b"\x00" + data)[1:]) == ("ok", text, size)
        assert ns.encode_text(text) == data, text[:40]
    for data in invalid_inputs():
        assert decode_outcome(ns.decode_text, data) == expected_outcome(data), data[:80]
    rng = random.Random(0xD800)
    for text in list(texts())[::3]:  # a lone surrogate anywhere, in the vector loops and the tails
        for pos in {0, len(text) // 2, len(text), rng.randrange(len(text) + 1)}:
            bad = text[:pos] + rng.choice(["\ud800", "\udbff", "\udc00", "\udfff"]) + text[pos:]
            assert encode_error(ns, bad) == encode_error(None, bad), (pos, bad[:40])


def encode_error(ns: Any, text: str) -> Tuple:
    """The UnicodeEncodeError's args of ns.encode_text(text) (ns None: of str.encode)."""
    try:
        ns.encode_text(text) if ns is not None else text.encode("utf-8")
    except UnicodeEncodeError as exc:
        return exc.args
    raise AssertionError("no UnicodeEncodeError")


def test_decode_and_encode(backend):
    check_all(backend)


def test_decode_accepts_buffers(backend):
    data = "h\xe9llo \u6211 \U0001f600".encode()
    for kind in (bytes, bytearray, memoryview):
        assert backend.decode_text(kind(data)) == data.decode()
    with pytest.raises(TypeError):
        backend.decode_text("not bytes")


def test_encode_matches_str_encode_errors(backend):
    for text in ("a\ud800", "\udfff" + "x" * 100, "\u6211" * 40 + "\udc80", "\U0001f600" * 20 + "\ud83d"):
        assert encode_error(backend, text) == encode_error(None, text)
    with pytest.raises(TypeError):
        backend.encode_text(b"bytes")

    class Sub(str):
        def encode(self, *args: Any) -> bytes:  # encode_text is str.encode, not the override
            return b"overridden"

    assert backend.encode_text(Sub("\u6211")) == "\u6211".encode()


def decoder_run(decoder: Any, chunks: List[bytes], final: bool = True) -> Tuple:
    """What a TextDecoder did for one message: the text, or the error with its chunk index."""
    out = []
    for i, chunk in enumerate(chunks):
        try:
            out.append(decoder.decode(chunk, final=final and i == len(chunks) - 1))
        except InvalidUTF8 as exc:
            return ("error", i, exc.offset, exc.reason)
    return ("ok", "".join(out))


def expected_run(chunks: List[bytes]) -> Tuple:
    """The chunk where the first impossible byte arrives (or the last, for a truncated end)."""
    data = b"".join(chunks)
    outcome = expected_outcome(data)
    if outcome[0] == "ok":
        return ("ok", outcome[1])
    offset, fed = outcome[1], 0
    for i, chunk in enumerate(chunks):
        fed += len(chunk)
        if offset < fed:
            return ("error", i, offset, outcome[3])
    return ("error", len(chunks) - 1, offset, outcome[3])


def split_samples(seed: int) -> List[bytes]:
    rng = random.Random(seed)
    samples = [text_of(rng, a, n).encode() for a in ("mixed", "emoji", "chinese", "latin1") for n in (9, 70, 140)]
    return samples + list(invalid_inputs(seed))[::23]


def check_splits(ns: Any, samples: List[bytes]) -> None:
    decoder = ns.TextDecoder()
    for data in samples:
        for cut in range(len(data) + 1):
            chunks = [data[:cut], data[cut:]]
            assert decoder_run(decoder, chunks) == expected_run(chunks), (cut, data)
            decoder.reset()
        for a in range(0, len(data) + 1, 3):  # three chunks, the middle one short
            chunks = [data[:a], data[a:a + 2], data[a + 2:]]
            assert decoder_run(decoder, chunks) == expected_run(chunks), (a, data)
            decoder.reset()


def test_decoder_every_split(backend):
    check_splits(backend, split_samples(3))


def test_decoder_state(backend):
    d = backend.TextDecoder()
    assert d.decode(b"ab\xe6\x88") == "ab" and d.offset == 4
    assert d.decode(b"") == "" and d.decode(b"\x91") == "\u6211"
    assert d.decode(b"c", final=True) == "c" and d.offset == 0  # final: ready for the next message
    # an impossible prefix fails at once, with the offset counted from the message start
    assert d.decode(b"xyz") == "xyz"
    with pytest.raises(InvalidUTF8) as exc:
        d.decode(b"\xed\xa0")
    assert exc.value.offset == 4 and exc.value.close_code == 1007
    with pytest.raises(InvalidUTF8) as again:  # sticky until reset
        d.decode(b"ok")
    assert again.value.offset == 4
    d.reset()
    assert d.decode(b"ok", final=True) == "ok"
    # a message that ends inside a character fails at its end
    assert d.decode(b"\xf0\x9f") == ""
    with pytest.raises(InvalidUTF8) as end:
        d.decode(b"\x98", final=True)
    assert end.value.offset == 3 and end.value.reason.startswith("incomplete")


def test_build_frame_with_str(backend):
    rng = random.Random(5)
    for text in list(texts())[::7]:
        data = text.encode()
        assert backend.build_frame(1, text) == backend.build_frame(1, data)
        key = rng.randbytes(4)
        assert backend.build_frame(1, text, mask=key, fin=False) == backend.build_frame(1, data, mask=key, fin=False)
    with pytest.raises(UnicodeEncodeError):
        backend.build_frame(1, "a\ud800")
    with pytest.raises(ValueError):
        backend.build_frame(8 + 1, "\u6211" * 42)  # 126 bytes: over the control frame limit
    assert backend.build_frame(9, "\u6211" * 41) == backend.build_frame(9, ("\u6211" * 41).encode())


# -- the compiled kernels at every CPU level -------------------------------------------------------

def test_every_level(c, level):  # noqa: F811
    from wscodec._c import frames, text

    class Ns:
        pass

    ns = Ns()
    ns.decode_text, ns.encode_text, ns.TextDecoder = text.decode_text, text.encode_text, text.TextDecoder
    ns.build_frame = frames.build_frame
    check_all(ns)
    check_splits(ns, split_samples(11)[::3])


def test_every_level_large_inputs(c, level):  # noqa: F811
    """Sizes past the GIL threshold, and the kind decided by one character at the very end."""
    from wscodec._c import text

    info = c.mask.cpu_info()
    assert info["text"] in (level, "avx512-vbmi2" if level == "avx512" else level)
    threshold = info["nogil_utf8"]
    rng = random.Random(level)
    for alphabet in ALPHABETS:
        s = text_of(rng, alphabet, threshold + 100)
        for tail in ("", "\xe9", "\u6211", "\U0001f600"):
            full = s + tail
            data = full.encode()
            assert text.decode_text(data) == full and text.encode_text(full) == data
            assert sys.getsizeof(text.decode_text(data)) == oracles.compact_size(full)
        bad = data[:-1]
        assert decode_outcome(text.decode_text, bad) == expected_outcome(bad)


SUBPROCESS_CHECK = """
import random, sys
from wscodec._c import mask, text
assert mask.cpu_level() == sys.argv[1], mask.cpu_level()
rng = random.Random(1)
chars = ["a", "\\xe9", "\\u0100", "\\u6211", "\\U0001f600"]
for n in list(range(0, 200)) + [1000, 40000]:
    s = "".join(rng.choice(chars[:rng.randrange(1, 6)]) for _ in range(n))
    b = s.encode()
    assert text.decode_text(b) == s and text.encode_text(s) == b, (n, s)
print("ok")
"""


def test_wscodec_cpu_levels(c):  # noqa: F811
    for name in c.mask._cpu_levels():
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path), WSCODEC_CPU=name)
        env.pop("WSCODEC_NO_EXTENSIONS", None)
        result = subprocess.run([sys.executable, "-c", SUBPROCESS_CHECK, name], env=env, capture_output=True,
                                text=True, timeout=120)
        assert result.returncode == 0 and result.stdout.strip() == "ok", (name, result.stderr)
