#!/usr/bin/env bash
# The leak check's cases under valgrind memcheck, compiled backend (in-place build or installed), once per
# CPU level of the kernels that valgrind runs (it hides AVX-512 and SHA-NI from cpuid).
#
#   fuzz/valgrind.sh [CALLS_PER_CASE]         default 300; needs valgrind; ~20 s per level
#
# PYTHONMALLOC=malloc routes every Python allocation to malloc so memcheck sees them. Passes when
# nothing is definitely lost and no memcheck error has a wscodec frame in its stack (CPython
# 3.11's own start-up reports a few "uninitialised value" errors in int.from_bytes during its
# codec imports, before wscodec is loaded: those are counted in the summary, not failed on).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PY="${PYTHON:-python3}"
LOGDIR="${VALGRIND_LOGDIR:-/tmp/wscodec-valgrind}"
LEVELS="${VALGRIND_LEVELS:-scalar sse2 avx2}"
mkdir -p "$LOGDIR"
cd "$ROOT"
# The in-place build when there is one (a development tree), else the installed wscodec (CI).
SRC=""
if compgen -G "$ROOT/src/wscodec/_c/mask*.so" >/dev/null; then SRC="$ROOT/src"; fi
failed=0
for level in $LEVELS; do
  log="$LOGDIR/$level.log"
  out="$LOGDIR/$level.out"
  WSCODEC_CPU="$level" PYTHONMALLOC=malloc PYTHONPATH="${SRC}${SRC:+${PYTHONPATH:+:}}${PYTHONPATH:-}" \
    WSCODEC_REQUIRE_EXTENSIONS=1 valgrind --leak-check=full --show-leak-kinds=definite \
    --errors-for-leak-kinds=definite --num-callers=40 --log-file="$log" \
    "$PY" bench/leak_check.py --backend c --calls "${1:-300}" --seconds 2 --valgrind >"$out" 2>&1 || true
  lost="$(grep -oE 'definitely lost: [0-9,]+ bytes' "$log" | tr -dc 0-9)"
  # one memcheck report per paragraph once the ==pid== prefix is gone; keep those through wscodec
  ours="$(sed -E 's/^==[0-9]+== ?//' "$log" | awk -v RS='' \
    '/(Invalid|uninitialised|Conditional|Mismatched|overlap|definitely lost in)/ && /(wscodec|cython\/)/')"
  summary="$(grep -E 'ERROR SUMMARY' "$log" | sed 's/^==[0-9]*== //')"
  if ! grep -q "all flat: True" "$out"; then
    echo "$level: FAILED, the leak check did not finish flat:"; tail -20 "$out"; failed=1
  elif [ "${lost:-0}" != 0 ] || [ -n "$ours" ]; then
    echo "$level: FAILED, valgrind reports in wscodec (log: $log)"; echo "$ours" | head -60; failed=1
  else
    echo "$level: no leak (definitely lost: ${lost:-0} bytes), no memcheck error in wscodec; $summary"
  fi
done
exit "$failed"
