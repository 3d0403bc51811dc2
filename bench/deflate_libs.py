"""permessage-deflate backends compared: stdlib zlib, zlib-ng, ISA-L (isal) on WebSocket messages.

    PYTHONPATH=src python bench/deflate_libs.py [--seconds 0.5] [--json out.json]

A measurement script, not a timed test. For JSON-like messages of 1 KiB and 64 KiB, each library
compresses a stream of distinct messages the way permessage-deflate does (one raw-deflate context
per connection, a sync flush per message, context takeover) and inflates it back, and we report:

* ratio: compressed bytes / message bytes (lower is better);
* compress / decompress MB/s, counted in *uncompressed* bytes;
* memory of one compressor and one decompressor (RSS growth over many live objects, each used
  once, divided by their count), at the window/memLevel settings measured;
* interop: every stream inflates with stdlib zlib at exactly the negotiated window, output taken
  in small steps so that no back reference can escape the window: repeated random blocks 1.5
  windows long (a library that ignored wbits would fail) and JSON. Raw deflate has no 8-bit
  window, so 8 is compressed with 9: zlib and zlib-ng never reach further back than
  2**bits - 262 bytes (250 at 9 bits), isal reaches the whole 512 (wscodec uses the stdlib
  for an 8-bit window).

Missing libraries (``pip install zlib-ng isal``) are skipped.
"""
from __future__ import annotations

import argparse
import importlib
import json
import os
import random
import subprocess
import sys
import time
import zlib
from typing import Any, Dict, List, Optional, Tuple

TAIL = b"\x00\x00\xff\xff"


def libraries() -> List[Tuple[str, Any, List[int]]]:
    """(name, module, levels to measure)."""
    out: List[Tuple[str, Any, List[int]]] = [("zlib " + zlib.ZLIB_RUNTIME_VERSION, zlib, [1, 6])]
    for name, module, levels in (("zlib-ng", "zlib_ng.zlib_ng", [1, 6]), ("isal", "isal.isal_zlib", [0, 1, 2])):
        try:
            mod = importlib.import_module(module)
        except ImportError:
            print("(%s not installed: skipped)" % name, file=sys.stderr)
            continue
        version = getattr(mod, "ZLIBNG_VERSION", None) or getattr(importlib.import_module(module.split(".")[0]),
                                                                  "__version__", "?")
        out.append(("%s %s" % (name, version), mod, levels))
    return out


def json_messages(size: int, count: int, seed: int = 1) -> List[bytes]:
    """Distinct JSON documents of about ``size`` bytes: a feed of records like a trading or chat
    app sends (keys repeat, values vary)."""
    rng = random.Random(seed)
    words = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliet",
             "kilo", "lima", "mike", "november", "oscar", "papa", "quebec", "romeo", "sierra", "tango"]
    msgs = []
    for m in range(count):
        records: List[Dict[str, Any]] = []
        doc: Dict[str, Any] = {"type": "update", "seq": m, "records": records}
        while len(json.dumps(doc)) < size:
            records.append({
                "id": rng.randrange(10**9),
                "user": rng.choice(words) + "_" + str(rng.randrange(1000)),
                "price": round(rng.uniform(1, 1000), 2),
                "qty": rng.randrange(1, 500),
                "side": rng.choice(["buy", "sell"]),
                "ts": 1700000000000 + rng.randrange(10**7),
                "tags": rng.sample(words, 3),
                "active": rng.random() < 0.5,
            })
        msgs.append(json.dumps(doc, separators=(",", ":")).encode()[:size])
    return msgs


def small_messages(size: int, count: int, seed: int = 1) -> List[bytes]:
    """Distinct small JSON events (a chat or ticker feed): same keys, different values."""
    rng = random.Random(seed)
    words = json_messages(1024, 1)[0].decode().replace('"', " ").replace(",", " ").split()
    out = []
    for i in range(count):
        doc = {"t": rng.choice(["msg", "ack", "tick"]), "id": rng.randrange(10**6), "body": ""}
        while len(json.dumps(doc, separators=(",", ":"))) < size:
            doc["body"] += rng.choice(words) + " "
        out.append(json.dumps(doc, separators=(",", ":")).encode()[:size])
    return out


