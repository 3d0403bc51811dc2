"""The C kernels on their own (tests/c/kernel_selftest.c): every level against the scalar kernels.

Native: compiled with the C compiler and run here, once plainly and once with AddressSanitizer and
UBSan when the compiler supports them (each kernel reads exactly-sized heap copies, so an over-read
shows). aarch64: the NEON kernels cross-compiled with ``aarch64-linux-gnu-gcc`` (Debian's
gcc-aarch64-linux-gnu) and run under ``qemu-aarch64`` (qemu-user) when both are installed; with the
compiler alone they are at least compiled. Skipped when the sources or the tools are missing.
"""
from __future__ import annotations

import glob
import os
import shutil
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CYTHON = os.path.join(ROOT, "cython")
SELFTEST = os.path.join(ROOT, "tests", "c", "kernel_selftest.c")
KERNELS = sorted(glob.glob(os.path.join(CYTHON, "kernels", "*.c")))
FLAGS = ["-O2", "-Wall", "-Wextra", "-Werror", "-I" + CYTHON]

pytestmark = pytest.mark.skipif(not KERNELS or not os.path.exists(SELFTEST), reason="C sources not present")


def _compiler(*names: str) -> str:
    for name in names:
        path = shutil.which(name)
        if path:
            return path
    pytest.skip("no %s on PATH" % " or ".join(names))


def _build_and_run(cc: str, out: str, extra: list, runner: list = ()) -> str:
    subprocess.run([cc, *FLAGS, *extra, SELFTEST, *KERNELS, "-o", out], check=True, capture_output=True, text=True)
    result = subprocess.run([*runner, out], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_native(tmp_path):
    out = _build_and_run(_compiler("cc", "gcc", "clang"), str(tmp_path / "selftest"), [])
    assert out.startswith("scalar") and "FAILED" not in out


def test_native_sanitized(tmp_path):
    cc = _compiler("cc", "gcc", "clang")
    flags = ["-g", "-fsanitize=address,undefined", "-fno-sanitize-recover=all"]
    probe = subprocess.run([cc, *flags, "-x", "c", "-", "-o", str(tmp_path / "probe")], input="int main(void){return 0;}",
                           capture_output=True, text=True)
    if probe.returncode != 0:
        pytest.skip("the C compiler cannot build with AddressSanitizer/UBSan")
    env_out = _build_and_run(cc, str(tmp_path / "selftest-asan"), flags)
    assert "FAILED" not in env_out


@pytest.mark.slow
def test_aarch64_neon(tmp_path):
    cc = _compiler("aarch64-linux-gnu-gcc")
    qemu = shutil.which("qemu-aarch64") or shutil.which("qemu-aarch64-static")
    if qemu is None:
        for source in KERNELS:  # no emulator: the NEON kernels must at least compile cleanly
            subprocess.run([cc, *FLAGS, "-c", source, "-o", os.devnull], check=True, capture_output=True)
        pytest.skip("qemu-aarch64 not installed: the aarch64 kernels were compiled, not run")
    out = _build_and_run(cc, str(tmp_path / "selftest-aarch64"), ["-static"], [qemu])
    assert "neon" in out and "FAILED" not in out
