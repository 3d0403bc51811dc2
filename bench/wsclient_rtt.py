#!/usr/bin/env python3
"""websocket-client round trips with and without ``wscodec.integrations.websocket_client``.

One websocket-client connection (``websocket.create_connection``) to wscodec's own echo server
(``python -m wscodec serve``, a subprocess on 127.0.0.1, compression off) sends a message and
waits for its echo, again and again. For each size and type it reports round trips/s and the
client's CPU microseconds per round trip (``time.process_time``: this process only; the server's
CPU is not counted), without and with the integration, and the ratio. The integration is
installed and uninstalled between measurements on the same connection, rounds alternating
(off/on, then on/off), medians reported, so both see the same background load. The client runs
on the first CPU, the server on the others (``--no-pin`` to leave scheduling alone).

    python bench/wsclient_rtt.py --quick            # < 1 minute
    python bench/wsclient_rtt.py                    # 16 B .. 1 MiB, text and binary
    python bench/wsclient_rtt.py --profile on --size 65536 --text   # cProfile the client

Text messages are ASCII by default (what most JSON is); ``--unicode`` sends text where about a
third of the characters are 2- to 4-byte UTF-8. Needs websocket-client; Linux for pinning.
"""

from __future__ import annotations

import argparse
import os
import re
import selectors
import statistics
import subprocess
import sys
import time
from typing import Dict, List, Optional, Tuple, Union

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SRC = os.path.join(ROOT, "src")
for path in (SRC, ROOT):
    if path not in sys.path:
        sys.path.insert(0, path)

import websocket  # noqa: E402

from bench.e2e_echo import stop_server  # noqa: E402

from wscodec.integrations import websocket_client as integration  # noqa: E402

SIZES = [16, 1024, 64 * 1024, 1024 * 1024]
#: ratio targets (without/with, client CPU per round trip) by (size, text)
TARGETS = {
    (16, False): 1.1, (1024, False): 1.1, (65536, False): 2.0, (1 << 20, False): 3.0,
    (1024, True): 2.0, (65536, True): 10.0, (1 << 20, True): 10.0,
}
Point = Tuple[int, bool]


