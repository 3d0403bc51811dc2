"""``python -m wscodec bench``: a short benchmark against the installed reference codecs.

Times a representative subset of the ``bench/`` workloads with plain ``time.perf_counter`` loops
(best of a few repeats, garbage collector off, as ``timeit`` does) on wscodec's selected backend,
on the pure-Python backend too when the compiled one is selected, and on whichever reference
codecs are installed (websockets, wsaccel, aiohttp, wsproto, picows), next to a stdlib limit
(a memory copy of the same size, ``bytes.decode``, ``str.encode``, hashlib). Each result is checked once before
it is timed. The ratio is reference time / wscodec time: above 1, wscodec is faster.

Needs only the stdlib; ``--plot`` needs matplotlib. Full suites: ``pytest bench/``.
"""
from __future__ import annotations

import argparse
import datetime
import gc
import json
import os
import platform
import sys
import time
from dataclasses import asdict, dataclass
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from . import _benchlib as lib

__all__ = ["main", "run", "Result"]

FRAME_CHUNK = 64 * lib.KiB


@dataclass
class Result:
    workload: str
    size: str
    implementation: str
    seconds: Optional[float]  # per operation; None when skipped
    nbytes: int
    unit: str  # "bytes" or "ops"
    ratio: Optional[float] = None  # this time / wscodec time
    note: str = ""

    @property
    def throughput(self) -> Optional[float]:
        """Bytes per second, or operations per second for unit "ops"."""
        if not self.seconds:
            return None
        return (self.nbytes if self.unit == "bytes" else 1) / self.seconds


def workloads() -> List[lib.Workload]:
    """The subset this command runs, in display order."""
    out = [lib.mask_workload(n) for n in (2, lib.KiB, 64 * lib.KiB, lib.MiB)]
    out.append(lib.mask_inplace_workload(64 * lib.KiB))
    out += [lib.utf8_workload(kind, 64 * lib.KiB) for kind in ("ascii", "chinese", "emoji")]
    for kind in lib.TEXT_KINDS:  # str from UTF-8 and back, against CPython's codec
        out += [lib.decode_workload(kind, n) for n in lib.TEXT_SIZES]
        out += [lib.encode_workload(kind, n) for n in lib.TEXT_SIZES]
    out += [lib.frames_workload(c, s, o, FRAME_CHUNK) for c, s, o in lib.FRAME_STREAMS]
    out.append(lib.accept_workload())
    out += [lib.build_workload(False), lib.build_workload(True)]
    return out


def time_op(op: Callable[[], Any], target: float, repeat: int) -> float:
    """Seconds per call of ``op``: best of ``repeat`` runs of a loop lasting about ``target``."""
    loops = 1
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        while True:  # calibrate: grow the loop count until one run takes target / 4
            elapsed = _loop(op, loops)
            if elapsed >= target / 4:
                break
            loops = max(loops * 2, int(loops * target / 4 / max(elapsed, 1e-9)))
        best = elapsed / loops
        loops = max(1, round(loops * target / elapsed))  # each repeat now lasts about target
        for _ in range(repeat):
            best = min(best, _loop(op, loops) / loops)
    finally:
        if gc_was_enabled:
            gc.enable()
    return best


#: the clock the loops are timed with; ``--cpu-time`` switches it to this thread's CPU time
clock: Callable[[], float] = time.perf_counter


def _loop(op: Callable[[], Any], loops: int) -> float:
    it = range(loops)
    start = clock()
    for _ in it:
        op()
    return clock() - start


def _impls_to_run(w: lib.Workload, selected: str) -> List[lib.Impl]:
    """wscodec's selected backend first, then the Python backend (if C is selected), the rest."""
    mine = "wscodec[%s]" % selected
    first = [w.impl(mine)]
    if selected == "c":
        first.append(w.impl("wscodec[python]"))
    return first + [i for i in w.impls if not i.name.startswith("wscodec[")]


def run(selected: str, target: float, repeat: int,
        progress: Callable[[str], None] = lambda s: None) -> List[Result]:
    results: List[Result] = []
    for w in workloads():
        base: Optional[float] = None
        for impl in _impls_to_run(w, selected):
            progress("%s %s: %s" % (w.label, w.size, impl.name))
            res = Result(w.label, w.size, impl.name, None, w.nbytes, w.unit)
            try:
                op = impl.make(*w.args)
                if not impl.baseline and not w.check(op()):
                    res.note = "wrong result"
                else:
                    res.seconds = time_op(op, target, repeat)
            except ImportError:
                continue  # not installed: the header lists it
            except Exception as exc:  # a reference whose API changed must not stop the run
                res.note = "failed: %s: %s" % (type(exc).__name__, exc)
            if res.seconds is not None:
                if base is None and impl.name == "wscodec[%s]" % selected:
                    base = res.seconds
                if base:
                    res.ratio = res.seconds / base
            results.append(res)
    return results


# -- report ----------------------------------------------------------------------------------------

def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.lower().startswith(("model name", "hardware", "cpu model")):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def reference_versions() -> Dict[str, Optional[str]]:
    from importlib import metadata

    versions: Dict[str, Optional[str]] = {}
    for name in lib.REFERENCE_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def environment(selected: str, quick: bool) -> Dict[str, Any]:
    import wscodec

    return {
        "wscodec": wscodec.__version__,
        "backend": selected,
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "python": "%s %s" % (platform.python_implementation(), platform.python_version()),
        "platform": platform.platform(),
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "quick": quick,
        "references": reference_versions(),
    }


def fmt_time(s: Optional[float]) -> str:
    if s is None:
        return "-"
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6)):
        if s >= scale:
            return "%.3g %s" % (s / scale, unit)
    return "%.3g ns" % (s / 1e-9)


