"""``python -m wscodec bench --quick`` runs and prints its table, once per backend.

The child process's environment selects the backend (WSCODEC_NO_EXTENSIONS=1 for "python",
WSCODEC_REQUIRE_EXTENSIONS=1 for "c"). Only the shape of the output is checked, never a timing.
"""
from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
from typing import Dict, List

import wscodec

FLAGS = ("WSCODEC_NO_EXTENSIONS", "WSCODEC_REQUIRE_EXTENSIONS")
IMPORT_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(wscodec.__file__)))
COLUMNS = ["workload", "size", "implementation", "time/op", "throughput", "ratio"]
# Every workload family the command runs (labels start with these).
WORKLOADS = ("apply_mask", "mask_inplace", "utf8 ascii", "utf8 chinese", "utf8 emoji",
             "frames 16 B x 10000", "frames 1 KiB x 1000", "frames 1 MiB x 1", "accept_key",
             "build_frame text server", "build_frame text client", "decode_text ascii", "decode_text latin1",
             "decode_text chinese", "decode_text mixed", "encode_text ascii", "encode_text latin1",
             "encode_text chinese", "encode_text mixed")
TIME = re.compile(r"^[0-9.]+(e[+-]?[0-9]+)? (ns|us|ms|s)$")


def env_for(backend_name: str) -> Dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in FLAGS}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [IMPORT_ROOT, env.get("PYTHONPATH")]))
    env["WSCODEC_NO_EXTENSIONS" if backend_name == "python" else "WSCODEC_REQUIRE_EXTENSIONS"] = "1"
    return env


def run(argv: List[str], env: Dict[str, str], cwd: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable] + argv, env=env, cwd=cwd, capture_output=True,
                          text=True, timeout=600)


def table_rows(stdout: str) -> List[List[str]]:
    """The table's data rows, split into columns (cells are separated by 2+ spaces)."""
    lines = stdout.splitlines()
    head = next(i for i, line in enumerate(lines) if line.split() == COLUMNS)
    assert set(lines[head + 1].replace(" ", "")) == {"-"}, "no rule under the header"
    rows = []
    for line in lines[head + 2:]:
        if re.match(r"^\d+ measurements in ", line):
            break
        if line.strip():
            rows.append(re.split(r"\s{2,}", line.strip()))
    return rows


def test_bench_quick_prints_a_table(backend, tmp_path):
    mine = "wscodec[%s]" % backend.name
    out_json = tmp_path / "bench.json"
    argv = ["-m", "wscodec", "bench", "--quick", "--json", str(out_json)]
    plotting = importlib.util.find_spec("matplotlib") is not None
    if plotting:
        argv += ["--plot", str(tmp_path / "bench.png")]
    proc = run(argv, env_for(backend.name), str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout

    assert "backend: %s" % backend.name in out
    for key in ("cpu: ", "python: ", "date: ", "references: ", "ratio = "):
        assert key in out, "header lacks %r" % key

    rows = table_rows(out)
    assert rows and all(len(r) == len(COLUMNS) for r in rows), rows
    for family in WORKLOADS:
        mine_rows = [r for r in rows if r[0].startswith(family) and r[2] == mine]
        assert mine_rows, "no %s row for %s" % (mine, family)
        for r in mine_rows:  # wscodec itself is always measured and is the ratio's base
            assert TIME.match(r[3]), r
            assert re.match(r"^[0-9.e+-]+ (GB/s|MB/s|Mop/s)$", r[4]), r
            assert r[5] == "1.00x (base)", r
    if backend.name == "c":  # the pure-Python backend shows too, as a reference
        assert any(r[2] == "wscodec[python]" and TIME.match(r[3]) for r in rows)
    for r in rows:
        assert r[5] != "wrong result", r
        if TIME.match(r[3]):
            assert re.match(r"^[0-9.]+x( \(base\))?$", r[5]), r

    doc = json.loads(out_json.read_text())
    assert doc["environment"]["backend"] == backend.name
    assert len(doc["results"]) == len(rows)
    first = doc["results"][0]
    assert first["implementation"] == mine and first["seconds"] > 0 and first["ratio"] == 1.0
    if plotting:
        assert (tmp_path / "bench.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_bench_plot_without_matplotlib_is_a_clear_error(backend, tmp_path):
    code = ("import sys; sys.modules['matplotlib'] = None\n"  # makes `import matplotlib` fail
            "from wscodec.benchmark import main\n"
            "sys.exit(main(['--quick', '--plot', 'out.png']))\n")
    proc = run(["-c", code], env_for(backend.name), str(tmp_path))
    assert proc.returncode == 2
    assert "matplotlib" in proc.stderr
    assert not (tmp_path / "out.png").exists()
