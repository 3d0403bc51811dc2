#!/usr/bin/env python3
"""Run uvicorn's own WebSocket tests against wscodec.integrations.uvicorn:WebSocketProtocol.

uvicorn's tests/protocols/test_websocket.py is parametrized over WebSocket protocol classes by the
``ws_protocol_cls`` fixture in its tests/conftest.py. A pytest plugin (written to a temp dir, not
into uvicorn's tree) rewrites that fixture as the conftest is registered, adding
``wscodec`` to its params; nothing in uvicorn's files is modified. The sdist of the installed
uvicorn version is fetched with ``pip download`` (or pass ``--src`` to an unpacked sdist).

    python scripts/run_uvicorn_tests.py              # baseline run, then the run with ours
    python scripts/run_uvicorn_tests.py --no-baseline -k wscodec

Needs: uvicorn wsproto websockets httpx2 trustme pytest-mock anyio (httptools for that HTTP impl).
Prints passed/failed/skipped per ws implementation and lists the failures of ours.
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


def run(src: Path, plugin_dir: Path, add: bool, extra: List[str]) -> Dict[str, str]:
    results = plugin_dir / ("results-%d.json" % add)
    env = dict(os.environ, WSCODEC_UVT_RESULTS=str(results), WSCODEC_UVT_ADD="1" if add else "0")
    # uvicorn's package must come from site-packages (what the class is tested against), wscodec
    # from this checkout; the sdist's tests/ package from its root (cwd).
    env["PYTHONPATH"] = os.pathsep.join([str(plugin_dir), str(ROOT / "src")])
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


def summarize(label: str, outcomes: Dict[str, str]) -> None:
    table: Dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    for nodeid, outcome in outcomes.items():
        ids = nodeid.partition("[")[2].rstrip("]").split("-")
        impl = "wscodec" if "wscodec" in ids else ("websockets-sansio" if "sansio" in ids else "wsproto")
        table[impl][outcome.split(":")[0]] += 1
    print("== %s" % label)
    for impl in sorted(table):
        c = table[impl]
        print("  %-18s passed %4d  failed %3d  skipped %3d" % (impl, c["passed"], c["failed"], c["skipped"]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--src", type=Path, help="an unpacked uvicorn sdist (default: pip download it)")
    ap.add_argument("--no-baseline", action="store_true", help="skip the run without our class")
    ap.add_argument("pytest_args", nargs="*", help="extra pytest arguments (after --)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="wscodec-uvt-") as tmp:
        tmpdir = Path(tmp)
        (tmpdir / "wscodec_uvt_plugin.py").write_text(PLUGIN)
        src = args.src or fetch_sdist(tmpdir)
        if not args.no_baseline:
            summarize("uvicorn's tests, built-in implementations only", run(src, tmpdir, False, args.pytest_args))
        outcomes = run(src, tmpdir, True, args.pytest_args)
        summarize("uvicorn's tests with wscodec added", outcomes)
        failed = {k: v for k, v in outcomes.items() if "wscodec" in k and v.startswith("failed")}
        for nodeid, outcome in sorted(failed.items()):
            print("  FAIL %s\n       %s" % (nodeid.split("::")[-1], outcome[8:]))
        sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
