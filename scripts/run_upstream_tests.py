#!/usr/bin/env python3
"""Run wsproto's, websockets', websocket-client's, tornado's, autobahn's and aiohttp's own test
suites without and with wscodec's integrations.

    python scripts/run_upstream_tests.py                       # pinned versions, all codecs built
    python scripts/run_upstream_tests.py --codecs python       # only the pure-Python codec
    python scripts/run_upstream_tests.py --wsproto 1.3.2 --websockets 16.1.1 --workdir /tmp/up
    python scripts/run_upstream_tests.py --only websocket_client --websocket-client 1.9.2
    python scripts/run_upstream_tests.py --only tornado --tornado 6.6.1
    python scripts/run_upstream_tests.py --only aiohttp --aiohttp 3.14.5

What it does, in a temporary directory (kept with --workdir):

1. ``pip download --no-binary :all: --no-deps`` the pinned sdists (from PyPI) and unpacks them.
2. Creates a venv with the same pinned versions of the libraries installed (wheels, as users get
   them), pytest, and wscodec: from this source tree by default (a path .pth, like an editable
   install, plus the ``wscodec-auto.pth`` switch the wheel ships), or ``--wscodec SPEC`` to
   ``pip install`` a built wheel instead.
3. Runs each suite unmodified (wsproto: pytest with ``-bb`` as its tox does; websockets: unittest;
   websocket-client: pytest on the ``websocket/tests`` its sdist ships, against the installed wheel)
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

websocket-client's sdist (1.9.2) ships its whole suite. Its tests that need a network decide by
environment variables: TEST_WITH_INTERNET and TEST_WITH_PROXY are removed from the environment
(those tests skip in every run), and LOCAL_WS_SERVER_PORT points at the suite's own
``echo-server.py`` (a websockets echo server, never patched here) started on 127.0.0.1 for each run.

autobahn: the sdist's WebSocket tests in both flavours, as autobahn's CI runs them (its justfile):
Twisted with ``USE_TWISTED=1 python -m twisted.trial --no-recurse`` (autobahn.websocket.test,
autobahn.twisted.test) and asyncio with ``USE_ASYNCIO=1 pytest`` (src/autobahn/websocket/test,
src/autobahn/asyncio/test), from the sdist's src/ (its NVX extensions come from the installed
wheel, as in autobahn's own editable installs).
tornado: its WebSocket tests, ``tornado/test/websocket_test.py`` from the sdist, run with unittest
against the installed wheel (its C speedups included), as ``tests/test_websocket.py``: the module
imports only tornado's public modules and ``tornado.test.util``, which the wheel ships.
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
import socket
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
#: integration name -> version; the name is also the distribution name pip and the sdist file use
#: (pip normalizes websocket_client to websocket-client).
PINS = {
    "wsproto": "1.3.2",
    "websockets": "16.1.1",
    "websocket_client": "1.9.2",
    "tornado": "6.6.1",
    "autobahn": "26.11.1",
    "aiohttp": "3.14.5",
}
#: websocket-client's network switches (see its tests): off, so those tests skip in every run.
NETWORK_VARS = ("TEST_WITH_INTERNET", "TEST_WITH_PROXY", "LOCAL_WS_SERVER_PORT")
#: what else a library's suite needs in the venv (its extras the tests import, its test plugins)
EXTRA_REQUIREMENTS: Dict[str, List[str]] = {
    "autobahn": ["autobahn[twisted,encryption,compress]", "pytest-asyncio"],
    # the mocker fixture, the ini's timeout, and the zlib backends its compression tests take
    "aiohttp": ["pytest-mock", "pytest-timeout", "isal", "zlib-ng"],
}
#: autobahn's suites: flavour -> (runner mode, the tests, the environment its CI sets)
AUTOBAHN_SUITES: Dict[str, Tuple[str, str, Dict[str, str]]] = {
    "twisted": ("trial", "autobahn.websocket.test,autobahn.twisted.test", {"USE_TWISTED": "1"}),
    "asyncio": (
        "pytest",
        os.pathsep.join(["src/autobahn/websocket/test", "src/autobahn/asyncio/test"]),
        {"USE_ASYNCIO": "1"},
    ),
}
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


def recording(base):  # unittest's or trial's result class, also recording each outcome
    class Recording(base):
        def addSuccess(self, test):
            super().addSuccess(test); put(test.id(), "passed")
        def addFailure(self, test, *args):
            super().addFailure(test, *args); put(test.id(), "failed")
        def addError(self, test, *args):
            super().addError(test, *args); put(test.id(), "error")
        def addSkip(self, test, *args):
            super().addSkip(test, *args); put(test.id(), "skipped")
        def addExpectedFailure(self, test, *args):
            super().addExpectedFailure(test, *args); put(test.id(), "xfailed")
        def addUnexpectedSuccess(self, test, *args):
            super().addUnexpectedSuccess(test, *args); put(test.id(), "xpassed")
    return Recording


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

    code = pytest.main(["-q", "-p", "no:cacheprovider", *tests.split(os.pathsep)], plugins=[Recorder()])
elif mode == "trial":  # Twisted's runner, for suites written for it (comma-separated modules)
    import tempfile

    from twisted.trial import reporter, runner

    suite = runner.TestLoader().loadByNames(tests.split(","), recurse=False)
    work = os.path.join(tempfile.mkdtemp(), "_trial_temp")  # trial creates and owns it
    trial = runner.TrialRunner(recording(reporter.Reporter), stream=sys.stderr, workingDirectory=work)
    code = 0 if trial.run(suite).wasSuccessful() else 1
else:
    class Result(recording(unittest.TextTestResult)):
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
    if "websocket_client" in pins and "websockets" not in pins:  # its echo-server.py needs it
        pkgs.append("websockets==%s" % PINS["websockets"])
    pkgs += [r for lib in pins for r in EXTRA_REQUIREMENTS.get(lib, [])]
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


# What tornado's own runner (tornado/test/runtests.py) sets up before its tests: warnings as errors
# for tornado's code, the access log silenced. It also fails a run that logged anything at INFO
# or above; here every such record goes to log-<codec>.txt beside the tests, and the logs of the
# runs are compared (see compare_logs).
TORNADO_RUNNER_SETUP = """\
import logging, os, warnings

