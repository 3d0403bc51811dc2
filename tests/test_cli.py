"""``python -m wscodec info`` and backend selection by environment, in fresh interpreters.

Each test runs once per backend: the backend parameter says which backend the child process's
environment asks for (WSCODEC_NO_EXTENSIONS=1 for "python", WSCODEC_REQUIRE_EXTENSIONS=1 for "c").
"""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from typing import Dict, Optional

import wscodec

FLAGS = ("WSCODEC_NO_EXTENSIONS", "WSCODEC_REQUIRE_EXTENSIONS")
# The directory wscodec was imported from (src/ in a checkout, site-packages when installed).
IMPORT_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(wscodec.__file__)))


def child_env(**flags: str) -> Dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in FLAGS}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [IMPORT_ROOT, env.get("PYTHONPATH")]))
    env.update(flags)
    return env


def env_for(backend_name: str) -> Dict[str, str]:
    if backend_name == "python":
        return child_env(WSCODEC_NO_EXTENSIONS="1")
    return child_env(WSCODEC_REQUIRE_EXTENSIONS="1")


def run(args, env, code: Optional[str] = None) -> subprocess.CompletedProcess:
    argv = [sys.executable] + (["-c", textwrap.dedent(code)] if code is not None else list(args))
    return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120, cwd=IMPORT_ROOT)


PRINT_SELECTION = """
    import wscodec
    print(wscodec.BACKEND, wscodec.HAS_EXTENSIONS, wscodec.apply_mask.__module__)
"""

# A meta-path hook that makes every compiled module unimportable: a checkout without a build, or
# a broken one, whether or not this machine has built the extension.
BLOCK_C = """
    import sys
    class Block:
        def find_spec(self, name, path=None, target=None):
            if name.startswith("wscodec._c."):
                raise ImportError("compiled backend blocked by the test")
            return None
    sys.meta_path.insert(0, Block())
"""


def test_info_prints_the_backend(backend):
    proc = run(["-m", "wscodec", "info"], env_for(backend.name))
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert "wscodec %s" % wscodec.__version__ in lines
    assert "backend: %s" % backend.name in lines
    if backend.name == "c":
        assert "extensions built: yes" in lines


def test_info_names_the_deflate_library(backend):
    env = dict(env_for(backend.name), WSCODEC_DEFLATE="zlib")
    lines = run(["-m", "wscodec", "info"], env).stdout.splitlines()
    assert "permessage-deflate: zlib (zlib; WSCODEC_DEFLATE chooses)" in lines
    env["WSCODEC_DEFLATE"] = "no-such-library"
    proc = run(["-m", "wscodec", "info"], env)
    assert proc.returncode == 0, proc.stderr
    assert any(line.startswith("permessage-deflate: unavailable (unknown deflate library") for line in
               proc.stdout.splitlines())


def test_cli_rejects_bad_usage(backend):
    env = env_for(backend.name)
    for args in (["-m", "wscodec"], ["-m", "wscodec", "info", "extra"], ["-m", "wscodec", "nonsense"]):
        proc = run(args, env)
        assert proc.returncode == 2, (args, proc.stdout, proc.stderr)
        assert "usage:" in proc.stderr


def test_selection_follows_the_environment(backend):
    """The backend the environment asks for is the one wscodec's public API comes from."""
    proc = run(None, env_for(backend.name), PRINT_SELECTION)
    assert proc.returncode == 0, proc.stderr
    name, has_extensions, module = proc.stdout.split()
    assert name == backend.name
    assert module == backend.apply_mask.__module__
    if backend.name == "c":
        assert has_extensions == "True"
        # Without any flag a working compiled backend is used, and NO_EXTENSIONS still wins over
        # REQUIRE_EXTENSIONS (it is the switch that proves the pure backend alone).
        assert run(None, child_env(), PRINT_SELECTION).stdout.split()[:2] == ["c", "True"]
        both = run(None, child_env(WSCODEC_NO_EXTENSIONS="1", WSCODEC_REQUIRE_EXTENSIONS="1"), PRINT_SELECTION)
        assert both.stdout.split()[:2] == ["python", "True"]
    else:
        # A missing compiled backend falls back silently unless REQUIRE_EXTENSIONS is set.
        fallback = run(None, child_env(), BLOCK_C + PRINT_SELECTION)
        assert fallback.returncode == 0, fallback.stderr
        assert fallback.stdout.split()[:2] == ["python", "False"]
        required = run(None, child_env(WSCODEC_REQUIRE_EXTENSIONS="1"), BLOCK_C + PRINT_SELECTION)
        assert required.returncode != 0
        assert "ImportError" in required.stderr and "WSCODEC_REQUIRE_EXTENSIONS" in required.stderr
        assert required.stdout == ""
        # NO_EXTENSIONS with a blocked build: python, and nothing claims the build is there.
        forced = run(None, child_env(WSCODEC_NO_EXTENSIONS="1"), BLOCK_C + PRINT_SELECTION)
        assert forced.stdout.split()[:2] == ["python", "False"]

