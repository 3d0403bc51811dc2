"""scripts/check_portability.py: tiny C files compiled with and without extended ISAs.

Needs a C compiler and binutils (x86-64 cases on an x86-64 host; aarch64 cases with a native or
cross gcc); skipped where they are missing, and in an sdist (no scripts/).
"""
from __future__ import annotations

import importlib.util
import platform
import shutil
import subprocess
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "check_portability.py"
if not SCRIPT.exists():
    pytest.skip("scripts/check_portability.py is not here (sdist)", allow_module_level=True)
_spec = importlib.util.spec_from_file_location("check_portability", SCRIPT)
cp = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(cp)

X86 = (platform.system() == "Linux" and platform.machine().lower() in ("x86_64", "amd64")
       and shutil.which("gcc") and shutil.which("objdump"))
A64_CC = "gcc" if platform.machine().lower() in ("aarch64", "arm64") else "aarch64-linux-gnu-gcc"
A64 = platform.system() == "Linux" and shutil.which(A64_CC) and (
    shutil.which("objdump") if A64_CC == "gcc" else shutil.which("aarch64-linux-gnu-objdump") or shutil.which("llvm-objdump"))
needs_x86 = pytest.mark.skipif(not X86, reason="needs an x86-64 host with gcc and objdump")
needs_a64 = pytest.mark.skipif(not A64, reason="needs an aarch64 gcc (native or cross) and objdump")

X86_SRC = r"""
#include <immintrin.h>
#include <stdint.h>
unsigned plain(unsigned x) { return __builtin_ctz(x | 1u); }   /* `rep bsf`, shown as tzcnt */
void loop(int *a, const int *b, int n) { for (int i = 0; i < n; i++) a[i] += b[i] * 3; }
__attribute__((target("avx2"))) void KERNEL_AVX2(int *a, const int *b) {
    __m256i x = _mm256_loadu_si256((const __m256i *)a);
    _mm256_storeu_si256((__m256i *)a, _mm256_add_epi32(x, _mm256_loadu_si256((const __m256i *)b)));
}
__attribute__((target("avx512f"))) void KERNEL_AVX512(int *a, const int *b) {
    __m512i x = _mm512_loadu_si512(a);
    _mm512_storeu_si512(a, _mm512_add_epi32(x, _mm512_loadu_si512(b)));
}
__attribute__((target("sha"))) void KERNEL_SHA(__m128i *s, __m128i m) { *s = _mm_sha1rnds4_epu32(*s, m, 0); }
__attribute__((target("bmi2"))) uint64_t KERNEL_BMI(uint64_t x, uint64_t m) { return _pdep_u64(x, m); }
"""
X86_NAMES = dict(KERNEL_AVX2="add_avx2", KERNEL_AVX512="add_avx512bw", KERNEL_SHA="sha1_rounds_sha",
                 KERNEL_BMI="spread_bmi2")
X86_BAD_NAMES = dict(KERNEL_AVX2="add_fast", KERNEL_AVX512="add_avx2", KERNEL_SHA="wsc_sha1_rounds",
                     KERNEL_BMI="spread")


def build(tmp_path: Path, src: str, names: dict, *flags: str, cc: str = "gcc", shared: bool = True) -> str:
    for macro, name in names.items():
        src = src.replace(macro, name)
    c = tmp_path / "k.c"
    c.write_text(src)
    out = tmp_path / ("k.so" if shared else "k.o")
    link = ["-shared", "-fPIC"] if shared else ["-c"]
    subprocess.run([cc, "-O3", "-g", *link, *flags, "-o", str(out), str(c)], check=True, capture_output=True)
    return str(out)


def violations(res) -> dict:
    return {func: sorted(isas) for func, isas in res.violations.items()}


@pytest.fixture(scope="module")
def untagged_so(tmp_path_factory) -> str:
    return build(tmp_path_factory.mktemp("untagged"), X86_SRC, X86_BAD_NAMES)


