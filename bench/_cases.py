"""Parametrization helper: one test id per (input, implementation), inputs outermost."""
from __future__ import annotations

from typing import Any, Callable, List, Sequence

import pytest

from wscodec._benchlib import Impl


def cases(inputs: Sequence[Any], impls: Sequence[Impl], label: Callable[[Any], str] = str) -> List[Any]:
    """``pytest.param(input, impl_name)`` for every pair; consecutive ids share an input, so the
    (cached, possibly 16 MiB) workload is built once for all its implementations."""
    return [
        pytest.param(x, impl.name, id="%s-%s" % (label(x).replace(" ", ""), impl.name))
        for x in inputs
        for impl in impls
    ]
