#!/usr/bin/env python3
"""Run wsproto's, websockets' and aiohttp's own test suites without and with wscodec's integrations.

    python scripts/run_upstream_tests.py                       # pinned versions, all codecs built
    python scripts/run_upstream_tests.py --codecs python       # only the pure-Python codec
    python scripts/run_upstream_tests.py --wsproto 1.3.2 --websockets 16.1.1 --workdir /tmp/up
    python scripts/run_upstream_tests.py --only aiohttp --aiohttp 3.14.5

What it does, in a temporary directory (kept with --workdir):

1. ``pip download --no-binary :all: --no-deps`` the pinned sdists (from PyPI) and unpacks them.
2. Creates a venv with the same pinned versions of the libraries installed (wheels, as users get
   them), pytest, and wscodec: from this source tree by default (a path .pth, like an editable
   install, plus the ``wscodec-auto.pth`` switch the wheel ships), or ``--wscodec SPEC`` to
   ``pip install`` a built wheel instead.
3. Runs each suite unmodified (wsproto: pytest with ``-bb`` as its tox does; websockets: unittest)
   once with the switch off, then once per codec with ``WSCODEC_AUTO_INSTALL=<library>`` and
   ``WSCODEC_AUTO_INSTALL_CODEC=<codec>`` in the environment: nothing in the suites or a conftest
   changes. Each run reports per-test outcomes and whether the integration was really installed
   in that process.
4. Compares: the same tests must pass, fail, skip. Exit status 1 on any difference (but the
   KNOWN_DIFFERENCES below, each with its reason), when an integrated run did not have the
   integration installed, or when nothing ran.

websockets sdists: 17.0 and later ship no tests at all; 16.x ships tests/test_*.py but not the
helper modules they import (tests/__init__.py, tests/utils.py, tests/extensions/utils.py) nor the
asyncio/sync/legacy/trio test packages. This script supplies small stand-ins for the helpers it
can (written here, see WEBSOCKETS_HELPERS); test modules that need more (test_cli: a real server
from tests/sync) are reported as unavailable. So websockets is pinned to 16.1.1, the newest sdist
with tests. To try newer versions: --wsproto X --websockets Y (the integrations refuse versions
outside their tested range unless forced, and an integrated run without the integration installed
fails loudly here).

aiohttp: its WebSocket tests from the sdist (``tests/test_websocket_*.py`` and
``tests/test_web_websocket*.py`` but the codspeed benchmarks, with its ``tests/conftest.py``) run by
pytest against the installed wheel (its compiled reader and mask included), under the sdist's
``pytest.ini`` without the options of plugins not installed here (xdist, coverage, doctests). They
need pytest-mock, pytest-timeout (the ini's per-test timeout), isal and zlib-ng (the compression
tests run over each zlib backend), installed for them.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path
from typing import Dict, List, Optional, Tuple

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"
PTH = SRC / "wscodec" / "integrations" / "wscodec-auto.pth"
PINS = {"wsproto": "1.3.2", "websockets": "16.1.1", "aiohttp": "3.14.5"}
#: what aiohttp's WebSocket tests need beyond pytest (the mocker fixture, the ini's timeout, and
#: the zlib backends its compression tests are parametrized over)
AIOHTTP_TEST_DEPS = ["pytest-mock", "pytest-timeout", "isal", "zlib-ng"]
#: aiohttp pytest.ini lines for plugins not installed here (xdist, coverage, doctests), dropped
AIOHTTP_DROPPED_OPTIONS = (
    "--numprocesses",
    "--cov",
    "--no-cov-on-fail",
    "-p pytest_cov",
    "--doctest-modules",
    "ignore:Couldn't import C tracer:coverage",  # a warning filter naming coverage's class
)

# Upstream tests that cannot pass with the integration, each for a reason stated here; each is
# accepted only as "passed without, failed with".
_FAULT = (
    "injects a fault by patching struct.unpack, which the fast path never calls; the same "
    "fault injected into the codec still maps to 1011, see tests/test_integrations_websockets.py"
    "::test_internal_error_in_the_fast_path_maps_to_1011"
)
KNOWN_DIFFERENCES: Dict[str, str] = {
    "tests.test_protocol.ErrorTests.test_client_hits_internal_error_reading_frame": _FAULT,
    "tests.test_protocol.ErrorTests.test_server_hits_internal_error_reading_frame": _FAULT,
}

# Stand-ins for the websockets test helpers its sdist omits: just the names the shipped test
# modules import, with the behaviour those tests rely on.
WEBSOCKETS_HELPERS: Dict[str, str] = {
    "tests/__init__.py": "",
    "tests/extensions/__init__.py": "",
    "tests/utils.py": """\
