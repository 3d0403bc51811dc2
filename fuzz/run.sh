#!/usr/bin/env bash
# Coverage-guided differential fuzzing of the compiled backend (ASan + UBSan build) with atheris.
#
#   fuzz/run.sh [SECONDS_PER_TARGET] [TARGET...]      defaults: 60 s, every target
#
# Environment: PYTHON (a venv with atheris, pytest, hypothesis, Cython, setuptools; default
# python3), FUZZ_JOBS (targets run at once, default 2), FUZZ_WORK (corpora, artifacts, logs;
# default /tmp/wscodec-fuzz), FUZZ_TREE (sanitizer build, default /tmp/wscodec-asan-tree;
# FUZZ_SKIP_BUILD=1 reuses it), FUZZ_ARGS (extra libFuzzer flags).
# Exits non-zero when any target found a crash or a difference; artifacts are listed at the end:
# copy each to fuzz/regressions/<target>/ (replayed by tests/test_fuzz_regressions.py).
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
PY="${PYTHON:-python3}"
SECONDS_PER_TARGET="${1:-60}"
shift || true
ALL=(mask utf8 header decoder build_frame close handshake connection)
[ "$#" -gt 0 ] && TARGETS=("$@") || TARGETS=("${ALL[@]}")
WORK="${FUZZ_WORK:-/tmp/wscodec-fuzz}"
TREE="${FUZZ_TREE:-/tmp/wscodec-asan-tree}"
JOBS="${FUZZ_JOBS:-2}"

if [ "${FUZZ_SKIP_BUILD:-0}" != 1 ] || [ ! -d "$TREE/src" ]; then
  echo "== building the sanitizer tree in $TREE"
  PYTHON="$PY" "$HERE/build_asan.sh" "$TREE" >/dev/null
fi
# shellcheck source=fuzz/env.sh
source "$HERE/env.sh" "$TREE" "$PY"

rm -rf "$WORK/artifacts" && mkdir -p "$WORK/seeds" "$WORK/artifacts" "$WORK/logs"
"$PY" "$HERE/make_corpus.py" "$WORK/seeds" >/dev/null

run_target() {
  local t="$1"
  mkdir -p "$WORK/corpus/$t"
  # regressions are seeds too: the fuzzer starts from every input that once failed
  local extra=()
  [ -d "$HERE/regressions/$t" ] && extra=("$HERE/regressions/$t")
  # shellcheck disable=SC2086
  san_python "$HERE/targets.py" "$t" "$WORK/corpus/$t" "$WORK/seeds/$t" "${extra[@]}" \
    -max_total_time="$SECONDS_PER_TARGET" -use_value_profile=1 -max_len=4096 -timeout=30 \
    -rss_limit_mb=4096 -print_final_stats=1 -artifact_prefix="$WORK/artifacts/$t-" \
    ${FUZZ_ARGS:-} >"$WORK/logs/$t.log" 2>&1
}

echo "== fuzzing ${TARGETS[*]}: ${SECONDS_PER_TARGET}s each, $JOBS at a time (logs in $WORK/logs)"
rm -f "$WORK"/logs/*.status
running=0
for t in "${TARGETS[@]}"; do
  ( if run_target "$t"; then echo 0; else echo $?; fi >"$WORK/logs/$t.status" ) &
  running=$((running + 1))
  if [ "$running" -ge "$JOBS" ]; then wait -n || true; running=$((running - 1)); fi
done
wait || true

failed=0
printf '%-12s %12s %8s %10s %s\n' target executions exec/s coverage result
for t in "${TARGETS[@]}"; do
  log="$WORK/logs/$t.log"
  status="$(cat "$WORK/logs/$t.status" 2>/dev/null || echo '?')"
  runs="$(grep -oE 'stat::number_of_executed_units: *[0-9]+' "$log" | tail -1 | awk '{print $2}')"
  rate="$(grep -oE 'stat::average_exec_per_sec: *[0-9]+' "$log" | tail -1 | awk '{print $2}')"
  cov="$(grep -oE '(cov|ft): [0-9]+' "$log" | tail -1 | awk '{print $2}')"
  if [ "$status" = 0 ]; then result=ok; else result="FAILED (exit $status, see $log)"; failed=1; fi
  printf '%-12s %12s %8s %10s %s\n' "$t" "${runs:-?}" "${rate:-?}" "${cov:-?}" "$result"
done
if ls "$WORK"/artifacts/* >/dev/null 2>&1; then
  echo "== artifacts (copy to fuzz/regressions/<target>/):"
  ls -l "$WORK"/artifacts/
fi
exit "$failed"
