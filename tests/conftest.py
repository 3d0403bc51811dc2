"""The one place that decides which backends a test run covers.

``backend`` is parametrized over "python" and "c" and gives ``wscodec._backends.load(name)``, a
namespace with one backend's whole API. ``backends`` gives both at once for the differential tests
in tests/conformance/. The compiled backend is

* skipped with the reason when it cannot be imported (a checkout without a build),
* an error when WSCODEC_REQUIRE_EXTENSIONS=1 is set (CI: a missing build must not pass silently),
* skipped when WSCODEC_NO_EXTENSIONS=1 is set (that run proves the pure backend alone; this flag
  wins, as it does for ``wscodec.BACKEND``).

Hypothesis profiles: "default" (300 examples per test), "quick" (50), "ci" (300, derandomized),
"thorough" (3000); pick one with HYPOTHESIS_PROFILE. Deadlines are off: timing is not tested.
"""
from __future__ import annotations

import os
import types
from typing import Dict, Tuple

import pytest
from hypothesis import HealthCheck, settings

from wscodec import _backends

BACKEND_NAMES = ("python", "c")

_COMMON = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.register_profile("default", max_examples=300, **_COMMON)
settings.register_profile("quick", max_examples=50, **_COMMON)
settings.register_profile("ci", max_examples=300, derandomize=True, print_blob=True, **_COMMON)
settings.register_profile("thorough", max_examples=3000, **_COMMON)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


def env_flag(name: str) -> bool:
    """The flag as wscodec itself reads it (same helper, so tests and library cannot drift)."""
    return _backends._flag(name)


_loaded: Dict[str, types.SimpleNamespace] = {}


def load_backend(name: str) -> types.SimpleNamespace:
    """Backend ``name`` or skip/fail the calling test according to the environment."""
    if name == "c" and env_flag("WSCODEC_NO_EXTENSIONS"):
        pytest.skip("WSCODEC_NO_EXTENSIONS=1: this run tests the pure-Python backend alone")
    if name not in _loaded:
        try:
            _loaded[name] = _backends.load(name)
        except ImportError as exc:
            if name == "c" and not env_flag("WSCODEC_REQUIRE_EXTENSIONS"):
                pytest.skip("compiled backend wscodec._c is not built or not importable (%s)" % exc)
            pytest.fail(
                "WSCODEC_REQUIRE_EXTENSIONS=1 but backend %r cannot be imported: %s" % (name, exc),
                pytrace=False,
            )
    return _loaded[name]


@pytest.fixture(scope="session", params=BACKEND_NAMES)
def backend(request: pytest.FixtureRequest) -> types.SimpleNamespace:
    """One backend's whole API; every unit test runs once per backend."""
    return load_backend(request.param)


@pytest.fixture(scope="session")
def backends() -> Tuple[types.SimpleNamespace, types.SimpleNamespace]:
    """(python, c): the differential tests feed both the same input."""
    return load_backend("python"), load_backend("c")