import contextlib
import email.utils
import unittest
import warnings

DATE = email.utils.formatdate(usegmt=True)


class GeneratorTestCase(unittest.TestCase):
    def assertGeneratorRunning(self, gen):
        next(gen)  # a running coroutine yields

    def assertGeneratorReturns(self, gen):
        with self.assertRaises(StopIteration) as caught:
            next(gen)
        return caught.exception.value


class DeprecationTestCase(unittest.TestCase):
    @contextlib.contextmanager
    def assertDeprecationWarning(self, message):
        with warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter("always")
            yield
        self.assertEqual([(w.category, str(w.message)) for w in seen], [(DeprecationWarning, message)])
""",
    "tests/extensions/utils.py": """\
import dataclasses

from websockets.exceptions import NegotiationError


class OpExtension:
    name = "x-op"

    def __init__(self, op=None):
        self.op = op

    def decode(self, frame, *, max_size=None):
        return frame

    def encode(self, frame):
        return frame

    def __eq__(self, other):
        return isinstance(other, OpExtension) and other.op == self.op


class ClientOpExtensionFactory:
    name = "x-op"

    def __init__(self, op=None):
        self.op = op

    def get_request_params(self):
        return [("op", self.op)]

    def process_response_params(self, params, accepted_extensions):
        if params != [("op", self.op)]:
            raise NegotiationError()
        return OpExtension(self.op)


class ServerOpExtensionFactory:
    name = "x-op"

    def __init__(self, op=None):
        self.op = op

    def process_request_params(self, params, accepted_extensions):
        if params != [("op", self.op)]:
            raise NegotiationError()
        return [("op", self.op)], OpExtension(self.op)


class Rsv2Extension:
    name = "x-rsv2"

    def decode(self, frame, *, max_size=None):
        assert frame.rsv2
        return dataclasses.replace(frame, rsv2=False)

    def encode(self, frame):
        assert not frame.rsv2
        return dataclasses.replace(frame, rsv2=True)

    def __eq__(self, other):
        return isinstance(other, Rsv2Extension)


class ClientRsv2ExtensionFactory:
    name = "x-rsv2"

    def get_request_params(self):
        return []

    def process_response_params(self, params, accepted_extensions):
        return Rsv2Extension()


class ServerRsv2ExtensionFactory:
    name = "x-rsv2"

    def process_request_params(self, params, accepted_extensions):
        return [], Rsv2Extension()
""",
}

# Runs inside the venv: one suite, per-test outcomes and the integration state as JSON.
RUNNER = """\
import importlib, json, os, sys, unittest

mode, tests, out = sys.argv[1:4]
results, unavailable = {}, {}


def put(test_id, outcome):
    if results.get(test_id, "passed") == "passed":  # the first non-pass of a test's phases wins
        results[test_id] = outcome


if mode == "pytest":
    import pytest

    class Recorder:
        def pytest_runtest_logreport(self, report):
            if hasattr(report, "wasxfail"):
                put(report.nodeid, "xfailed" if report.skipped else "xpassed")
            else:
                put(report.nodeid, report.outcome)

        def pytest_collectreport(self, report):
            if report.failed:
                put("collect::" + report.nodeid, "error")

    code = pytest.main(["-q", "-p", "no:cacheprovider", tests], plugins=[Recorder()])
else:
    class Result(unittest.TextTestResult):
        def addSuccess(self, test):
            super().addSuccess(test); put(test.id(), "passed")
        def addFailure(self, test, err):
            super().addFailure(test, err); put(test.id(), "failed")
        def addError(self, test, err):
            super().addError(test, err); put(test.id(), "error")
        def addSkip(self, test, reason):
            super().addSkip(test, reason); put(test.id(), "skipped")
        def addExpectedFailure(self, test, err):
            super().addExpectedFailure(test, err); put(test.id(), "xfailed")
        def addUnexpectedSuccess(self, test):
            super().addUnexpectedSuccess(test); put(test.id(), "xpassed")
        def addSubTest(self, test, subtest, err):
            super().addSubTest(test, subtest, err)
            if err is not None:
                put(test.id(), "failed")

    sys.path.insert(0, tests)
    suite = unittest.TestSuite()
    for name in sorted(os.listdir(os.path.join(tests, "tests"))):
        if name.startswith("test_") and name.endswith(".py"):
            module = "tests." + name[:-3]
            try:
                suite.addTests(unittest.defaultTestLoader.loadTestsFromModule(importlib.import_module(module)))
            except ImportError as exc:  # a helper the sdist does not ship
                unavailable[module] = str(exc)
    outcome = unittest.TextTestRunner(resultclass=Result, verbosity=0, stream=sys.stderr).run(suite)
    code = 0 if outcome.wasSuccessful() else 1

