#!/usr/bin/env bash
# The CI step for issue 7's tools: sanitizer build + differential fuzzing (8 targets x
# ${FUZZ_SECONDS:-60} s, 2 at a time) and the valgrind leak check. ~7 min on 2 cores.
#
#   PYTHON=.venv/bin/python fuzz/ci.sh
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
PY="${PYTHON:-python3}"
# absolute, so that it still names the same interpreter after the scripts change directory
case "$PY" in */*) PY="$(cd "$(dirname "$PY")" && pwd)/$(basename "$PY")" ;; esac
"$PY" -m pip install -q atheris Cython setuptools pytest hypothesis
start=$SECONDS
PYTHON="$PY" "$HERE/run.sh" "${FUZZ_SECONDS:-60}"
echo "== fuzzing took $((SECONDS - start)) s"
if command -v valgrind >/dev/null; then
  start=$SECONDS
  PYTHON="$PY" "$HERE/valgrind.sh" 300
  echo "== valgrind took $((SECONDS - start)) s"
else
  echo "== valgrind not installed: skipped"
fi