warnings.filterwarnings("error")
warnings.filterwarnings("ignore", category=ImportWarning)
warnings.filterwarnings("ignore", category=DeprecationWarning)
warnings.filterwarnings("error", category=DeprecationWarning, module=r"tornado\\..*")
warnings.filterwarnings("ignore", category=PendingDeprecationWarning)
warnings.filterwarnings("error", category=PendingDeprecationWarning, module=r"tornado\\..*")
logging.getLogger("tornado.access").setLevel(logging.CRITICAL)
_log = os.path.join(os.path.dirname(__file__), os.pardir,
                    "log-%s.txt" % (os.environ.get("WSCODEC_AUTO_INSTALL_CODEC") or "off"))
_handler = logging.FileHandler(_log, mode="w")
_handler.setLevel(logging.INFO)
_handler.setFormatter(logging.Formatter("%(levelname)s:%(name)s:%(message)s"))
logging.getLogger().addHandler(_handler)
"""


def compare_logs(tests: Path, codec: str) -> List[str]:
    """Records logged at INFO or above by tornado's suite, without and with the integration, as
    multisets of lines (first line of each; numbers, addresses and timings masked): the
    differences, one line each."""
    import collections
    import re

    def lines(label: str) -> "collections.Counter[str]":
        path = tests / ("log-%s.txt" % label)
        text = path.read_text() if path.exists() else ""
        return collections.Counter(
            re.sub(r"0x[0-9a-f]+|\d+(\.\d+)?", "#", line)
            for line in text.splitlines()
            if re.match(r"(INFO|WARNING|ERROR|CRITICAL):", line)
        )

    off, on = lines("off"), lines(codec)
    return ["%+d %s" % (on[k] - off[k], k) for k in sorted(set(off) | set(on)) if on[k] != off[k]]


def tornado_tests(work: Path, tree: Path) -> Path:
    """The sdist's tornado/test/websocket_test.py as tests/test_websocket.py in a directory of its
    own, so that it imports the installed tornado (as users get it), not the sdist's copy."""
    source = tree / "tornado" / "test" / "websocket_test.py"
    if not source.is_file():
        sys.exit("%s ships no tornado/test/websocket_test.py" % tree.name)
    target = work / "tornado-tests"
    if target.exists():
        shutil.rmtree(target)
    (target / "tests").mkdir(parents=True)
    (target / "tests" / "__init__.py").write_text(TORNADO_RUNNER_SETUP)
    shutil.copy(source, target / "tests" / "test_websocket.py")
    return target


#: the runner of each suite that says so itself: tornado's under unittest, as its own runner does
#: (under pytest, its warnings-as-errors setup turns a pytest collection warning into an error)
RUN_MODES = {"tornado": "unittest"}
#: environment a suite needs in the shared venv: aiohttp's tests use its own pytest plugin, and
#: pytest-asyncio (there for autobahn's) would fail their configuration
SUITE_ENV: Dict[str, Dict[str, str]] = {"aiohttp": {"PYTEST_ADDOPTS": "-p no:asyncio"}}


