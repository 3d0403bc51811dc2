#!/usr/bin/env python3
"""End-to-end echo benchmark for tornado's WebSocket server, without and with
``wscodec.integrations.tornado``: server CPU microseconds per message.

The load client, the CPU accounting and the per-size plan are bench/e2e_echo.py's (imported):
pre-built masked frames kept in flight on a few connections, echoes counted by length, server
CPU from /proc/PID/stat. Both servers run at once; each round measures one after the other, the
order alternating between rounds, and the ratio of that round's pair is recorded, so that both
see the same background load. Reported: the median CPU per message of each server, the median
ratio without/with, and the spread (lowest and highest ratio of the rounds).

    python bench/e2e_tornado.py --quick                      # ~1 min
    python bench/e2e_tornado.py --rounds 5                   # 16 B .. 1 MiB, binary and text
    python bench/e2e_tornado.py --profile tornado+wscodec --size 65536 --text   # cProfile

The client runs on the first CPU and the servers on the others (--no-pin to turn it off).
Compression off (the client does not offer it). Needs tornado; Linux (/proc).
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import time
from typing import Dict, List, Optional, Tuple

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e_echo  # noqa: E402  (the load client and its helpers)

KINDS = ["tornado", "tornado+wscodec"]
#: target ratios without/with: (<= 1 KiB, >= 64 KiB binary, >= 64 KiB text)
TARGETS = (1.15, 1.25, 1.5)


def serve(kind: str, port: int, profile: Optional[str]) -> None:
    import asyncio

    import tornado.web
    import tornado.websocket

    if kind.endswith("+wscodec"):
        import wscodec.integrations

        wscodec.integrations.install("tornado")
        assert wscodec.integrations.installed().get("tornado"), "integration not installed"

    class Echo(tornado.websocket.WebSocketHandler):
        def on_message(self, message: object) -> None:
            self.write_message(message, binary=isinstance(message, bytes))  # type: ignore[arg-type]


    async def main() -> None:
        app = tornado.web.Application([("/", Echo)], websocket_max_message_size=e2e_echo.MAX)
        server = app.listen(port, "127.0.0.1")
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        await stop.wait()
        server.stop()

    with e2e_echo.profiled(profile):
        asyncio.run(main())


def start_server(kind: str, profile: Optional[str] = None) -> Tuple[subprocess.Popen, int]:
    return e2e_echo.start_server(kind, profile, script=__file__)


Point = Tuple[int, bool]


def measure(
    points: List[Point], quick: bool, rounds: int, mixed_text: bool = True
) -> Dict[Point, Dict[str, List[float]]]:
    """Per point: each server's CPU us/message per round, and the per-round ratios."""
    servers = {kind: start_server(kind) for kind in KINDS}
    out: Dict[Point, Dict[str, List[float]]] = {}
    try:
        for size, text in points:
            payload = (e2e_echo.text_payload(size) if mixed_text else b"a" * size) if text else os.urandom(size)
            conns, window, seconds = e2e_echo.plan(size, quick)
            for kind in KINDS:  # warm-up
                e2e_echo.load(servers[kind][1], payload, text, conns, window, 0.1 if quick else 0.3)
            res: Dict[str, List[float]] = {kind: [] for kind in KINDS + ["ratio"]}
            for r in range(rounds):
                this: Dict[str, float] = {}
                for kind in KINDS if r % 2 == 0 else KINDS[::-1]:
                    proc, port = servers[kind]
                    c0 = e2e_echo.cpu_seconds(proc.pid)
                    n = e2e_echo.load(port, payload, text, conns, window, seconds)
                    this[kind] = (e2e_echo.cpu_seconds(proc.pid) - c0) * 1e6 / max(n, 1)
                    res[kind].append(this[kind])
                res["ratio"].append(this[KINDS[0]] / max(this[KINDS[1]], 1e-9))
            out[(size, text)] = res
            print("%-12s done" % point_label((size, text)), flush=True)
    finally:
        for proc, _ in servers.values():
            e2e_echo.stop_server(proc)
    return out


def point_label(p: Point) -> str:
    return "%s %s" % (e2e_echo.label(p[0]), "txt" if p[1] else "bin")


def report(res: Dict[Point, Dict[str, List[float]]]) -> None:
    print("\nserver CPU us/message (median of rounds); ratio without/with: median [min-max], target")
    print("%-12s%12s%18s%28s" % ("size", KINDS[0], KINDS[1], "ratio"))
    for p, r in res.items():
        med = statistics.median(r["ratio"])
        target = TARGETS[0] if p[0] <= 1024 else TARGETS[2 if p[1] else 1]
        print(
            "%-12s%12.1f%18.1f%14.2fx [%.2f-%.2f] %.2f%s"
            % (
                point_label(p),
                statistics.median(r[KINDS[0]]),
                statistics.median(r[KINDS[1]]),
                med,
                min(r["ratio"]),
                max(r["ratio"]),
                target,
                "" if med >= target else " MISS",
            )
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="short runs")
    ap.add_argument("--rounds", type=int, help="rounds per point (default 3, --quick 2)")
    ap.add_argument("--sizes", default=",".join(map(str, e2e_echo.SIZES)), help="payload sizes")
    ap.add_argument("--types", default="bin,txt", help="bin, txt or both")
    ap.add_argument("--profile", metavar="KIND", choices=KINDS, help="cProfile this server, print the top")
    ap.add_argument("--size", type=int, default=1024, help="payload size for --profile")
    ap.add_argument("--text", action="store_true", help="text messages for --profile")
    ap.add_argument("--ascii-text", action="store_true",
                    help="text messages of plain ASCII (default: UTF-8 mixing 1- to 4-byte sequences)")
    e2e_echo.add_common_args(ap)
    args = ap.parse_args()
    if args.serve:
        return serve(args.serve, args.port, args.profile_out)
    e2e_echo.pin(args.no_pin)
    if args.profile:
        return e2e_echo.profile_server(start_server, args.profile, args.size, args.text)
    points = e2e_echo.points_of(args.sizes, args.types)
    load_before = os.getloadavg()
    t0 = time.monotonic()
    res = measure(points, args.quick, args.rounds or (2 if args.quick else 3), not args.ascii_text)
    report(res)
    print(e2e_echo.run_footer(load_before, t0))
    return None


if __name__ == "__main__":
    main()