def compress_all(mod: Any, level: int, wbits: int, mem_level: int, msgs: List[bytes]) -> List[bytes]:
    c = mod.compressobj(level, mod.DEFLATED, -wbits, mem_level)
    out = []
    for m in msgs:
        data = c.compress(m) + c.flush(mod.Z_SYNC_FLUSH)
        assert data.endswith(TAIL)
        out.append(data[:-4])
    return out


def decompress_all(mod: Any, wbits: int, payloads: List[bytes], limit: int) -> List[bytes]:
    d = mod.decompressobj(-wbits)
    out = []
    for p in payloads:
        data = d.decompress(p, limit)
        data += d.decompress(TAIL, limit)
        out.append(data)
    return out


def timed(fn: Any, seconds: float) -> float:
    """Best seconds per call of ``fn()`` over repeats filling about ``seconds``."""
    fn()
    best, spent = float("inf"), 0.0
    while spent < seconds:
        t0 = time.perf_counter()
        fn()
        dt = time.perf_counter() - t0
        best, spent = min(best, dt), spent + dt
    return best


def rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def memory_per_object(lib_index: int, kind: str, wbits: int, mem_level: int, n: int = 200) -> float:
    """RSS growth per live object (level 1, used once on a 64 KiB JSON message), in a fresh
    interpreter (a used allocator would hide it)."""
    code = """
import sys
sys.path.insert(0, %r)
import deflate_libs as b
lib, mod, levels = b.libraries()[%d]
msg = b.json_messages(65536, 1)[0]
payload = b.compress_all(b.zlib, 6, %d, 8, [msg])[0] + b.TAIL
def make():
    if %r == 'c':
        c = mod.compressobj(1, mod.DEFLATED, -%d, %d)
        c.compress(msg); c.flush(mod.Z_SYNC_FLUSH)
        return c
    d = mod.decompressobj(-%d)
    d.decompress(payload)
    return d
make()
before = b.rss()
keep = [make() for _ in range(%d)]
print((b.rss() - before) / %d)
""" % (os.path.dirname(os.path.abspath(__file__)), lib_index, wbits, kind, wbits, mem_level, wbits, n, n)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    return float(out)


def strict_inflate(payloads: List[bytes], bits: int) -> List[bytes]:
    """The stdlib inflating with a window of exactly ``bits``, 16 output bytes per call: inside
    one big output buffer zlib follows references beyond the window, this way it cannot."""
    d = zlib.decompressobj(-bits)
    out = []
    for p in payloads:
        data, parts = p + TAIL, []
        while True:
            chunk = d.decompress(data, 16)
            parts.append(chunk)
            data = d.unconsumed_tail
            if not chunk and not data:
                break
        out.append(b"".join(parts))
    return out


def interop(mod: Any, level: int) -> str:
    """'ok' or what broke: stdlib inflates the library's output at the window it was made for."""
    rng = random.Random(7)
    broken = []
    for bits in range(8, 16):
        cbits = max(bits, 9)  # raw deflate has no 8: 9 is used (see the module docstring)
        block = bytes(rng.randrange(256) for _ in range(3 << (bits - 1)))  # 1.5 windows
        msgs = [block + block, json_messages(1024, 1, seed=bits)[0] * 3, block * 3]
        try:
            payloads = compress_all(mod, level, cbits, 8, msgs)
        except Exception as exc:  # noqa: BLE001 - reported
            return "wbits %d: %s" % (cbits, exc)
        try:
            if strict_inflate(payloads, bits) != msgs:
                broken.append("%d (round trip differs)" % bits)
        except zlib.error:
            broken.append(str(bits))
    return "ok" if not broken else "window exceeded at bits " + ", ".join(broken)