def fmt_throughput(r: Result) -> str:
    tp = r.throughput
    if tp is None:
        return "-"
    if r.unit == "ops":
        return "%.3g Mop/s" % (tp / 1e6)
    return "%.3g GB/s" % (tp / 1e9) if tp >= 1e8 else "%.3g MB/s" % (tp / 1e6)


HEADERS = ("workload", "size", "implementation", "time/op", "throughput", "ratio")


def table(results: Sequence[Result]) -> str:
    rows: List[Tuple[str, ...]] = []
    previous = None
    for r in results:
        if previous is not None and (r.workload, r.size) != previous:
            rows.append(())  # blank line between workloads
        previous = (r.workload, r.size)
        ratio = "%.2fx" % r.ratio if r.ratio is not None else r.note or "-"
        if r.ratio is not None and r.implementation.startswith("wscodec[") and r.ratio == 1.0:
            ratio = "1.00x (base)"
        rows.append((r.workload, r.size, r.implementation, fmt_time(r.seconds), fmt_throughput(r), ratio))
    widths = [max(len(h), *(len(row[i]) for row in rows if row)) for i, h in enumerate(HEADERS)]
    right = {3, 4}  # numbers right-aligned

    def line(cells: Sequence[str]) -> str:
        return "  ".join(c.rjust(w) if i in right else c.ljust(w)
                         for i, (c, w) in enumerate(zip(cells, widths))).rstrip()

    out = [line(HEADERS), line(["-" * w for w in widths])]
    out += [line(row) if row else "" for row in rows]
    return "\n".join(out)


def header(env: Dict[str, Any]) -> str:
    refs = ", ".join("%s %s" % (k, v) for k, v in env["references"].items() if v) or "none"
    missing = ", ".join(k for k, v in env["references"].items() if not v)
    lines = [
        "wscodec %s benchmark, backend: %s%s" % (env["wscodec"], env["backend"],
                                                  " (quick run: rough numbers)" if env["quick"] else ""),
        "cpu: %s (%s cores); python: %s; %s" % (env["cpu"], env["cores"], env["python"], env["platform"]),
        "date: %s" % env["date"],
        "references: %s%s" % (refs, "; not installed: %s" % missing if missing else ""),
        "ratio = implementation time / wscodec[%s] time (> 1: wscodec is faster); clock: %s"
        % (env["backend"], env.get("clock", "wall time")),
    ]
    return "\n".join(lines)


def plot(results: Sequence[Result], path: str, env: Dict[str, Any]) -> None:
    """Grouped bars of the ratios, one group per workload, log scale; needs matplotlib."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    base = "wscodec[%s]" % env["backend"]
    groups: List[str] = []
    series: Dict[str, Dict[str, float]] = {}
    for r in results:
        g = "%s\n%s" % (r.workload, r.size)
        if g not in groups:
            groups.append(g)
        if r.ratio is not None and r.implementation != base:
            series.setdefault(r.implementation, {})[g] = r.ratio
    # The bars of a group side by side, centred on it, whichever series the group has.
    present = {g: [name for name in series if g in series[name]] for g in groups}
    width = 0.8 / max([1] + [len(p) for p in present.values()])
    fig, ax = plt.subplots(figsize=(max(8.0, 1.1 * len(groups)), 5.5))
    for name, values in series.items():
        gs = [g for g in groups if g in values]
        xs = [groups.index(g) + (present[g].index(name) - (len(present[g]) - 1) / 2) * width for g in gs]
        ax.bar(xs, [values[g] for g in gs], width, label=name)
    ax.axhline(1.0, color="black", linewidth=0.8)
    ax.set_yscale("log")
    ax.set_xticks(range(len(groups)))
    ax.set_xticklabels(groups, rotation=60, ha="right", fontsize=7)
    ax.set_ylabel("time / %s time (> 1: wscodec faster)" % base)
    ax.set_title("wscodec %s (%s), %s, %s" % (env["wscodec"], env["backend"], env["python"], env["cpu"]),
                 fontsize=9)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m wscodec bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="few, short repetitions (seconds, noisy)")
    parser.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    parser.add_argument("--plot", metavar="FILE.png", help="bar chart of the ratios (needs matplotlib)")
    parser.add_argument("--progress", action="store_true", help="show each measurement on stderr")
    parser.add_argument("--cpu-time", action="store_true",
                        help="time with this thread's CPU time instead of wall time: on a shared, busy "
                        "machine the time the thread waits for a CPU is then left out")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)

    if args.plot:  # fail before the run, not after it
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            print("error: --plot needs matplotlib (pip install matplotlib)", file=sys.stderr)
            return 2

    import wscodec

    selected = wscodec.BACKEND
    env = environment(selected, args.quick)
    env["clock"] = "thread CPU time" if args.cpu_time else "wall time"
    print(header(env), flush=True)
    target, repeat = (0.004, 2) if args.quick else (0.05, 5)
    global clock
    clock = time.thread_time if args.cpu_time else time.perf_counter

    def progress(s: str) -> None:
        if args.progress:
            print("  ... " + s, file=sys.stderr, flush=True)

    started = time.perf_counter()
    results = run(selected, target, repeat, progress)
    print()
    print(table(results))
    print("\n%d measurements in %.1f s" % (len(results), time.perf_counter() - started))

    if args.json:
        doc = {"environment": env,
               "results": [dict(asdict(r), throughput=r.throughput) for r in results]}
        with open(args.json, "w") as f:
            json.dump(doc, f, indent=2)
            f.write("\n")
        print("results written to %s" % args.json)
    if args.plot:
        plot(results, args.plot, env)
        print("plot written to %s" % args.plot)
    return 0


if __name__ == "__main__":
    sys.exit(main())
