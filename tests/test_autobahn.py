"""Autobahn TestSuite (wstest) against the real wscodec server and client, once per backend.

* fuzzingclient: wstest tests ``python -m wscodec serve --port 0`` (cases 1.* to 10.*);
* fuzzingserver: wstest serves the cases and ``python -m wscodec.asyncio.autobahn_client`` runs them;
* the ``*_compression`` twins run the permessage-deflate cases 12.* and 13.* the same two ways.
  All of them take ~14 minutes per run, too long for CI four times over, so
  ``WSCODEC_AUTOBAHN_COMPRESSION`` picks: "subset" (default, 36 cases: the 12.1.* and 13.1.*
  cases up to 64 KiB messages, plus case .11, 8 KiB messages fragmented to 256 bytes, of every
  other subsection: the other payloads of 12, every parameter combination of 13), "full" (all
  216 cases of 12.* and 13.*), or "off".

The bar: no case may be FAILED or NON-STRICT (behavior or behaviorClose); INFORMATIONAL and
UNIMPLEMENTED are reported, not failed (``WSCODEC_AUTOBAHN_FAIL_ON`` overrides the list). Each run
writes its report under build/autobahn/<mode>-<backend>/ and the counts and wall time to
build/autobahn/summary-<mode>-<backend>.json.

wstest comes from ../shared/autobahn/install_wstest.sh (into ~/.cache/wscodec-wstest, or
$WSTEST_VENV). Without it these tests skip, unless WSCODEC_REQUIRE_AUTOBAHN=1 (CI), which makes
them fail. ``AB_CASES='["1.*"]'`` narrows a run for debugging (the summary records it).
"""
from __future__ import annotations

import collections
import datetime
import importlib.util
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Dict, List, Optional

import pytest

from ._peers import AUTOBAHN_DIR, RESULTS_DIR, ServerProcess, backend_env, run_bounded, \
    skip_or_fail, tail

pytestmark = [pytest.mark.autobahn, pytest.mark.slow]

BEHAVIORS = ["OK", "NON-STRICT", "INFORMATIONAL", "UNIMPLEMENTED", "FAILED"]
NOT_A_PROBLEM = {"OK", "INFORMATIONAL", "UNIMPLEMENTED"}
FAIL_ON = {b.strip().upper() for b in os.environ.get("WSCODEC_AUTOBAHN_FAIL_ON", "NON-STRICT,FAILED").split(",")
           if b.strip()}
#: wall-clock limit for one wstest run (seconds); a normal run takes well under a minute.
TIMEOUT = float(os.environ.get("WSCODEC_AUTOBAHN_TIMEOUT", "900"))
REQUIRE = "WSCODEC_REQUIRE_AUTOBAHN"
CLIENT_MODULE = "wscodec.asyncio.autobahn_client"
COMPRESSION = os.environ.get("WSCODEC_AUTOBAHN_COMPRESSION", "subset").strip().lower()
# Every 12.1 / 13.1 case but the 128 KiB-message ones (.10, .15-.18: each ~15 s of wstest's own
# time, 150 s of a 270 s run) and case .11 (8 KiB messages fragmented to 256 bytes) of every other
# subsection: 36 cases, about 50 s per run here (the four runs: 3.5 minutes; a full run: 12-25).
COMPRESSION_SUBSET = (["%d.1.%d" % (s, c) for s in (12, 13) for c in list(range(1, 10)) + list(range(11, 15))]
                      + ["12.%d.11" % i for i in range(2, 6)] + ["13.%d.11" % i for i in range(2, 8)])
FULL_TIMEOUT = max(TIMEOUT, 2400.0)  # a full 12/13 run took 12-25 minutes here


def compression_cases() -> tuple:
    """(AB_CASES list, wstest timeout) for the 12/13 runs, or skip."""
    if COMPRESSION == "off":
        pytest.skip("WSCODEC_AUTOBAHN_COMPRESSION=off")
    if COMPRESSION == "full":
        return ["12.*", "13.*"], FULL_TIMEOUT
    if COMPRESSION != "subset":
        pytest.fail("WSCODEC_AUTOBAHN_COMPRESSION must be subset, full or off, not %r" % COMPRESSION,
                    pytrace=False)
    return COMPRESSION_SUBSET, TIMEOUT


