"""tracemalloc where the interpreter has it (PyPy has not): memory tests skip elsewhere."""
from __future__ import annotations

from types import ModuleType

import pytest

try:
    import tracemalloc as _tracemalloc
except ImportError:  # PyPy: no _tracemalloc
    _tracemalloc = None


def tracemalloc_or_skip() -> ModuleType:
    if _tracemalloc is None:
        pytest.skip("tracemalloc is not available on this interpreter")
    return _tracemalloc
