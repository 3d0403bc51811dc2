"""Leak and reference checks: every public function and the Connection, on valid and invalid
input, called many times with memory flat (allocated blocks, tracemalloc, RSS). A few seconds per
backend; bench/leak_check.py runs the same cases for longer (and under valgrind).
"""
from __future__ import annotations

import platform

import pytest

from . import leakcheck

pytestmark = [
    pytest.mark.slow,
    # the checks count CPython's allocated blocks and refcount-freed memory
    pytest.mark.skipif(platform.python_implementation() != "CPython", reason="CPython memory accounting"),
]

SECONDS_PER_CASE = 0.03


def test_memory_flat(backend):
    results = leakcheck.run_all(backend, 1_000_000, SECONDS_PER_CASE)
    assert sum(r.calls for r in results) > 50_000
    report = leakcheck.check(results)
    assert report is None, "memory grew:\n" + report


def test_detector_sees_a_leak():
    """The check itself: one 40-byte object kept per call must be reported."""
    kept = []
    result = leakcheck.measure("leaky", lambda: kept.append(bytes(40)), 5000, 0.01)
    assert result.block_growth >= 4000
    assert result.traced_growth > 4000
    assert leakcheck.check([result]) is not None