state = {"wscodec_imported": "wscodec" in sys.modules}
if state["wscodec_imported"]:
    import wscodec, wscodec.integrations
    state.update(installed=wscodec.integrations.installed(), backend=wscodec.BACKEND)
with open(out, "w") as f:
    json.dump({"results": results, "unavailable": unavailable, "state": state, "exit": int(code)}, f)
"""


def sh(cmd: List[str], **kw: object) -> subprocess.CompletedProcess:
    print("+ " + " ".join(cmd), flush=True)
    return subprocess.run(cmd, check=True, **kw)  # type: ignore[call-overload]


def prepare(work: Path, pins: Dict[str, str], wscodec_spec: Optional[str]) -> Tuple[Path, Dict[str, Path]]:
    venv = work / "venv"
    py = venv / "bin" / "python"
    if not py.exists():
        sh([sys.executable, "-m", "venv", str(venv)])
    pkgs = ["%s==%s" % kv for kv in pins.items()]
    if "aiohttp" in pins:
        pkgs += AIOHTTP_TEST_DEPS
    sh([str(py), "-m", "pip", "install", "-q", "pytest", *pkgs])
    site = Path(
        subprocess.check_output(
            [str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], text=True
        ).strip()
    )
    if wscodec_spec:
        sh([str(py), "-m", "pip", "install", "-q", wscodec_spec])
    else:
        (site / "_wscodec_source_tree.pth").write_text(str(SRC) + "\n")  # sorts before the switch
        shutil.copy(PTH, site / PTH.name)
    if not (site / PTH.name).exists():
        sys.exit("%s is missing from %s: this wscodec does not ship the switch" % (PTH.name, site))

    sdists = work / "sdists"
    sdists.mkdir(exist_ok=True)
    trees: Dict[str, Path] = {}
    missing = [p for p, v in pins.items() if not (sdists / ("%s-%s.tar.gz" % (p, v))).exists()]
    if missing:
        sh(
            [
                str(py),
                "-m",
                "pip",
                "download",
                "-q",
                "--no-binary",
                ":all:",
                "--no-deps",
                "-d",
                str(sdists),
                *["%s==%s" % (p, pins[p]) for p in missing],
            ]
        )
    for name, version in pins.items():
        tree = work / ("%s-%s" % (name, version))
        if not tree.exists():
            with tarfile.open(sdists / ("%s-%s.tar.gz" % (name, version))) as tar:
                tar.extractall(work)
        trees[name] = tree
    return py, trees


def websockets_tests(work: Path, tree: Path) -> Path:
    """The sdist's tests plus the helper stand-ins, in a directory of their own."""
    target = work / "websockets-tests"
    if target.exists():
        shutil.rmtree(target)
    if not (tree / "tests").is_dir():
        sys.exit("%s ships no tests (websockets >= 17.0 sdists do not): pin an older version" % tree.name)
    shutil.copytree(tree / "tests", target / "tests")
    for rel, text in WEBSOCKETS_HELPERS.items():
        path = target / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists():
            path.write_text(text)
    return target


def aiohttp_tests(work: Path, tree: Path) -> Path:
    """The sdist's WebSocket tests and conftest in a directory of their own (so that they import
    the installed aiohttp, not the sdist's source beside them), under its pytest.ini minus the
    options of plugins not installed."""
    target = work / "aiohttp-tests"
    if target.exists():
        shutil.rmtree(target)
    (target / "tests").mkdir(parents=True)
    names = ["conftest.py"] + sorted(
        p.name
        for pattern in ("test_websocket_*.py", "test_web_websocket*.py")
        for p in (tree / "tests").glob(pattern)
    )
    for name in names:
        shutil.copy(tree / "tests" / name, target / "tests" / name)
    ini = [
        line
        for line in (tree / "pytest.ini").read_text().splitlines()
        if not line.strip().startswith(AIOHTTP_DROPPED_OPTIONS)
    ]
    (target / "pytest.ini").write_text("\n".join(ini) + "\n")
    return target


