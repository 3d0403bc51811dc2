#!/usr/bin/env bash
# Build the compiled backend with AddressSanitizer + UndefinedBehaviorSanitizer (and GCC's
# comparison tracing, which libFuzzer turns into coverage feedback with -use_value_profile=1)
# into a separate copy of the tree, so the in-place build others use is never replaced.
#
#   fuzz/build_asan.sh [DEST]        DEST defaults to /tmp/wscodec-asan-tree
# Prints DEST/src (put it first on PYTHONPATH; run with fuzz/env.sh's preload).
set -euo pipefail
HERE="$(cd "$(dirname "$0")/.." && pwd)"
DEST="${1:-/tmp/wscodec-asan-tree}"
PY="${PYTHON:-python3}"
rm -rf "$DEST" && mkdir -p "$DEST"
# (no rsync on the CI image: tar with excludes)
tar -C "$HERE" --exclude='*.so' --exclude=.venv --exclude=.git --exclude=./build \
  --exclude=__pycache__ --exclude=.hypothesis -cf - . | tar -C "$DEST" -xf -
cd "$DEST"
# The generated .c files are kept from the source tree (Cython regenerates when a .pyx is newer).
WSCODEC_SANITIZE="${WSCODEC_SANITIZE:-address,undefined}" WSCODEC_REQUIRE_EXTENSIONS=1 \
  CFLAGS="${FUZZ_CFLAGS:--fsanitize-coverage=trace-cmp -fno-sanitize-recover=undefined}" \
  "$PY" setup.py -q build_ext --inplace -j 2 >"$DEST/build.log" 2>&1 || { tail -40 "$DEST/build.log"; exit 1; }
echo "$DEST/src"