@pytest.fixture(scope="module")
def wstest() -> Path:
    """The wstest executable, or skip (fail under WSCODEC_REQUIRE_AUTOBAHN=1)."""
    for script in ("run_fuzzingclient.sh", "run_fuzzingserver.sh", "wstest_loopback.py"):
        if not (AUTOBAHN_DIR / script).is_file():
            skip_or_fail(REQUIRE, "Autobahn helper scripts not found at %s (expected ../shared/autobahn "
                                  "beside the repo, or set WSCODEC_AUTOBAHN_DIR)" % AUTOBAHN_DIR)
    if shutil.which("bash") is None:
        skip_or_fail(REQUIRE, "bash is needed to run the Autobahn helper scripts")
    explicit = os.environ.get("WSTEST")
    venv = Path(os.environ.get("WSTEST_VENV") or Path.home() / ".cache" / "wscodec-wstest")
    path = Path(explicit) if explicit else venv / "bin" / "wstest"
    if not os.access(path, os.X_OK):
        skip_or_fail(REQUIRE, "wstest (Autobahn TestSuite) is not installed at %s; run "
                              "%s/install_wstest.sh" % (path, AUTOBAHN_DIR))
    try:
        probe = subprocess.run([str(path), "-a"], capture_output=True, timeout=60, text=True)
    except (OSError, subprocess.TimeoutExpired) as exc:
        skip_or_fail(REQUIRE, "wstest at %s does not run: %s" % (path, exc))
    if probe.returncode != 0:
        skip_or_fail(REQUIRE, "wstest at %s does not run (exit %s): %s"
                     % (path, probe.returncode, (probe.stdout + probe.stderr)[-500:]))
    return path


def _versions(wstest: Path) -> str:
    try:
        out = subprocess.run([str(wstest), "-a"], capture_output=True, timeout=60, text=True).stdout
    except (OSError, subprocess.TimeoutExpired):
        return "?"
    return ", ".join(line.strip() for line in out.splitlines() if line.strip())


def _case_key(cid: str) -> tuple:
    return tuple(int(p) if p.isdigit() else 0 for p in cid.split("."))


def _case_detail(report_dir: Path, cid: str, entry: Dict[str, Any]) -> Dict[str, Any]:
    """What wstest expected and what it observed for one case, from its per-case JSON."""
    detail: Dict[str, Any] = {"id": cid, "behavior": entry.get("behavior"),
                              "behaviorClose": entry.get("behaviorClose"),
                              "remoteCloseCode": entry.get("remoteCloseCode")}
    try:
        case = json.loads((report_dir / entry["reportfile"]).read_text(encoding="utf-8"))
    except (KeyError, OSError, ValueError) as exc:
        detail["error"] = "per-case report unreadable: %s" % exc
        return detail
    received = case.get("received") or []
    for key in ("description", "expectation", "result", "resultClose", "expectedClose", "remoteCloseReason",
                "localCloseCode", "localCloseReason", "wasClean", "wasNotCleanReason", "droppedByMe",
                "failedByMe", "wasCloseHandshakeTimeout", "wasServerConnectionDropTimeout"):
        detail[key] = case.get(key)
    detail["expected"] = _shorten(case.get("expected"))
    detail["received"] = _shorten(received[:5]) + (" (+%d more)" % (len(received) - 5) if len(received) > 5 else "")
    return detail


def _shorten(value: Any, limit: int = 300) -> str:
    text = json.dumps(value, ensure_ascii=True)
    return text if len(text) <= limit else text[:limit] + "...(%d chars)" % len(text)