def measure(seconds: float) -> List[Dict[str, Any]]:
    rows = []
    for size, count in ((1024, 256), (65536, 16)):
        msgs = json_messages(size, count)
        total = sum(map(len, msgs))
        for lib, mod, levels in libraries():
            for level in levels:
                for wbits, mem_level in ((15, 8), (12, 5)):
                    payloads = compress_all(mod, level, wbits, mem_level, msgs)
                    assert decompress_all(zlib, wbits, payloads, 0) == msgs, (lib, level)
                    tc = timed(lambda: compress_all(mod, level, wbits, mem_level, msgs), seconds)
                    td = timed(lambda: decompress_all(mod, wbits, payloads, 1 << 24), seconds)
                    rows.append(dict(lib=lib, size=size, level=level, wbits=wbits, mem_level=mem_level,
                                     ratio=sum(map(len, payloads)) / total,
                                     comp_mbs=total / tc / 1e6, decomp_mbs=total / td / 1e6))
    return rows


def memory_rows() -> List[Dict[str, Any]]:
    rows = []
    for i, (lib, mod, levels) in enumerate(libraries()):
        for wbits, mem_level in ((15, 8), (15, 5), (12, 5), (9, 5)):
            rows.append(dict(lib=lib, level=1, wbits=wbits, mem_level=mem_level,
                             compressor_kib=memory_per_object(i, "c", wbits, mem_level) / 1024,
                             decompressor_kib=memory_per_object(i, "d", wbits, mem_level) / 1024))
    return rows


def threshold_rows(seconds: float) -> List[Dict[str, Any]]:
    """Small messages: bytes saved and time spent per message, with and without context takeover
    (the data behind the default compression threshold)."""
    rows = []
    for size in (16, 32, 48, 64, 96, 128, 256):
        msgs = small_messages(size, 200, seed=size)
        for lib, mod, levels in libraries():
            level = 1
            for takeover in (True, False):
                def run() -> List[bytes]:
                    if takeover:
                        return compress_all(mod, level, 12, 5, msgs)
                    return [compress_all(mod, level, 12, 5, [m])[0] for m in msgs]

                payloads = run()
                t = timed(run, seconds / 4)
                rows.append(dict(lib=lib, size=size, takeover=takeover,
                                 saved=(sum(map(len, msgs)) - sum(map(len, payloads))) / len(msgs),
                                 us=t / len(msgs) * 1e6))
    return rows


def main(argv: Optional[List[str]] = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seconds", type=float, default=0.5, help="time budget per measurement")
    p.add_argument("--json", help="also write the rows here")
    args = p.parse_args(argv)
    print("interop (stdlib inflates the output at the negotiated window, 8..15):")
    for lib, mod, levels in libraries():
        print("  %-22s %s" % (lib, ", ".join("level %d: %s" % (lv, interop(mod, lv)) for lv in levels)))
    rows = measure(args.seconds)
    print("\n| library | msg | level | wbits/memLevel | ratio | compress MB/s | decompress MB/s |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for r in rows:
        print("| %s | %d KiB | %d | %d/%d | %.3f | %.0f | %.0f |" % (
            r["lib"], r["size"] // 1024, r["level"], r["wbits"], r["mem_level"], r["ratio"], r["comp_mbs"],
            r["decomp_mbs"]))
    mem = memory_rows()
    print("\n| library | level | wbits/memLevel | compressor KiB | decompressor KiB |")
    print("| --- | --- | --- | --- | --- |")
    for r in mem:
        print("| %s | %d | %d/%d | %.0f | %.0f |" % (r["lib"], r["level"], r["wbits"], r["mem_level"],
                                                    r["compressor_kib"], r["decompressor_kib"]))
    small = threshold_rows(args.seconds)
    print("\n| library (level 1, wbits 12) | msg bytes | context takeover | bytes saved/msg | us/msg |")
    print("| --- | --- | --- | --- | --- |")
    for r in small:
        print("| %s | %d | %s | %.1f | %.1f |" % (r["lib"], r["size"], "yes" if r["takeover"] else "no",
                                                  r["saved"], r["us"]))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"speed": rows, "memory": mem, "small": small}, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