def websocket_client_tests(work: Path, tree: Path) -> Path:
    """The sdist's websocket/tests as a top-level ``tests`` package, so that they import the
    installed websocket-client (as users get it), not the sdist's copy beside them."""
    target = work / "websocket_client-tests"
    if target.exists():
        shutil.rmtree(target)
    if not (tree / "websocket" / "tests").is_dir():
        sys.exit("%s ships no tests: pin a version whose sdist does" % tree.name)
    shutil.copytree(tree / "websocket" / "tests", target / "tests")
    return target


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_echo_server(py: Path, tests: Path, env: Dict[str, str]) -> Tuple[subprocess.Popen, int]:
    """websocket-client's tests/echo-server.py on 127.0.0.1 (its suite's local server)."""
    port = free_port()
    env = {k: v for k, v in env.items() if not k.startswith("WSCODEC_")}
    env["LOCAL_WS_SERVER_PORT"] = str(port)
    script = tests / "tests" / "echo-server.py"
    proc = subprocess.Popen([str(py), str(script)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(200):  # bounded: 10 s
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc, port
        except OSError:
            if proc.poll() is not None:
                break
            time.sleep(0.05)
    proc.kill()
    proc.wait()
    sys.exit("websocket-client's echo-server.py did not start on port %d" % port)


#: where each library's suite comes from, when it is not the unpacked sdist itself
TEST_TREES = {"tornado": tornado_tests, "websocket_client": websocket_client_tests, "aiohttp": aiohttp_tests}


def suites(work: Path, lib: str, tree: Path) -> List[Tuple[str, Path, Optional[Tuple[str, str, Dict[str, str]]]]]:
    """(name, directory to run in, suite or None for the library's default) for each suite."""
    if lib == "autobahn":
        src = {"PYTHONPATH": str(tree / "src")}  # the sdist's modules, not the wheel's copies
        return [
            ("autobahn-%s" % flavour, tree, (mode, tests, dict(env, **src)))
            for flavour, (mode, tests, env) in AUTOBAHN_SUITES.items()
        ]
    if lib in TEST_TREES:
        return [(lib, TEST_TREES[lib](work, tree), None)]
    return [(lib, tree if lib == "wsproto" else websockets_tests(work, tree), None)]


def run_suite(
    py: Path,
    work: Path,
    lib: str,
    tests: Path,
    codec: Optional[str],
    suite: Optional[Tuple[str, str, Dict[str, str]]] = None,
    label: Optional[str] = None,
) -> dict:
    """One run; ``suite`` (mode, tests, environment) overrides the per-library defaults, and the
    run happens in ``tests`` (a directory) either way."""
    runner = work / "runner.py"
    runner.write_text(RUNNER)
    label = "%s-%s" % (label or lib, codec or "off")
    out = work / ("%s.json" % label)
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("WSCODEC_") and k != "PYTHONPATH" and k not in NETWORK_VARS
    }
    server = None
    if lib == "websocket_client":
        server, port = start_echo_server(py, tests, env)
        env["LOCAL_WS_SERVER_PORT"] = str(port)
    if codec:
        env["WSCODEC_AUTO_INSTALL"] = lib
        env["WSCODEC_AUTO_INSTALL_CODEC"] = codec
    flags = ["-bb"] if lib == "wsproto" else []  # as wsproto's tox runs it
    mode = RUN_MODES.get(lib) or ("unittest" if lib == "websockets" else "pytest")
    env.update(SUITE_ENV.get(lib, {}))
    target = str(tests)
    if suite is not None:
        mode, target, extra_env = suite
        env.update(extra_env)
    t0 = time.monotonic()
    try:
        with open(work / ("%s.log" % label), "w") as log:
            subprocess.run(
                [str(py), *flags, str(runner), mode, target, str(out)],
                cwd=str(tests),
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                check=False,
            )
    finally:
        if server is not None:
            server.terminate()
            try:
                server.wait(10)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
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
    parser.add_argument(
        "--websocket-client", default=PINS["websocket_client"], help="version (default %(default)s)"
    )
    parser.add_argument("--autobahn", default=PINS["autobahn"], help="version (default %(default)s)")
    parser.add_argument("--tornado", default=PINS["tornado"], help="version (default %(default)s)")
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
    pins = {
        "wsproto": args.wsproto,
        "websockets": args.websockets,
        "websocket_client": args.websocket_client,
        "autobahn": args.autobahn,
        "tornado": args.tornado,
        "aiohttp": args.aiohttp,
    }
    if args.only:
        pins = {args.only: pins[args.only]}
    ok = True
    try:
        py, trees = prepare(work, pins, args.wscodec)
        codecs = args.codecs.split(",") if args.codecs else built_codecs(py)
        print("setup: %.0f s; codecs: %s" % (time.monotonic() - started, ", ".join(codecs)))
        for lib, tree in trees.items():
            for name, tests, suite in suites(work, lib, tree):
                base = run_suite(py, work, lib, tests, None, suite, name)
                print(
                    "\n%s %s, integration off: %s (%.1f s)"
                    % (name, pins[lib], counts(base["results"]), base["seconds"])
                )
                for module, why in base["unavailable"].items():
                    print("  unavailable from the sdist: %s (%s)" % (module, why))
                if base["state"]["wscodec_imported"] or not base["results"]:
                    print("  FAIL: wscodec was imported with the switch off, or nothing ran")
                    ok = False
                for codec in codecs:
                    run = run_suite(py, work, lib, tests, codec, suite, name)
                    state = run["state"]
                    active = state.get("installed", {}).get(lib) == codec
                    print(
                        "%s %s, integration on (codec %s): %s (%.1f s)%s"
                        % (
                            name,
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
                    if lib == "tornado":
                        for line in compare_logs(tests, codec):
                            print("  LOG DIFF %s" % line)
                            unexpected.append(line)
                    ok = ok and active and not unexpected
    finally:
        if args.workdir is None:
            shutil.rmtree(work, ignore_errors=True)
    print("\n%s in %.0f s" % ("same results" if ok else "DIFFERENT RESULTS", time.monotonic() - started))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