@needs_x86
def test_tagged_kernels_pass(tmp_path):
    res = cp.check_binary(build(tmp_path, X86_SRC, X86_NAMES))
    assert res.ok, (res.violations, res.errors)
    assert res.tagged["add_avx2"] == {"avx"}
    assert "avx512" in res.tagged["add_avx512bw"]
    assert "sha" in res.tagged["sha1_rounds_sha"]
    assert "bmi" in res.tagged["spread_bmi2"]
    assert "plain" not in res.tagged and "loop" not in res.tagged


@needs_x86
def test_untagged_kernels_fail(untagged_so):
    res = cp.check_binary(untagged_so)
    found = violations(res)
    assert found["add_fast"] == ["avx"]
    assert found["add_avx2"] == ["avx512"]  # the avx2 tag does not cover AVX-512
    assert "sha" in found["wsc_sha1_rounds"]  # "sha1" is not the word "sha"
    assert found["spread"] == ["bmi"]  # VEX-encoded, no v- prefix: caught by the encoding
    assert not res.ok
    assert cp.main([untagged_so, "--no-flags"]) == 1


@needs_x86
def test_whole_file_avx2_flag_fails(tmp_path):
    res = cp.check_binary(build(tmp_path, X86_SRC, X86_NAMES, "-mavx2"))
    assert "avx" in violations(res).get("loop", [])  # auto-vectorized with ymm outside a kernel
    assert any("-mavx2" in w for w in res.warnings)


@needs_x86
def test_march_native_fails(tmp_path):
    res = cp.check_binary(build(tmp_path, "int f(int x) { return x + 1; }", {}, "-march=native"))
    assert any("-march=" in e for e in res.errors)
    log = tmp_path / "build.log"
    log.write_text("gcc -O3 -march=native -c cython/mask.c\n")
    assert cp.check_log(str(log)) and cp.main(["--build-log", str(log)]) == 1


@needs_x86
@pytest.mark.skipif(not shutil.which("llvm-objdump"), reason="needs llvm-objdump (the macOS disassembler)")
def test_llvm_objdump_output(untagged_so):
    gnu = cp.check_binary(untagged_so)
    llvm = cp.check_binary(untagged_so, objdump="llvm-objdump")
    assert violations(llvm) == violations(gnu)


A64_SRC = r"""
#include <arm_acle.h>
#include <arm_neon.h>
#include <stdint.h>
uint8x16_t xor_neon(uint8x16_t a, uint8x16_t b) { return veorq_u8(a, b); }
__attribute__((target("+crc"))) uint32_t KERNEL_CRC(uint32_t c, uint8_t b) { return __crc32b(c, b); }
__attribute__((target("+crypto"))) uint32x4_t KERNEL_SHA(uint32x4_t a, uint32_t e, uint32x4_t w) {
    return vsha1cq_u32(a, e, w);
}
"""


@needs_a64
def test_aarch64(tmp_path):
    ok = cp.check_binary(build(tmp_path, A64_SRC, dict(KERNEL_CRC="step_crc", KERNEL_SHA="sha1_sha"),
                               cc=A64_CC, shared=False))
    assert ok.ok, (ok.violations, ok.errors)  # NEON is baseline on aarch64
    bad = cp.check_binary(build(tmp_path, A64_SRC, dict(KERNEL_CRC="step", KERNEL_SHA="wsc_sha1"),
                                cc=A64_CC, shared=False))
    assert violations(bad) == {"step": ["crc"], "wsc_sha1": ["sha"]}


def test_symbol_words():
    assert cp.allowed_for("wsc_mask_avx2.part.0", "x86_64") >= {"avx"}
    assert "avx512" in cp.allowed_for("_utf8_avx512vbmi", "x86_64")
    assert cp.allowed_for("wsc_sha1_2", "x86_64") == set()
    assert "avx" not in cp.allowed_for("wsc_mask_sse42", "x86_64")
    assert cp.allowed_for("__aarch64_ldadd4_acq_rel", "aarch64") == {"lse"}