def summarize(mode: str, backend: str, report_dir: Path, agent: str, wall: float,
              extra: Dict[str, Any]) -> Dict[str, Any]:
    index = report_dir / "index.json"
    if not index.is_file():
        pytest.fail("wstest left no report at %s (a run cut short writes none)" % index, pytrace=False)
    data = json.loads(index.read_text(encoding="utf-8"))
    assert agent in data, "agent %r not in report %s (agents: %s)" % (agent, index, sorted(data))
    cases = data[agent]
    counts = collections.Counter(r.get("behavior", "?") for r in cases.values())
    close_counts = collections.Counter(r.get("behaviorClose", "?") for r in cases.values())
    problems: List[Dict[str, Any]] = []
    notes: Dict[str, List[str]] = collections.defaultdict(list)
    for cid in sorted(cases, key=_case_key):
        entry = cases[cid]
        beh, bclose = entry.get("behavior", "?"), entry.get("behaviorClose", "?")
        # behaviorClose also has WRONG CODE and UNCLEAN (always problems), besides the BEHAVIORS.
        close_bad = bclose not in NOT_A_PROBLEM and (bclose in FAIL_ON or bclose not in BEHAVIORS)
        if beh in FAIL_ON or close_bad:
            problems.append(_case_detail(report_dir, cid, entry))
        elif beh != "OK":
            notes[beh].append(cid)
    return {
        "mode": mode,
        "backend": backend,
        "agent": agent,
        "cases_selected": json.loads(os.environ.get("AB_CASES", '["*"]')),
        "total": len(cases),
        "counts": {b: counts.get(b, 0) for b in BEHAVIORS} | {k: v for k, v in counts.items() if k not in BEHAVIORS},
        "close_counts": dict(close_counts),
        "fail_on": sorted(FAIL_ON),
        "wall_time_s": round(wall, 1),
        "sum_case_durations_s": round(sum((r.get("duration") or 0) for r in cases.values()) / 1000.0, 1),
        "not_ok_but_accepted": dict(notes),
        "problems": problems,
        "report": str(index),
        "python": "%s %s" % (platform.python_implementation(), platform.python_version()),
        "machine": platform.machine(),
        "when": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        **extra,
    }


def publish(summary: Dict[str, Any], capsys: pytest.CaptureFixture) -> None:
    """Write the JSON summary and print the counts line (to the terminal, even under capture)."""
    path = RESULTS_DIR / "autobahn" / ("summary-%s-%s.json" % (summary["mode"], summary["backend"]))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    c = summary["counts"]
    line = ("autobahn %s [%s]: %d cases: OK %d / NON-STRICT %d / INFORMATIONAL %d / UNIMPLEMENTED %d / "
            "FAILED %d in %.1fs wall (summary: %s)"
            % (summary["mode"], summary["backend"], summary["total"], c["OK"], c["NON-STRICT"],
               c["INFORMATIONAL"], c["UNIMPLEMENTED"], c["FAILED"], summary["wall_time_s"], path))
    with capsys.disabled():
        print("\n" + line)


def assert_no_problems(summary: Dict[str, Any], logs: List[Path]) -> None:
    problems = summary["problems"]
    if not problems:
        return
    lines = ["%d Autobahn case(s) with behavior in %s (%s, backend %s; report %s):"
             % (len(problems), summary["fail_on"], summary["mode"], summary["backend"], summary["report"])]
    for p in problems[:25]:
        lines.append("  %s %s/%s: %s" % (p["id"], p["behavior"], p["behaviorClose"], p.get("description")))
        lines.append("      expected: %s; close %s" % (p.get("expectation"), p.get("expectedClose")))
        lines.append("      observed: %s; %s (remote close %s %r, wasClean %s)"
                     % (p.get("result"), p.get("resultClose"), p.get("remoteCloseCode"),
                        p.get("remoteCloseReason"), p.get("wasClean")))
    if len(problems) > 25:
        lines.append("  ... and %d more (see the summary JSON)" % (len(problems) - 25))
    for log in logs:
        lines.append("--- tail of %s:\n%s" % (log, tail(log, 15)))
    pytest.fail("\n".join(lines), pytrace=False)


def _fresh_dir(path: Path) -> Path:
    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True)
    return path


def test_fuzzingclient_against_server(backend: Any, wstest: Path, capsys: pytest.CaptureFixture) -> None:
    """wstest -m fuzzingclient against ``python -m wscodec serve`` running ``backend``."""
    run_fuzzingclient(backend, wstest, capsys, "fuzzingclient", {}, TIMEOUT)


def test_fuzzingclient_compression(backend: Any, wstest: Path, capsys: pytest.CaptureFixture) -> None:
    """Cases 12.*/13.* (permessage-deflate) against the echo server: see WSCODEC_AUTOBAHN_COMPRESSION."""
    cases, timeout = compression_cases()
    run_fuzzingclient(backend, wstest, capsys, "fuzzingclient-deflate",
                      {"AB_COMPRESSION": "1", "AB_CASES": json.dumps(cases)}, timeout)


