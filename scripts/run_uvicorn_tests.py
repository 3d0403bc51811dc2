#!/usr/bin/env python3
"""Run uvicorn's own WebSocket tests against wscodec: its protocol class, and the integrations.

uvicorn's tests/protocols/test_websocket.py is parametrized over WebSocket protocol classes by the
``ws_protocol_cls`` fixture in its tests/conftest.py. A pytest plugin (written to a temp dir, not
into uvicorn's tree) rewrites that fixture as the conftest is registered, adding
``wscodec.integrations.uvicorn:WebSocketProtocol`` to its params, or installs the wsproto and
websockets integrations before the tests run; nothing in uvicorn's files is modified. The sdist of
the installed uvicorn version is fetched with ``pip download`` (or pass ``--src``).

Two runs of the same tests:

1. uvicorn's built-in implementations (wsproto, websockets-sansio) as they are, plus ours, which
   may fail only the KNOWN_FAILURES below (each with its reason);
2. the built-ins with ``wscodec.integrations.install("wsproto")`` and ``("websockets")``: every
   result must be the same as the built-ins' in run 1.

    python scripts/run_uvicorn_tests.py                      # both runs; exit 1 on a difference
    python scripts/run_uvicorn_tests.py --installed          # wscodec from site-packages, not src/
    python scripts/run_uvicorn_tests.py --only ours -- -k keepalive

Needs (CI pins them): uvicorn wsproto websockets httpx2 trustme cryptography pytest-mock httptools.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path
from typing import Dict, List

ROOT = Path(__file__).resolve().parent.parent
OURS = "wscodec.integrations.uvicorn:WebSocketProtocol"
#: Tests of uvicorn's that ours cannot pass, by function name, with the reason.
KNOWN_FAILURES = {
    "test_server_keepalive_ping_pong": "asserts isinstance(protocol, (uvicorn's two built-in classes))",
    "test_server_keepalive_disabled": "asserts isinstance(protocol, (uvicorn's two built-in classes))",
    "test_close_resumes_reads_paused_on_an_unconsumed_message": (
        "asserts that reading pauses after one unread message; ours reads on up to ws_max_queue "
        "messages or 4 MiB, so that the peer's close and pongs get through (README, flow control)"
    ),
}

PLUGIN = r'''
import json, os
import pytest

OURS = %(ours)r
RESULTS = os.environ["WSCODEC_UVT_RESULTS"]
_outcomes = {}


@pytest.hookimpl(tryfirst=True)
def pytest_plugin_registered(plugin, manager):
    """Before pytest parses the conftest's fixtures, add ours to ws_protocol_cls's params."""
    if os.environ.get("WSCODEC_UVT_ADD") != "1":
        return
    name = getattr(plugin, "__name__", "")
    if not name.endswith("conftest") or not hasattr(plugin, "ws_protocol_cls"):
        return
    old = plugin.ws_protocol_cls
    marker = getattr(old, "_fixture_function_marker", None)
    params = list(marker.params) if marker is not None and marker.params else []
    from uvicorn.importer import import_from_string

    def ws_protocol_cls(request):
        return import_from_string(request.param)

    params.append(pytest.param(OURS, id="wscodec"))
    plugin.ws_protocol_cls = pytest.fixture(params=params)(ws_protocol_cls)


def pytest_runtest_logreport(report):
    prev = _outcomes.get(report.nodeid)
    if report.when == "call" or report.outcome != "passed":
        if prev in (None, "passed"):
            msg = ""
            if report.outcome == "failed":
                msg = str(report.longrepr).strip().splitlines()[-1][:300]
            _outcomes[report.nodeid] = report.outcome if not msg else "failed: " + msg


def pytest_configure(config):
    if os.environ.get("WSCODEC_UVT_INTEGRATIONS") == "1":
        import wscodec.integrations

        wscodec.integrations.install("wsproto")
        wscodec.integrations.install("websockets")
        _outcomes["__installed__"] = wscodec.integrations.installed()


def pytest_sessionfinish(session):
    with open(RESULTS, "w") as f:
        json.dump(_outcomes, f)
''' % {"ours": OURS}


def fetch_sdist(dest: Path) -> Path:
    import uvicorn

    version = uvicorn.__version__
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--no-binary", ":all:",
         "-d", str(dest), "uvicorn==%s" % version],
        check=True,
    )
    archive = next(dest.glob("uvicorn-*.tar.gz"))
    with tarfile.open(archive) as tar:
        tar.extractall(dest, filter="data")
    src = dest / ("uvicorn-%s" % version)
    if not (src / "tests" / "protocols" / "test_websocket.py").exists():
        raise SystemExit("the uvicorn %s sdist ships no tests/protocols/test_websocket.py" % version)
    return src


def run(src: Path, plugin_dir: Path, mode: str, extra: List[str], installed: bool) -> Dict[str, str]:
    """mode: "ours" (our class added to the built-ins) or "integrations" (wsproto and websockets
    patched, the built-ins only)."""
    results = plugin_dir / ("results-%s.json" % mode)
    env = dict(os.environ, WSCODEC_UVT_RESULTS=str(results),
               WSCODEC_UVT_ADD="1" if mode == "ours" else "0",
               WSCODEC_UVT_INTEGRATIONS="1" if mode == "integrations" else "0")
    env.pop("WSCODEC_AUTO_INSTALL", None)
    # uvicorn's package must come from site-packages (what the class is tested against), wscodec
    # from this checkout unless --installed; the sdist's tests/ package from its root (cwd).
    env["PYTHONPATH"] = os.pathsep.join([str(plugin_dir)] + ([] if installed else [str(ROOT / "src")]))
    cmd = [
        sys.executable, "-m", "pytest", "-q", "-o", "addopts=", "-p", "no:cacheprovider",
        "-p", "no:asyncio", "-p", "wscodec_uvt_plugin", "tests/protocols/test_websocket.py",
    ] + extra
    proc = subprocess.run(cmd, cwd=src, env=env, capture_output=True, text=True, timeout=1800)
    if not results.exists():
        sys.stdout.write(proc.stdout[-4000:] + proc.stderr[-4000:])
        raise SystemExit("pytest produced no results")
    with open(results) as f:
        return json.load(f)


def impl_of(nodeid: str) -> str:
    ids = nodeid.partition("[")[2].rstrip("]").split("-")
    return "wscodec" if "wscodec" in ids else ("websockets-sansio" if "sansio" in ids else "wsproto")


def summarize(label: str, outcomes: Dict[str, str]) -> None:
    table: Dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    for nodeid, outcome in outcomes.items():
        if nodeid != "__installed__":
            table[impl_of(nodeid)][outcome.split(":")[0]] += 1
    print("== %s" % label)
    for impl in sorted(table):
        c = table[impl]
        print("  %-18s passed %4d  failed %3d  skipped %3d" % (impl, c["passed"], c["failed"], c["skipped"]))


def differences(base: Dict[str, str], other: Dict[str, str], label: str) -> List[str]:
    """Tests of the built-in implementations whose outcome differs between two runs."""
    out = []
    for nodeid in sorted(set(base) | set(other)):
        if nodeid == "__installed__" or impl_of(nodeid) == "wscodec":
            continue
        a, b = base.get(nodeid, "missing"), other.get(nodeid, "missing")
        if a.split(":")[0] != b.split(":")[0]:
            out.append("%s: %s %s (baseline: %s)" % (label, nodeid, b, a))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--src", type=Path, help="an unpacked uvicorn sdist (default: pip download it)")
    ap.add_argument("--installed", action="store_true", help="test the installed wscodec, not src/")
    ap.add_argument("--only", choices=["ours", "integrations"], help="one run, no comparison")
    ap.add_argument("pytest_args", nargs="*", help="extra pytest arguments (after --)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="wscodec-uvt-") as tmp:
        tmpdir = Path(tmp)
        (tmpdir / "wscodec_uvt_plugin.py").write_text(PLUGIN)
        src = args.src or fetch_sdist(tmpdir)
        modes = [args.only] if args.only else ["ours", "integrations"]
        runs = {}
        for mode in modes:
            runs[mode] = run(src, tmpdir, mode, args.pytest_args, args.installed)
            summarize({"ours": "built-in implementations and wscodec.integrations.uvicorn:WebSocketProtocol",
                       "integrations": "built-ins with the wsproto and websockets integrations"}[mode], runs[mode])
        problems: List[str] = []
        if "ours" in runs:
            ours = {k: v for k, v in runs["ours"].items() if impl_of(k) == "wscodec"}
            if not any(v == "passed" for v in ours.values()):
                problems.append("ours: nothing passed")
            for nodeid, outcome in sorted(ours.items()):
                if outcome.startswith("failed"):
                    name = nodeid.split("::")[-1].partition("[")[0]
                    if name in KNOWN_FAILURES:
                        print("  known failure %s: %s" % (nodeid.split("::")[-1], KNOWN_FAILURES[name]))
                    else:
                        problems.append("ours: %s %s" % (nodeid.split("::")[-1], outcome))
        if "integrations" in runs:
            got = runs["integrations"].get("__installed__") or {}
            if set(got) != {"wsproto", "websockets"}:
                problems.append("integrations: not installed in the test process (%r)" % (got,))
        if len(runs) == 2:
            problems += differences(runs["ours"], runs["integrations"], "integrations")
        for p in problems:
            print("  DIFFERENCE " + p)
        print("same results" if not problems else "%d difference(s)" % len(problems))
        sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
