#!/usr/bin/env python3
"""Check that compiled extensions run on every CPU their wheel tag promises.

    python scripts/check_portability.py [--objdump CMD] [--build-log FILE]... PATH...

PATH: wheels, extension modules (.so, .dylib, .o) or directories holding them. Each binary is
disassembled (GNU objdump or llvm-objdump) and fails the check when an instruction beyond the
baseline (x86-64: SSE2; aarch64: ARMv8.0-A with NEON) appears in a function whose symbol does not
carry that instruction set as a word of its name: `wsc_mask_avx2`, `utf8_check_avx512bw.part.0`,
`sha1_block_sha` (words split at `_` and `.`; `sha1` is not the word `sha`). Runtime-dispatched
kernels must be named that way. It also fails on a -march/-mcpu=native build: in the DWARF
producer records of the binary (GCC expands native to the host CPU, so any -march beyond the
baseline fails) and in build logs given with --build-log. Exit status: 0 ok, 1 problems, 2 usage.
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import zipfile
from typing import Dict, List, Optional, Set, Tuple

# --- x86-64 ---------------------------------------------------------------------------------
_X86 = {
    "sse3": "addsubpd addsubps haddpd haddps hsubpd hsubps lddqu movddup movshdup movsldup fisttp",
    "ssse3": "pabsb pabsw pabsd palignr phaddw phaddd phaddsw phsubw phsubd phsubsw pmaddubsw "
    "pmulhrsw pshufb psignb psignw psignd",
    "sse4": "blendpd blendps blendvpd blendvps dppd dpps extractps insertps movntdqa mpsadbw packusdw "
    "pblendvb pblendw pcmpeqq pextrb pextrd pextrq phminposuw pinsrb pinsrd pinsrq pmaxsb pmaxsd "
    "pmaxud pmaxuw pminsb pminsd pminud pminuw pmovsxbw pmovsxbd pmovsxbq pmovsxwd pmovsxwq "
    "pmovsxdq pmovzxbw pmovzxbd pmovzxbq pmovzxwd pmovzxwq pmovzxdq pmuldq pmulld ptest roundpd "
    "roundps roundsd roundss pcmpestri pcmpestrm pcmpistri pcmpistrm pcmpgtq crc32",
    "popcnt": "popcnt",
    "lzcnt": "lzcnt",  # not tzcnt: GCC emits `rep bsf` for ctz at baseline, which decodes as tzcnt
    "bmi": "andn bextr blsi blsmsk blsr bzhi mulx pdep pext rorx sarx shlx shrx",
    "sha": "sha1rnds4 sha1nexte sha1msg1 sha1msg2 sha256rnds2 sha256msg1 sha256msg2",
    "aes": "aesenc aesenclast aesdec aesdeclast aesimc aeskeygenassist pclmulqdq",
    "movbe": "movbe",
    "adx": "adcx adox",
    "rdrand": "rdrand rdseed",
    "sse4a": "extrq insertq movntsd movntss",
}
X86_MNEMONICS = {m: isa for isa, names in _X86.items() for m in names.split()}
VMX = {"verr", "verw", "vmcall", "vmlaunch", "vmresume", "vmxoff", "vmxon", "vmread", "vmwrite",
       "vmptrld", "vmptrst", "vmclear", "vmfunc"}
X86_PREFIXES = {"rep", "repz", "repe", "repnz", "repne", "lock", "bnd", "notrack", "data16", "data32",
                "addr32", "cs", "ds", "es", "ss", "fs", "gs", "xacquire", "xrelease", "{vex}",
                "{vex3}", "{evex}", "rex", "rex.w"}
LEGACY_PREFIX_BYTES = {0x66, 0x67, 0xF2, 0xF3, 0x2E, 0x3E, 0x26, 0x36, 0x64, 0x65, 0xF0}
_SSE = {"sse3", "ssse3", "sse4", "popcnt"}
_AVX2 = _SSE | {"avx", "bmi", "lzcnt", "movbe"}
X86_TAGS = {
    "sse3": {"sse3"}, "ssse3": {"sse3", "ssse3"}, "sse4": _SSE, "sse41": _SSE, "sse42": _SSE,
    "avx": _SSE | {"avx"}, "avx2": _AVX2, "avx512": _AVX2 | {"avx512"},
    "sha": _SSE | {"sha"}, "shani": _SSE | {"sha"}, "aes": _SSE | {"aes"}, "pclmul": _SSE | {"aes"},
    "bmi": {"bmi", "lzcnt"}, "bmi1": {"bmi", "lzcnt"}, "bmi2": {"bmi", "lzcnt"},
    "popcnt": {"popcnt"}, "lzcnt": {"lzcnt"}, "rdrand": {"rdrand"}, "rdseed": {"rdrand"},
}

# --- aarch64 --------------------------------------------------------------------------------
_A64 = {
    "sha": "sha1c sha1h sha1m sha1p sha1su0 sha1su1 sha256h sha256h2 sha256su0 sha256su1 sha512h "
    "sha512h2 sha512su0 sha512su1 eor3 rax1 xar bcax",
    "aes": "aese aesd aesmc aesimc",
    "sm": "sm3ss1 sm3tt1a sm3tt1b sm3tt2a sm3tt2b sm3partw1 sm3partw2 sm4e sm4ekey",
    "crc": "crc32b crc32h crc32w crc32x crc32cb crc32ch crc32cw crc32cx",
    "dotprod": "sdot udot",
    "i8mm": "smmla ummla usmmla usdot sudot",
    "bf16": "bfdot bfmmla bfmlalb bfmlalt bfcvt bfcvtn bfcvtn2",
    "rcpc": "ldapr ldaprb ldaprh ldapur ldapurb ldapurh",
}
A64_MNEMONICS = {m: isa for isa, names in _A64.items() for m in names.split()}
A64_LSE = re.compile(r"^(casp?|swp|ld(add|clr|eor|set|[su]max|[su]min)|st(add|clr|eor|set|[su]max|[su]min))(a|al|l)?[bh]?$")
A64_SVE = re.compile(r"\bz\d{1,2}\.[bhsdq]\b|\bp\d{1,2}(/[zm]|\.[bhsd])")
A64_TAGS = {
    "neon": set(), "asimd": set(),  # NEON is part of the aarch64 baseline
    "sha": {"sha"}, "sha2": {"sha"}, "sha3": {"sha"}, "aes": {"aes"}, "pmull": {"aes"},
    "crypto": {"sha", "aes", "sm"}, "crc": {"crc"}, "crc32": {"crc"}, "sve": {"sve"}, "sve2": {"sve"},
    "lse": {"lse"}, "dotprod": {"dotprod"}, "i8mm": {"i8mm"}, "bf16": {"bf16"}, "fp16": {"fp16"},
    "rcpc": {"rcpc"},
}

BASELINE_MARCH = {"x86_64": {"x86-64"}, "aarch64": {"armv8-a"}}
# macOS raises the floor: x86_64 Macs are Core 2 or newer, arm64 Macs Apple M1 (ARMv8.5-A + crypto)
BASELINE_EXTRA = {("macho", "x86_64"): {"sse3", "ssse3"},
                  ("macho", "aarch64"): {"sha", "aes", "crc", "lse", "dotprod", "fp16", "rcpc"}}
NATIVE = re.compile(r"-m(?:arch|cpu|tune)=native|-xHost\b")
ISA_FLAG = re.compile(r"(?<!\S)-m(?!no-)(avx\S*|sse3|ssse3|sse4\S*|popcnt|bmi2?|lzcnt|fma|f16c|sha|aes|pclmul|movbe)\b")


def binary_kind(path: str) -> Optional[Tuple[str, str]]:
    """(format, arch) of an ELF or Mach-O file, None for anything else."""
    with open(path, "rb") as f:
        head = f.read(20)
    if head[:4] == b"\x7fELF" and len(head) >= 20:
        machine = struct.unpack("<H" if head[5] == 1 else ">H", head[18:20])[0]
        return "elf", {62: "x86_64", 183: "aarch64"}.get(machine, "elf-%d" % machine)
    if head[:4] == b"\xcf\xfa\xed\xfe":
        cpu = struct.unpack("<I", head[4:8])[0]
        return "macho", {0x01000007: "x86_64", 0x0100000C: "aarch64"}.get(cpu, "macho-%x" % cpu)
    return None


def tags_of(symbol: str) -> Set[str]:
    words = set(re.split(r"[_.@$]+", symbol.lower()))
    return words | {"avx512" for w in words if w.startswith("avx512")}


def allowed_for(symbol: str, arch: str) -> Set[str]:
    table = X86_TAGS if arch == "x86_64" else A64_TAGS
    allowed: Set[str] = set()
    for word in tags_of(symbol):
        allowed |= table.get(word, set())
    if arch == "aarch64" and symbol.lstrip("_").startswith("aarch64_"):
        allowed.add("lse")  # libgcc's outline atomics pick LSE at run time
    return allowed


def _split(asm: str, prefixes: Set[str], comment: str) -> Tuple[str, str]:
    asm = re.sub(r"<[^>]*>", "", asm.split(comment)[0])
    words = asm.split()
    while words and words[0].lower() in prefixes:
        words.pop(0)
    if not words:
        return "", ""
    return words[0].lower(), " ".join(words[1:]).lower()


def classify_x86(raw: List[int], asm: str) -> Set[str]:
    mnemonic, operands = _split(asm, X86_PREFIXES, "#")
    isas: Set[str] = set()
    if mnemonic in X86_MNEMONICS:
        isas.add(X86_MNEMONICS[mnemonic])
    elif mnemonic.startswith("pclmul"):
        isas.add("aes")
    i = 0
    while i < len(raw) and raw[i] in LEGACY_PREFIX_BYTES:
        i += 1
    first = raw[i] if i < len(raw) else None
    if first == 0x62 or re.search(r"\bzmm\d|\bk[0-7]\b", operands):
        isas.add("avx512")
    elif (first in (0xC4, 0xC5) or (mnemonic.startswith("v") and mnemonic not in VMX)
          or "ymm" in operands) and "bmi" not in isas:
        isas.add("avx")
    return isas


def classify_a64(asm: str) -> Set[str]:
    mnemonic, operands = _split(asm, set(), "//")
    isas: Set[str] = set()
    if A64_SVE.search(operands):
        isas.add("sve")
    if mnemonic in A64_MNEMONICS and not (mnemonic in ("sdot", "udot") and "sve" in isas):
        isas.add(A64_MNEMONICS[mnemonic])
    elif mnemonic in ("pmull", "pmull2") and ".1q" in operands:
        isas.add("aes")
    elif A64_LSE.match(mnemonic):
        isas.add("lse")
    elif mnemonic.startswith("f") and not mnemonic.startswith("fcvt") and re.search(r"\.[48]h\b|\bh\d", operands):
        isas.add("fp16")
    return isas


def find_objdump(fmt: str, arch: str, override: Optional[str]) -> Optional[List[str]]:
    host = {"amd64": "x86_64", "arm64": "aarch64"}.get(os.uname().machine.lower(), os.uname().machine)
    candidates = [override] if override else (
        (["objdump"] if arch == host else []) + ["%s-linux-gnu-objdump" % arch, "llvm-objdump", "objdump"])
    for cmd in candidates:
        exe = shutil.which(cmd)
        if not exe:
            continue
        version = subprocess.run([exe, "--version"], capture_output=True, text=True).stdout
        gnu = "GNU objdump" in version
        if gnu and fmt != "elf":
            continue
        return [exe, "-d"] + (["-w"] if gnu else []) + (["-M", "intel"] if arch == "x86_64" else [])
    return None


class Result:
    def __init__(self, path: str):
        self.path = path
        self.errors: List[str] = []
        self.warnings: List[str] = []
        self.violations: Dict[str, Dict[str, Tuple[int, str]]] = {}  # function -> isa -> (count, example)
        self.tagged: Dict[str, Set[str]] = {}  # function -> ISAs it uses (allowed by its name)
        self.functions = 0

    @property
    def ok(self) -> bool:
        return not self.errors and not self.violations


def check_instructions(path: str, fmt: str, arch: str, res: Result, objdump: Optional[str]) -> None:
    cmd = find_objdump(fmt, arch, objdump)
    if cmd is None:
        res.errors.append("no disassembler for %s %s (install binutils or llvm)" % (fmt, arch))
        return
    proc = subprocess.run(cmd + [path], capture_output=True, text=True, errors="replace")
    if proc.returncode != 0:
        res.errors.append("%s failed: %s" % (" ".join(cmd), proc.stderr.strip()[:500]))
        return
    func = "?"
    for line in proc.stdout.splitlines():
        m = re.match(r"^[0-9a-f]+ <(.+)>:$", line)
        if m:
            func = m.group(1)
            res.functions += 1
            continue
        m = re.match(r"^\s*([0-9a-f]+):(.*)$", line)
        if not m:
            continue
        fields = [f for f in m.group(2).split("\t") if f.strip()]
        raw: List[int] = []
        if fields and re.fullmatch(r"\s*(?:[0-9a-f]{2,8}\s*)*", fields[0]) and fields[0].strip():
            raw = [int(b, 16) for b in fields[0].split() if len(b) == 2]
            fields = fields[1:]
        asm = " ".join(fields).strip()
        if not asm or asm.startswith("(bad)"):
            continue
        used = classify_x86(raw, asm) if arch == "x86_64" else classify_a64(asm)
        if not used:
            continue
        allowed = allowed_for(func, arch) | BASELINE_EXTRA.get((fmt, arch), set())
        for isa in used - allowed:
            count, example = res.violations.setdefault(func, {}).get(isa, (0, "%s: %s" % (m.group(1), asm)))
            res.violations[func][isa] = (count + 1, example)
        if used & allowed - BASELINE_EXTRA.get((fmt, arch), set()):
            res.tagged.setdefault(func, set()).update(used & allowed)
    if res.functions == 0:
        res.warnings.append("no function symbols: stripped, or nothing to disassemble")


def check_producers(path: str, fmt: str, arch: str, res: Result) -> None:
    readelf = shutil.which("readelf") or shutil.which("llvm-readelf")
    if fmt != "elf" or readelf is None:
        return
    out = subprocess.run([readelf, "-p", ".debug_str", path], capture_output=True, text=True, errors="replace").stdout
    producers = sorted({m.group(1) for m in re.finditer(r"\]\s+((?:GNU C|clang version)[^\n]*)", out)})
    if not producers:
        res.warnings.append("no DWARF producer records: compiler flags not checked in the binary")
    for p in producers:
        march = re.findall(r"-march=(\S+)", p)
        bad = [a for a in march if a not in BASELINE_MARCH.get(arch, set())]
        if NATIVE.search(p) or bad:
            res.errors.append("compiled with -march=%s (native?): %s" % (",".join(bad) or "native", p[:200]))
        isa_flags = sorted({"-m" + f for f in ISA_FLAG.findall(p)})
        if isa_flags:
            res.warnings.append("a compilation unit enables %s for all its functions" % " ".join(isa_flags))


def check_binary(path: str, objdump: Optional[str] = None, flags: bool = True) -> Result:
    res = Result(path)
    kind = binary_kind(path)
    if kind is None or kind[1] not in BASELINE_MARCH:
        res.warnings.append("skipped: not an x86_64/aarch64 ELF or Mach-O file")
        return res
    check_instructions(path, kind[0], kind[1], res, objdump)
    if flags:
        check_producers(path, kind[0], kind[1], res)
    return res


def check_log(path: str) -> List[str]:
    with open(path, errors="replace") as f:
        return ["%s:%d: %s" % (path, n, line.strip()[:200]) for n, line in enumerate(f, 1) if NATIVE.search(line)]


def expand(paths: List[str], tmp: str) -> List[Tuple[str, str]]:
    """(label, file) of every binary under ``paths``; wheels are unpacked into ``tmp``."""
    out: List[Tuple[str, str]] = []
    for path in paths:
        if os.path.isdir(path):
            for root, _, files in os.walk(path):
                out += expand([os.path.join(root, f) for f in sorted(files)
                               if f.endswith((".so", ".dylib", ".o", ".whl")) or ".so." in f], tmp)
        elif path.endswith(".whl"):
            with zipfile.ZipFile(path) as whl:
                for name in whl.namelist():
                    if name.endswith((".so", ".dylib", ".pyd")) or ".so." in name:
                        dest = whl.extract(name, os.path.join(tmp, os.path.basename(path)))
                        out.append(("%s!%s" % (os.path.basename(path), name), dest))
        else:
            out.append((path, path))
    return out


def report(label: str, res: Result) -> None:
    status = "OK  " if res.ok else "FAIL"
    simd = ", ".join("%s[%s]" % (f, "+".join(sorted(i))) for f, i in sorted(res.tagged.items()))
    print("%s %s: %d functions%s" % (status, label, res.functions, "; dispatched kernels: " + simd if simd else
                                     "; no instructions beyond the baseline"))
    for func, isas in sorted(res.violations.items()):
        for isa, (count, example) in sorted(isas.items()):
            print("     %s uses %s (%d instructions, e.g. %s) but its name carries no %s tag"
                  % (func, isa, count, example, isa))
    for e in res.errors:
        print("     error: " + e)
    for w in res.warnings:
        print("     note: " + w)


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("paths", nargs="*", help="wheels, .so/.dylib/.o files, directories")
    ap.add_argument("--objdump", help="disassembler to use (default: objdump, <arch>-linux-gnu-objdump, llvm-objdump)")
    ap.add_argument("--build-log", action="append", default=[], help="build output to scan for -march=native")
    ap.add_argument("--no-flags", action="store_true", help="skip the DWARF producer (compiler flags) check")
    args = ap.parse_args(argv)
    if not args.paths and not args.build_log:
        ap.error("nothing to check")
    failed = False
    for log in args.build_log:
        hits = check_log(log)
        print("%s %s: %s" % ("FAIL" if hits else "OK  ", log, "\n     ".join(hits) or "no -march=native"))
        failed |= bool(hits)
    with tempfile.TemporaryDirectory(prefix="wsc-portability-") as tmp:
        binaries = expand(args.paths, tmp)
        if args.paths and not binaries:
            print("FAIL no extension modules found in %s" % " ".join(args.paths))
            return 1
        for label, path in binaries:
            if path.endswith(".pyd"):
                print("skip %s: Windows PE (no local symbols to attribute instructions to)" % label)
                continue
            res = check_binary(path, args.objdump, not args.no_flags)
            report(label, res)
            failed |= not res.ok
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