def start_server(cpus: Optional[set]) -> Tuple[subprocess.Popen, int]:
    """``python -m wscodec serve`` on a free port; returns once it prints that it listens."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("WSCODEC_AUTO_INSTALL")}
    env["PYTHONPATH"] = SRC + os.pathsep + env.get("PYTHONPATH", "")
    cmd = [sys.executable, "-m", "wscodec", "serve", "--host", "127.0.0.1", "--port", "0",
           "--no-compression", "--log-level", "ERROR"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, text=True)
    if cpus:
        os.sched_setaffinity(proc.pid, cpus)
    assert proc.stdout is not None
    deadline = time.monotonic() + 15
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ)
        while sel.select(max(0.0, deadline - time.monotonic())):
            line = proc.stdout.readline()
            found = re.search(r"listening on ws://127\.0\.0\.1:(\d+)", line)
            if found:
                return proc, int(found.group(1))
            if not line:  # EOF: it exited
                break
    proc.kill()
    proc.wait()
    raise RuntimeError("the echo server did not start (exit status %s)" % proc.returncode)


def make_payload(size: int, text: bool, unicode: bool) -> Union[bytes, str]:
    if not text:
        return os.urandom(size)
    if not unicode:
        return "a" * size
    unit = "abcdefghijklmnopqrstuvwxyz é ü € 😀 "  # 36 characters, 46 bytes
    out = (unit * (size // len(unit.encode()) + 1)).encode()[:size]
    return out.decode("utf-8", "ignore")  # cut inside a sequence: drop the partial character


def round_trips(ws: websocket.WebSocket, payload: Union[bytes, str], seconds: float) -> Tuple[int, float, float]:
    """(round trips, wall seconds, client CPU seconds): at least 3, then until ``seconds``."""
    opcode = websocket.ABNF.OPCODE_TEXT if isinstance(payload, str) else websocket.ABNF.OPCODE_BINARY
    n = 0
    c0, t0 = time.process_time(), time.perf_counter()
    while n < 3 or time.perf_counter() - t0 < seconds:
        ws.send(payload, opcode)
        echo = ws.recv()
        n += 1
    c1, t1 = time.process_time(), time.perf_counter()
    if echo != payload:
        raise AssertionError("the echo is not the message sent")
    return n, t1 - t0, c1 - c0


def switch(on: bool) -> None:
    if on:
        integration.install()
    else:
        integration.uninstall()


def measure(url: str, points: List[Point], rounds: int, quick: bool, unicode: bool) -> Dict:
    ws = websocket.create_connection(url, timeout=30)
    samples: Dict[Tuple[Point, bool], List[Tuple[float, float]]] = {}
    try:
        for size, text in points:
            payload = make_payload(size, text, unicode)
            seconds = (0.25 if quick else 0.5) if size < 1 << 20 else (0.6 if quick else 1.2)
            for on in (False, True):  # warm-up
                switch(on)
                round_trips(ws, payload, 0.05)
            for r in range(rounds):
                for on in ((False, True) if r % 2 == 0 else (True, False)):
                    switch(on)
                    n, wall, cpu = round_trips(ws, payload, seconds)
                    samples.setdefault(((size, text), on), []).append((n / wall, cpu * 1e6 / n))
            print("%-12s done" % name((size, text)), flush=True)
    finally:
        integration.uninstall()
        ws.close()
    return {
        key: (statistics.median(s[0] for s in v), statistics.median(s[1] for s in v))
        for key, v in samples.items()
    }


def name(point: Point) -> str:
    size, text = point
    label = "%d B" % size if size < 1024 else ("%d KiB" % (size // 1024) if size < 1 << 20 else "1 MiB")
    return "%s %s" % (label, "text" if text else "binary")


def report(res: Dict, points: List[Point]) -> bool:
    print("\n%-14s %22s %22s %8s %8s" % ("message", "without: rt/s (us)", "with: rt/s (us)", "ratio", "target"))
    met = True
    for p in points:
        (r0, us0), (r1, us1) = res[p, False], res[p, True]
        ratio = us0 / us1
        target = TARGETS.get(p)
        ok = target is None or ratio >= target
        met = met and ok
        print("%-14s %22s %22s %7.2fx %8s%s" % (
            name(p), "%.0f (%.1f)" % (r0, us0), "%.0f (%.1f)" % (r1, us1), ratio,
            "" if target is None else ">= %.1fx" % target, "" if ok else "  MISS"))
    return met


def profile(url: str, on: bool, size: int, text: bool, unicode: bool, seconds: float) -> None:
    import cProfile
    import pstats

    ws = websocket.create_connection(url, timeout=30)
    payload = make_payload(size, text, unicode)
    try:
        switch(on)
        round_trips(ws, payload, 0.05)
        prof = cProfile.Profile()
        prof.enable()
        n, wall, cpu = round_trips(ws, payload, seconds)
        prof.disable()
    finally:
        integration.uninstall()
        ws.close()
    print("%s, integration %s: %d round trips, %.1f us client CPU each (under cProfile)"
          % (name((size, text)), "on" if on else "off", n, cpu * 1e6 / n))
    pstats.Stats(prof).sort_stats("tottime").print_stats(18)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="shorter measurements, 3 rounds")
    ap.add_argument("--rounds", type=int, help="measurements per point and side (median; default 5)")
    ap.add_argument("--sizes", default=",".join(map(str, SIZES)), help="comma-separated payload sizes")
    ap.add_argument("--binary-only", action="store_true")
    ap.add_argument("--text-only", action="store_true")
    ap.add_argument("--unicode", action="store_true", help="non-ASCII text (about 1/3 of the characters)")
    ap.add_argument("--profile", choices=["on", "off"], help="cProfile the client at --size instead")
    ap.add_argument("--size", type=int, default=65536)
    ap.add_argument("--text", action="store_true", help="with --profile: a text message")
    ap.add_argument("--no-pin", action="store_true", help="do not pin client and server to separate CPUs")
    args = ap.parse_args()

    cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    pin = None if args.no_pin or len(cpus) < 2 else ({cpus[0]}, set(cpus[1:]))
    if pin:
        os.sched_setaffinity(0, pin[0])
    proc, port = start_server(pin[1] if pin else None)
    url = "ws://127.0.0.1:%d/" % port
    try:
        if args.profile:
            profile(url, args.profile == "on", args.size, args.text, args.unicode, 3.0)
            return 0
        sizes = [int(s) for s in args.sizes.split(",")]
        points = ([] if args.text_only else [(s, False) for s in sizes]) + (
            [] if args.binary_only else [(s, True) for s in sizes])
        load_before = os.getloadavg()
        t0 = time.monotonic()
        res = measure(url, points, args.rounds or (3 if args.quick else 5), args.quick, args.unicode)
        met = report(res, points)
    finally:
        stop_server(proc)
    import wscodec

    print("\nwebsocket-client %s, wscodec backend %s, text %s; load average before %s, after %s; "
          "%s; %.0f s; targets %s" % (
              websocket.__version__, wscodec.BACKEND, "non-ASCII" if args.unicode else "ASCII",
              "/".join("%.1f" % x for x in load_before), "/".join("%.1f" % x for x in os.getloadavg()),
              "client on CPU %s, server on %s" % (sorted(pin[0]), sorted(pin[1])) if pin else "not pinned",
              time.monotonic() - t0, "met" if met else "MISSED"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
