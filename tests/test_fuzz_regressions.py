"""The fuzz targets (fuzz/targets.py: compiled backend vs reference, same input, any difference
fails) replayed on their seed corpus and on every input a fuzzing run ever failed on
(fuzz/regressions/<target>/<file>, committed), with the ordinary build."""
from __future__ import annotations

import importlib.util
import os
import sys
from types import ModuleType

import pytest

from .conftest import load_backend

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FUZZ = os.path.join(ROOT, "fuzz")
TARGETS = ("mask", "utf8", "text", "header", "decoder", "build_frame", "close", "handshake", "connection")


def fuzz_module(name: str) -> ModuleType:
    load_backend("c")  # skipped (or an error under WSCODEC_REQUIRE_EXTENSIONS) without a build
    full = "wscodec_fuzz_" + name
    if full not in sys.modules:
        spec = importlib.util.spec_from_file_location(full, os.path.join(FUZZ, name + ".py"))
        module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
        sys.modules[full] = module
        spec.loader.exec_module(module)  # type: ignore[union-attr]
    return sys.modules[full]


def regressions():
    out = []
    for target in TARGETS:
        folder = os.path.join(FUZZ, "regressions", target)
        if os.path.isdir(folder):
            out += [pytest.param(target, os.path.join(folder, f), id="%s/%s" % (target, f)) for f in sorted(os.listdir(folder))]
    return out or [pytest.param(None, None, marks=pytest.mark.skip(reason="no regression inputs yet"))]


def test_targets_cover_every_name():
    assert tuple(fuzz_module("targets").TARGETS) == TARGETS


def at_every_level(target: str, data: bytes) -> None:
    """Run one input with the kernels at each CPU level this machine has (SIMD dispatch)."""
    targets = fuzz_module("targets")
    levels = targets.LEVELS
    if not levels:
        targets.TARGETS[target](data)
        return
    previous = targets._mask_module().cpu_level()
    try:
        for level in levels:
            targets.set_level(level)
            targets.TARGETS[target](data)
    finally:
        targets.set_level(previous)


@pytest.mark.parametrize("target", TARGETS)
def test_seed_corpus_backends_agree(target):
    for seed in fuzz_module("make_corpus").seeds()[target]:
        at_every_level(target, seed)


@pytest.mark.parametrize("target, path", regressions())
def test_fuzz_regression(target, path):
    with open(path, "rb") as f:
        at_every_level(target, f.read())
