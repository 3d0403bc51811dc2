#!/usr/bin/env python3
"""End-to-end echo benchmark for daphne (Django Channels' server, on autobahn's WebSocket
protocol over Twisted): server CPU per message without and with wscodec.integrations.autobahn.

The load client, the CPU accounting and the round-robin measurement are bench/e2e_echo.py's
(imported): both servers run at once, pinned away from the client, and are measured in
alternating order for several rounds; medians are reported with the spread (min-max) of the
without/with ratio over the rounds.

    python bench/e2e_daphne.py --quick                         # binary + 1 KiB text, < 60 s
    python bench/e2e_daphne.py --rounds 5                       # 16 B - 1 MiB, binary and text
    python bench/e2e_daphne.py --profile daphne --size 65536 --text   # cProfile the server

Servers: ``daphne`` (as installed) and ``daphne+wscodec`` (wscodec.integrations.install
("autobahn") in the server process before daphne starts). Needs daphne and autobahn; Linux.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import sys
import time
from typing import Dict, List, Optional, Tuple

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench import e2e_echo  # noqa: E402

KINDS = ["daphne", "daphne+wscodec"]
#: target ratios (without/with): (binary <= 1 KiB, binary >= 64 KiB, text <= 1 KiB, text >= 64 KiB)
TARGETS = (1.5, 1.2, 1.4, 1.8)


def serve(kind: str, port: int, profile: Optional[str]) -> None:
    if kind.endswith("+wscodec"):
        import wscodec.integrations

        wscodec.integrations.install("autobahn")
        assert wscodec.integrations.installed().get("autobahn"), "integration not installed"
    from daphne.server import Server

    # SIGTERM: leave through Python (and stop the reactor) so that the profile is written.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    with e2e_echo.profiled(profile):
        Server(
            application=e2e_echo.asgi_echo,
            endpoints=["tcp:port=%d:interface=127.0.0.1" % port],
            signal_handlers=False,
            verbosity=0,
            ping_interval=3600,
            ping_timeout=3600,
            websocket_max_message_size=e2e_echo.MAX,
            websocket_max_frame_size=e2e_echo.MAX,
        ).run()


def report(
    samples: Dict[str, Dict[Tuple[int, bool], List[Tuple[float, float]]]], points: List[Tuple[int, bool]]
) -> None:
    print("\nserver CPU us/message, median over rounds (messages/s); ratio without/with: median [min-max]")
    print("%-12s%22s%22s   %s" % ("size", KINDS[0], KINDS[1], "ratio"))
    for p in points:
        without, with_ = samples[KINDS[0]][p], samples[KINDS[1]][p]
        ratios = [a[1] / b[1] for a, b in zip(without, with_)]  # same round, same background load
        median = statistics.median(x[1] for x in without) / statistics.median(x[1] for x in with_)
        small = p[0] <= 1024
        target = TARGETS[(2 if p[1] else 0) + (0 if small else 1)]
        judged = p[0] <= 65536
        print(
            "%-12s%22s%22s   %s"
            % (
                "%s %s" % (e2e_echo.label(p[0]), "txt" if p[1] else "bin"),
                "%.1f (%.0f)" % (statistics.median(x[1] for x in without), statistics.median(x[0] for x in without)),
                "%.1f (%.0f)" % (statistics.median(x[1] for x in with_), statistics.median(x[0] for x in with_)),
                "%.2fx [%.2f-%.2f]%s"
                % (median, min(ratios), max(ratios), (" >=%.1f %s" % (target, "ok" if median >= target else "MISS"))
                   if judged else ""),
            )
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="short runs, binary + 1 KiB text (< 60 s)")
    ap.add_argument("--profile", metavar="KIND", help="cProfile this server at --size, print the top")
    ap.add_argument("--rounds", type=int, help="measurements per server and point (median)")
    ap.add_argument("--sizes", default=",".join(map(str, e2e_echo.SIZES)), help="comma-separated bytes")
    ap.add_argument("--size", type=int, default=1024, help="message size for --profile")
    ap.add_argument("--text", action="store_true", help="text messages for --profile")
    e2e_echo.add_common_args(ap)
    args = ap.parse_args()
    if args.serve:
        return serve(args.serve, args.port, args.profile_out)
    e2e_echo.pin(args.no_pin)
    if args.profile:
        import pstats
        import tempfile

        out = os.path.join(tempfile.mkdtemp(prefix="e2e-prof-"), "server.prof")
        proc, port = e2e_echo.start_server(args.profile, out, script=__file__)
        try:
            payload = b"a" * args.size if args.text else os.urandom(args.size)
            conns, window, seconds = e2e_echo.plan(args.size, False)
            n = e2e_echo.load(port, payload, args.text, conns, window, seconds * 5)
        finally:
            e2e_echo.stop_server(proc)
        print("%s: %d messages of %d B under cProfile" % (args.profile, n, args.size))
        pstats.Stats(out).sort_stats("tottime").print_stats(30)
        return None
    sizes = [int(s) for s in args.sizes.split(",")]
    points = [(s, False) for s in sizes] + [(s, True) for s in sizes]
    if args.quick:
        points = [(s, False) for s in sizes] + [(1024, True)]
    load_before = os.getloadavg()
    t0 = time.monotonic()
    samples = e2e_echo.collect(KINDS, points, args.quick, args.rounds or (2 if args.quick else 3), script=__file__)
    report(samples, points)
    print("\nload average before %s, after %s%s; %.0f s" % (
        "/".join("%.1f" % x for x in load_before), "/".join("%.1f" % x for x in os.getloadavg()),
        " (client on CPU %s, servers on %s)" % (sorted(e2e_echo.PIN[0]), sorted(e2e_echo.PIN[1]))
        if e2e_echo.PIN else "", time.monotonic() - t0))
    return None


if __name__ == "__main__":
    main()
