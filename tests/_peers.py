"""Helpers shared by the real-peer tests (test_autobahn.py, test_browser.py).

They start wscodec as a *subprocess* with one backend forced through the environment, wait for
its "listening on ws://HOST:PORT (backend: NAME)" line, and always clean up: every process runs in
its own session so a timeout or teardown kills the whole group (wstest, bash wrappers, ...).
Loopback only.
"""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import pytest

import wscodec

TESTS_DIR = Path(__file__).resolve().parent
REPO_DIR = TESTS_DIR.parent
#: The Autobahn helper scripts live in ../shared/autobahn beside the repo (CI lays it out so).
AUTOBAHN_DIR = Path(os.environ.get("WSCODEC_AUTOBAHN_DIR") or REPO_DIR.parent / "shared" / "autobahn")
#: Reports, logs and the JSON summaries quoted in release notes.
RESULTS_DIR = Path(os.environ.get("WSCODEC_PEER_RESULTS") or REPO_DIR / "build")

LISTENING_RE = re.compile(r"listening on (ws://[^\s]+?:(\d+))/?(?:\s+\(backend: ([\w-]+)\))?")

def env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() not in ("", "0", "false", "no")


def skip_or_fail(require_var: str, reason: str) -> None:
    """Skip with ``reason``, or fail when the environment requires this peer (CI). Works in a test
    and at module level."""
    if env_flag(require_var):
        pytest.fail("%s=1 but %s" % (require_var, reason), pytrace=False)
    pytest.skip(reason, allow_module_level=True)


def backend_env(backend_name: str, extra: Optional[Dict[str, str]] = None) -> Dict[str, str]:
    """Environment for a wscodec subprocess that must run ``backend_name`` and nothing else."""
    env = dict(os.environ)
    # Import the very wscodec this test process imported (a src checkout or an installed one).
    pkg_parent = str(Path(wscodec.__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join([pkg_parent] + [p for p in [env.get("PYTHONPATH")] if p])
    env["PYTHONUNBUFFERED"] = "1"
    if backend_name == "python":
        env["WSCODEC_NO_EXTENSIONS"] = "1"
        env.pop("WSCODEC_REQUIRE_EXTENSIONS", None)
    elif backend_name == "c":
        env.pop("WSCODEC_NO_EXTENSIONS", None)
        env["WSCODEC_REQUIRE_EXTENSIONS"] = "1"  # no silent fallback to the Python backend
    else:
        raise ValueError(backend_name)
    env.update(extra or {})
    return env


def tail(path: Path, lines: int = 30) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError as exc:
        return "<%s unreadable: %s>" % (path, exc)
    return "\n".join(text.splitlines()[-lines:])


def kill_group(proc: subprocess.Popen, grace: float = 10.0, sig: int = signal.SIGTERM) -> Optional[int]:
    """Send ``sig`` to the process group, wait ``grace`` s, then SIGKILL it. Returns the exit code
    from the graceful phase, or None when it had to be killed."""
    if proc.poll() is not None:
        return proc.returncode
    try:
        os.killpg(proc.pid, sig)
    except ProcessLookupError:
        pass
    try:
        return proc.wait(grace)
    except subprocess.TimeoutExpired:
        pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait(10)
    return None


def run_bounded(cmd: Sequence[str], log: Path, timeout: float, env: Optional[Dict[str, str]] = None,
                cwd: Optional[Path] = None) -> int:
    """Run ``cmd`` (stdout+stderr to ``log``) in its own process group, killed after ``timeout``."""
    with open(log, "wb") as out:
        proc = subprocess.Popen(list(cmd), stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                env=env, cwd=cwd, start_new_session=True)
        try:
            return proc.wait(timeout)
        except subprocess.TimeoutExpired:
            kill_group(proc, grace=5.0)
            pytest.fail("%s timed out after %ss; log %s:\n%s" % (cmd[0], timeout, log, tail(log)),
                        pytrace=False)
        finally:
            if proc.poll() is None:
                kill_group(proc, grace=2.0, sig=signal.SIGKILL)


class ServerProcess:
    """``python -m wscodec serve --host 127.0.0.1 --port 0`` (or ``cmd``) under one backend.

    Use as a context manager; ``url``, ``port`` and ``reported_backend`` are set once it listens.
    ``stop()`` sends SIGTERM (graceful shutdown) and returns the exit code, or None if it had to be
    killed.
    """

    def __init__(self, backend_name: str, log: Path, cmd: Optional[List[str]] = None,
                 start_timeout: float = 30.0) -> None:
        self.backend_name = backend_name
        self.log = log
        self.cmd = cmd or [sys.executable, "-m", "wscodec", "serve", "--host", "127.0.0.1", "--port", "0",
                           "--backend", backend_name]
        self.start_timeout = start_timeout
        self.proc: Optional[subprocess.Popen] = None
        self.url = ""
        self.port = 0
        self.reported_backend: Optional[str] = None
        self.listening_line = ""
        self.exit_code: Optional[int] = None
        self._stopped = False

    def __enter__(self) -> "ServerProcess":
        self.log.parent.mkdir(parents=True, exist_ok=True)
        self._out = open(self.log, "wb")
        self.proc = subprocess.Popen(self.cmd, stdout=self._out, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, env=backend_env(self.backend_name),
                                     cwd=REPO_DIR, start_new_session=True)
        try:
            self._wait_listening()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_listening(self) -> None:
        assert self.proc is not None
        deadline = time.monotonic() + self.start_timeout
        while True:
            text = self.log.read_text(errors="replace")
            match = LISTENING_RE.search(text)
            if match:
                self.listening_line = text[match.start():].splitlines()[0]
                self.url, self.port, self.reported_backend = match.group(1), int(match.group(2)), match.group(3)
                host = self.url.split("//", 1)[1].rsplit(":", 1)[0]
                assert host in ("127.0.0.1", "localhost"), "server is not on loopback: %s" % self.url
                self.url = "ws://127.0.0.1:%d" % self.port
                return
            if self.proc.poll() is not None:
                pytest.fail("server exited with %s before listening:\n%s" % (self.proc.returncode, tail(self.log)),
                            pytrace=False)
            if time.monotonic() > deadline:
                pytest.fail("server not listening after %ss:\n%s" % (self.start_timeout, tail(self.log)),
                            pytrace=False)
            time.sleep(0.05)

    def stop(self, grace: float = 10.0) -> Optional[int]:
        if self.proc is not None and not self._stopped:
            self._stopped = True
            try:
                self.exit_code = kill_group(self.proc, grace=grace)
            finally:
                self._out.close()
        return self.exit_code

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