def run_fuzzingclient(backend: Any, wstest: Path, capsys: pytest.CaptureFixture, mode: str,
                      extra_env: Dict[str, str], timeout: float) -> None:
    name = backend.name
    out = _fresh_dir(RESULTS_DIR / "autobahn" / ("%s-%s" % (mode, name)))
    agent = "wscodec-%s" % name
    env = dict(os.environ, WSTEST=str(wstest), AB_AGENT=agent, AB_TIMEOUT=str(int(timeout)), **extra_env)
    with ServerProcess(name, out / "server.log") as server:
        assert server.reported_backend in (None, name), \
            "server runs backend %r, expected %r: %s" % (server.reported_backend, name, server.listening_line)
        start = time.monotonic()
        rc = run_bounded(["bash", str(AUTOBAHN_DIR / "run_fuzzingclient.sh"), server.url, str(out)],
                         out / "run.log", timeout=timeout + 60, env=env)
        wall = time.monotonic() - start
        alive = server.proc is not None and server.proc.poll() is None
        shutdown_rc = server.stop()
    summary = summarize(mode, name, out / "servers", agent, wall, {
        "peer": server.listening_line, "wstest": _versions(wstest), "script_exit": rc,
        "server_alive_after_run": alive, "server_exit_on_sigterm": shutdown_rc,
        "cases_selected": json.loads(env.get("AB_CASES", '["*"]')), "deflate_library": deflate_library(),
    })
    publish(summary, capsys)
    assert_no_problems(summary, [out / "server.log", out / "run.log"])
    assert alive, "the server died during the run:\n%s" % tail(out / "server.log")


def test_fuzzingserver_against_client(backend: Any, wstest: Path, capsys: pytest.CaptureFixture) -> None:
    """wstest -m fuzzingserver (on 127.0.0.1) driving ``python -m wscodec.asyncio.autobahn_client``."""
    run_fuzzingserver(backend, wstest, capsys, "fuzzingserver", {}, TIMEOUT)


def test_fuzzingserver_compression(backend: Any, wstest: Path, capsys: pytest.CaptureFixture) -> None:
    """Cases 12.*/13.* (permessage-deflate) against the client: see WSCODEC_AUTOBAHN_COMPRESSION."""
    cases, timeout = compression_cases()
    run_fuzzingserver(backend, wstest, capsys, "fuzzingserver-deflate",
                      {"AB_COMPRESSION": "1", "AB_CASES": json.dumps(cases)}, timeout)


def deflate_library() -> str:
    from wscodec.deflate import load_library

    return load_library()[0]


def run_fuzzingserver(backend: Any, wstest: Path, capsys: pytest.CaptureFixture, mode: str,
                      extra_env: Dict[str, str], timeout: float) -> None:
    name = backend.name
    module = CLIENT_MODULE
    try:
        found = importlib.util.find_spec(module) is not None
    except ImportError:
        found = False
    assert found, "%s is missing: the Autobahn echo client entry point is part of the package" % module
    out = _fresh_dir(RESULTS_DIR / "autobahn" / ("%s-%s" % (mode, name)))
    agent = "wscodec-%s" % name
    env = backend_env(name, {"WSTEST_PY": str(wstest.parent / "python"), "AB_AGENT": agent,
                             "AB_TIMEOUT": str(int(timeout)), **extra_env})
    # wstest (Python 2.7) runs with this environment too: the client alone gets the PYTHONPATH
    # that finds this wscodec, or wstest would import the Python 3 packages found there.
    client_path = env.pop("PYTHONPATH")
    start = time.monotonic()
    rc = run_bounded(["bash", str(AUTOBAHN_DIR / "run_fuzzingserver.sh"), str(out),
                      "env", "PYTHONPATH=" + client_path,
                      sys.executable, "-m", module, "--url", "{url}", "--backend", name],
                     out / "run.log", timeout=timeout + 60, env=env)
    wall = time.monotonic() - start
    match = re.search(r"client exit (\d+)", (out / "run.log").read_text(errors="replace"))
    client_rc: Optional[int] = int(match.group(1)) if match else None
    client_log = (out / "client.log").read_text(errors="replace") if (out / "client.log").exists() else ""
    said = re.search(r"backend: ([\w-]+)", client_log)
    assert said is None or said.group(1) == name, "client ran backend %r, expected %r" % (said.group(1), name)
    summary = summarize(mode, name, out / "clients", agent, wall, {
        "peer": "%s -m %s (%s backend)" % (sys.executable, module, name), "wstest": _versions(wstest),
        "script_exit": rc, "client_exit": client_rc,
        "cases_selected": json.loads(env.get("AB_CASES", '["*"]')), "deflate_library": deflate_library(),
    })
    publish(summary, capsys)
    assert_no_problems(summary, [out / "client.log", out / "run.log", out / "wstest.log"])
    assert client_rc == 0, "the client exited with %s:\n%s" % (client_rc, tail(out / "client.log"))
