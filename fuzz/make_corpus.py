"""Seed corpora for fuzz/targets.py, made from the unit tests' vectors (tests/test_*.py).

    python fuzz/make_corpus.py OUTDIR      # writes OUTDIR/<target>/<n> (small files)

Each seed is the target's option bytes (see the Reader calls at the top of each target) followed
by the payload, so that the fuzzer starts from well-formed frames, UTF-8 and keys.
"""
from __future__ import annotations

import hashlib
import os
import sys
from typing import Dict, List

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from tests import test_close, test_frames, test_handshake, test_utf8  # noqa: E402
from tests.oracles import encode_frame, encode_header  # noqa: E402

KEY = b"\x37\xfa\x21\x3d"


def client_stream(mask: bool = True) -> List[bytes]:
    """Frame streams a peer might send: whole, fragmented, interleaved control, close."""
    m = KEY if mask else None
    text = "héllo wörld — 你好 🎉".encode()
    return [
        encode_frame(1, b"Hello", mask=m),
        encode_frame(1, text[:5], mask=m, fin=False) + encode_frame(0, text[5:], mask=m),
        encode_frame(2, bytes(300), mask=m) + encode_frame(9, b"ping", mask=m) + encode_frame(10, b"", mask=m),
        encode_frame(2, b"a", mask=m, fin=False) + encode_frame(9, b"x", mask=m) + encode_frame(0, b"b", mask=m),
        encode_frame(8, b"\x03\xe8bye", mask=m),
        encode_frame(8, b"", mask=m) + encode_frame(1, b"after close", mask=m),
        encode_frame(1, b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80", mask=m),
        encode_header(2, (1 << 63) - 1, mask=m),
        encode_header(2, 70000, mask=m, form=64) + bytes(100),
        encode_frame(1, b"a" * 126, mask=m, rsv1=True),
        encode_frame(3, b"", mask=m),
        encode_frame(9, b"p" * 125, mask=m) * 4,
    ]


# one of each str kind, and each kind of character at vector-block boundaries
TEXTS = [t.encode() for t in ("x" * 63 + "\xe9", "\u6211\u4eec" * 40, "ok \U0001f600 \xe9 \u4e2d" * 9, "\U0010ffff" * 17)]


def seeds() -> Dict[str, List[bytes]]:
    utf8 = list(test_utf8.VALID) + [data for data, _ in test_utf8.INVALID]
    headers = [v[0] for v in test_frames.HEADER_VECTORS]
    codes = test_close.EDGES_VALID + test_close.EDGES_INVALID
    keys = [test_handshake.RFC_KEY] + test_handshake.INVALID_KEYS
    out: Dict[str, List[bytes]] = {
        "mask": [bytes([flags, seed]) + KEY + p for flags in (0, 2, 3, 0x20, 0x40) for seed in (0, 7)
                 for p in (b"", b"abc", bytes(range(64)), bytes(1000))],
        "utf8": [bytes([flags, seed]) + d for d in utf8 for flags, seed in ((0, 0), (0x80, 3), (0x20, 9))],
        "text": [bytes([flags, seed]) + d for d in utf8 + TEXTS for flags, seed in ((0, 0), (0x41, 3), (0x28, 9))],
        "header": [bytes([flags]) + h for h in headers for flags in (0, 0x21)],
        "build_frame": [bytes([flags, op, sel]) + KEY + p for flags in (0, 1, 0x40) for op in (3, 4, 10, 11)
                        for sel in (0, 3) for p in (b"", b"payload", bytes(200))],
        "close": [bytes([0, sel]) + code.to_bytes(2, "big") + reason for code in codes
                  for sel in (0, 0x40) for reason in (b"", b"bye", "ü".encode() * 60)],
        "handshake": [bytes([flags]) + k.encode("utf-8") for k in keys for flags in (0, 1)],
        "decoder": [], "connection": [],
    }
    for s in client_stream(True):
        out["decoder"] += [bytes([0x01 | 0x1C, seed, extra]) + s for seed in (0, 5) for extra in (0, 0x4B)]
        out["connection"] += [bytes([0x3F, seed, 0x07]) + s for seed in (0, 5)]
    for s in client_stream(False):
        out["decoder"].append(bytes([0x02, 1, 0]) + s)
    return out


def main(outdir: str) -> None:
    for target, items in seeds().items():
        d = os.path.join(outdir, target)
        os.makedirs(d, exist_ok=True)
        for item in items:
            with open(os.path.join(d, hashlib.sha1(item).hexdigest()[:16]), "wb") as f:
                f.write(item)
        print("%s: %d seeds" % (target, len(items)))


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "fuzz/corpus")
