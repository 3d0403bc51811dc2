"""Long leak check: every public function and the Connection, hundreds of thousands to millions of
calls each (bounded in time), memory flat by allocated blocks, tracemalloc and RSS.

    PYTHONPATH=src python bench/leak_check.py [--backend c|python|both] [--calls N] [--seconds S]

Under valgrind (the compiled backend; PYTHONMALLOC=malloc so every allocation is seen):

    PYTHONMALLOC=malloc PYTHONPATH=src valgrind --leak-check=full --show-leak-kinds=definite \\
        --errors-for-leak-kinds=definite --error-exitcode=99 \\
        python bench/leak_check.py --backend c --calls 300 --seconds 1 --valgrind
"""
from __future__ import annotations

import argparse
import os
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from tests import leakcheck  # noqa: E402
from wscodec import _backends  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--backend", choices=("c", "python", "both"), default="both")
    ap.add_argument("--calls", type=int, default=1_000_000, help="calls per case (at most)")
    ap.add_argument("--seconds", type=float, default=5.0, help="time per case (at most)")
    ap.add_argument("--valgrind", action="store_true",
                    help="under valgrind: no tracemalloc pass, RSS not judged (valgrind's own)")
    args = ap.parse_args()
    names = ("c", "python") if args.backend == "both" else (args.backend,)
    failed = False
    start_rss, start = leakcheck.rss(), time.perf_counter()
    for name in names:
        ns = _backends.load(name)
        print("== backend %s" % name, flush=True)
        results = leakcheck.run_all(ns, args.calls, args.seconds, 0.0 if args.valgrind else 0.1,
                                    report=lambda r: print(r, flush=True))
        report = leakcheck.check(results, rss_limit=1 << 62 if args.valgrind else leakcheck.RSS_LIMIT)
        if report:
            failed = True
            print("MEMORY GREW:\n" + report)
        print("%s: %d cases, %d calls, all flat: %s" % (name, len(results), sum(r.calls for r in results), not report))
    print("process RSS %+d KiB over %.0f s" % ((leakcheck.rss() - start_rss) // 1024, time.perf_counter() - start))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