def run_suite(py: Path, work: Path, lib: str, tests: Path, codec: Optional[str]) -> dict:
    runner = work / "runner.py"
    runner.write_text(RUNNER)
    label = "%s-%s" % (lib, codec or "off")
    out = work / ("%s.json" % label)
    env = {k: v for k, v in os.environ.items() if not k.startswith("WSCODEC_") and k != "PYTHONPATH"}
    if codec:
        env["WSCODEC_AUTO_INSTALL"] = lib
        env["WSCODEC_AUTO_INSTALL_CODEC"] = codec
    flags = ["-bb"] if lib == "wsproto" else []  # as wsproto's tox runs it
    mode = "unittest" if lib == "websockets" else "pytest"
    t0 = time.monotonic()
    with open(work / ("%s.log" % label), "w") as log:
        subprocess.run(
            [str(py), *flags, str(runner), mode, str(tests), str(out)],
            cwd=str(tests),
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            check=False,
        )
    if not out.exists():
        sys.exit("%s run crashed: see %s" % (label, work / ("%s.log" % label)))
    report = json.loads(out.read_text())
    report["seconds"] = time.monotonic() - t0
    return report


def counts(results: Dict[str, str]) -> str:
    tally: Dict[str, int] = {}
    for outcome in results.values():
        tally[outcome] = tally.get(outcome, 0) + 1
    return ", ".join("%d %s" % (n, k) for k, n in sorted(tally.items()))


def built_codecs(py: Path) -> List[str]:
    code = "import wscodec; print(wscodec.HAS_EXTENSIONS)"
    has_c = subprocess.run([str(py), "-c", code], capture_output=True, text=True).stdout.strip() == "True"
    return (["c"] if has_c else []) + ["python"]


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--wsproto", default=PINS["wsproto"], help="version (default %(default)s)")
    parser.add_argument("--websockets", default=PINS["websockets"], help="version (default %(default)s)")
    parser.add_argument("--aiohttp", default=PINS["aiohttp"], help="version (default %(default)s)")
    parser.add_argument("--only", choices=sorted(PINS))
    parser.add_argument("--codecs", help="comma-separated: c,python (default: every codec built)")
    parser.add_argument(
        "--wscodec", metavar="SPEC", help="pip-install this wscodec (a wheel) instead of the source tree"
    )
    parser.add_argument(
        "--workdir", type=Path, help="reuse/keep this directory (default: a temporary one, removed)"
    )
    args = parser.parse_args()

    started = time.monotonic()
    work = args.workdir or Path(tempfile.mkdtemp(prefix="wscodec-upstream-"))
    work.mkdir(parents=True, exist_ok=True)
    pins = {"wsproto": args.wsproto, "websockets": args.websockets, "aiohttp": args.aiohttp}
    if args.only:
        pins = {args.only: pins[args.only]}
    ok = True
    try:
        py, trees = prepare(work, pins, args.wscodec)
        codecs = args.codecs.split(",") if args.codecs else built_codecs(py)
        print("setup: %.0f s; codecs: %s" % (time.monotonic() - started, ", ".join(codecs)))
        for lib, tree in trees.items():
            if lib == "aiohttp":
                tests = aiohttp_tests(work, tree)
            else:
                tests = tree if lib == "wsproto" else websockets_tests(work, tree)
            base = run_suite(py, work, lib, tests, None)
            print(
                "\n%s %s, integration off: %s (%.1f s)"
                % (lib, pins[lib], counts(base["results"]), base["seconds"])
            )
            for module, why in base["unavailable"].items():
                print("  unavailable from the sdist: %s (%s)" % (module, why))
            if base["state"]["wscodec_imported"] or not base["results"]:
                print("  FAIL: wscodec was imported with the switch off, or nothing ran")
                ok = False
            for codec in codecs:
                run = run_suite(py, work, lib, tests, codec)
                state = run["state"]
                active = state.get("installed", {}).get(lib) == codec
                print(
                    "%s %s, integration on (codec %s): %s (%.1f s)%s"
                    % (
                        lib,
                        pins[lib],
                        codec,
                        counts(run["results"]),
                        run["seconds"],
                        "" if active else "  FAIL: integration not installed in the test process: %s" % state,
                    )
                )
                diff = sorted(
                    t
                    for t in set(base["results"]) | set(run["results"])
                    if base["results"].get(t) != run["results"].get(t)
                )
                unexpected = []
                for test in diff:
                    off, on = base["results"].get(test), run["results"].get(test)
                    if test in KNOWN_DIFFERENCES and (off, on) == ("passed", "failed"):
                        print("  expected difference %s: %s" % (test, KNOWN_DIFFERENCES[test]))
                    else:
                        print("  DIFF %s: off=%s on=%s" % (test, off, on))
                        unexpected.append(test)
                ok = ok and active and not unexpected
    finally:
        if args.workdir is None:
            shutil.rmtree(work, ignore_errors=True)
    print("\n%s in %.0f s" % ("same results" if ok else "DIFFERENT RESULTS", time.monotonic() - started))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
