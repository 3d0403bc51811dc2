"""Load with faults: many clients echoing through one asyncio server while a fraction drop
abruptly, stall, or send garbage; every surviving client must get back exactly what it sent and
the server's connection count must return to zero (tests/faultload.py does the work).

    PYTHONPATH=src python bench/fault_load.py [--clients 300] [--messages 40] [--backend both]
"""
from __future__ import annotations

import argparse
import asyncio
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from tests.faultload import run_load  # noqa: E402
from wscodec import _backends  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--backend", choices=("c", "python", "both"), default="both")
    ap.add_argument("--clients", type=int, default=300, help="clients at once")
    ap.add_argument("--messages", type=int, default=40, help="messages per good client")
    ap.add_argument("--window", type=int, default=8, help="messages in flight per good client")
    ap.add_argument("--abort", type=float, default=0.15, help="fraction that drop abruptly")
    ap.add_argument("--stall", type=float, default=0.05, help="fraction that stop reading")
    ap.add_argument("--garbage", type=float, default=0.10, help="fraction that send garbage")
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    ok = True
    for name in ("c", "python") if args.backend == "both" else (args.backend,):
        tally = asyncio.run(run_load(
            _backends.load(name), clients=args.clients, messages=args.messages, window=args.window,
            fractions={"abort": args.abort, "stall": args.stall, "garbage": args.garbage}, seed=args.seed,
            heartbeat=1.0, stall_seconds=5.0))
        print("%s: %s" % (name, tally.summary()))
        for line in tally.good_failures[:10] + tally.loop_errors[:10]:
            print("  " + line)
        ok = ok and tally.ok
    print("OK" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
