"""pytest-benchmark suites: wscodec against the reference codecs, workload by workload.

Run: ``PYTHONPATH=src pytest bench/ --benchmark-only`` (settings in bench/pytest.ini). The
workloads and the adapters for each codec live in ``wscodec._benchlib`` (shared with
``python -m wscodec bench``); every test here is one (workload, implementation) pair:

* ``wscodec[c]`` and ``wscodec[python]``: the two backends through ``wscodec._backends.load``;
  "c" is skipped when it is not built (an error under WSCODEC_REQUIRE_EXTENSIONS=1, skipped under
  WSCODEC_NO_EXTENSIONS=1, as in tests/conftest.py);
* each reference codec through ``pytest.importorskip`` of the module it needs, so a missing one
  is skipped;
* baselines (memcpy of the same size, ``bytes.decode``, hashlib): the physical/stdlib limit.

Rows of one workload share a benchmark group, so pytest-benchmark prints them side by side;
``extra_info["bytes"]`` (bytes per operation) lets throughput be derived from saved JSON, and the
terminal summary prints it (GB/s, or Mop/s for per-message workloads) with the ratio to wscodec.
Every implementation's result is checked once before it is timed.
"""
from __future__ import annotations

from typing import Any, Callable, Dict, List, Tuple

import pytest

from wscodec import _backends
from wscodec._benchlib import Workload

# (group, implementation, bytes per op, unit, median seconds), in run order
_RESULTS: List[Tuple[str, str, int, str, float]] = []


def _require_wscodec(backend: str) -> None:
    if backend == "c" and _backends._flag("WSCODEC_NO_EXTENSIONS"):
        pytest.skip("WSCODEC_NO_EXTENSIONS=1: pure-Python backend only")
    try:
        _backends.load(backend)
    except ImportError as exc:
        if backend == "c" and not _backends._flag("WSCODEC_REQUIRE_EXTENSIONS"):
            pytest.skip("compiled backend not built (%s)" % exc)
        raise


@pytest.fixture
def run_workload(benchmark: Any) -> Callable[[Workload, str], None]:
    """``run_workload(workload, impl_name)``: set up, check once, then benchmark one operation."""

    def run(workload: Workload, name: str) -> None:
        impl = workload.impl(name)
        if name.startswith("wscodec["):
            _require_wscodec(name[len("wscodec["):-1])
        else:
            pytest.importorskip(impl.requires)
        op = impl.make(*workload.args)
        if not impl.baseline:
            assert workload.check(op()), "%s gives a wrong result for %s" % (name, workload.group)
        benchmark.group = workload.group
        benchmark.extra_info.update(
            bytes=workload.nbytes, unit=workload.unit, workload=workload.label,
            size=workload.size, implementation=name,
        )
        benchmark(op)
        stats = getattr(benchmark, "stats", None)  # None under --benchmark-disable
        if stats:
            _RESULTS.append((workload.group, name, workload.nbytes, workload.unit, stats.stats.median))

    return run


def _rate(nbytes: int, unit: str, seconds: float) -> str:
    if unit == "ops":
        return "%8.3g Mop/s" % (1e-6 / seconds)
    return "%8.3g GB/s " % (nbytes / seconds / 1e9)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not _RESULTS:
        return
    groups: Dict[str, List[Tuple[str, int, str, float]]] = {}
    for group, name, nbytes, unit, median in _RESULTS:
        groups.setdefault(group, []).append((name, nbytes, unit, median))
    tr = terminalreporter
    tr.section("throughput (median; ratio = time / wscodec time, > 1: wscodec is faster)")
    for group, rows in groups.items():
        times = {name: median for name, _, _, median in rows}
        base_name = next((b for b in ("wscodec[c]", "wscodec[python]") if b in times), None)
        tr.write_line(group)
        for name, nbytes, unit, median in sorted(rows, key=lambda r: r[3]):
            ratio = "%7.2fx" % (median / times[base_name]) if base_name else ""
            rate = _rate(nbytes, unit, median)
            tr.write_line("    %-20s %10.3f us  %s  %s" % (name, median * 1e6, rate, ratio))
