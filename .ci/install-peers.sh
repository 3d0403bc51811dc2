#!/usr/bin/env bash
# Install the real peers that tests/test_autobahn.py and tests/test_browser.py run against:
#
#   .ci/install-peers.sh VENV
#     e.g. .ci/install-peers.sh .venv      (then: WSCODEC_REQUIRE_AUTOBAHN=1 WSCODEC_REQUIRE_BROWSER=1 pytest)
#
#   1. wstest (Autobahn TestSuite) via ../shared/autobahn/install_wstest.sh, into
#      ${WSTEST_VENV:-~/.cache/wscodec-wstest} (needs CPython 2.7 under pyenv)
#   2. Debian's chromium (apt-get; root, or sudo)
#   3. Python Playwright into VENV (created if missing). No `playwright install`: the tests drive
#      the system /usr/bin/chromium.
#
# Idempotent: each step is skipped when its result is already there. Meant for Debian 12.
# Environment: PEERS_SKIP="wstest,chromium,playwright" (any subset) skips steps;
#   WSCODEC_AUTOBAHN_DIR overrides the location of the Autobahn helper scripts.
set -euo pipefail

[ $# -eq 1 ] || { sed -n '2,16p' "$0" >&2; exit 2; }
VENV=$1
REPO=$(cd "$(dirname "$0")/.." && pwd)
AUTOBAHN_DIR=${WSCODEC_AUTOBAHN_DIR:-$REPO/../shared/autobahn}
SKIP=",${PEERS_SKIP:-},"

step_start=0
step() { step_start=$EPOCHREALTIME; echo "==> $*"; }
done_step() {
  printf '    %s (%.1fs)\n' "$1" "$(awk -v a="$step_start" -v b="$EPOCHREALTIME" 'BEGIN{print b-a}')"
}
skipped() { case "$SKIP" in *",$1,"*) echo "==> $1: skipped (PEERS_SKIP)"; return 0 ;; esac; return 1; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"
  elif command -v sudo >/dev/null 2>&1; then sudo "$@"
  else echo "install-peers: need root (or sudo) for: $*" >&2; exit 1
  fi
}

# 1. wstest -------------------------------------------------------------------------------
if ! skipped wstest; then
  step "wstest (Autobahn TestSuite)"
  [ -f "$AUTOBAHN_DIR/install_wstest.sh" ] || {
    echo "install-peers: $AUTOBAHN_DIR/install_wstest.sh not found (set WSCODEC_AUTOBAHN_DIR)" >&2; exit 1; }
  bash "$AUTOBAHN_DIR/install_wstest.sh"
  done_step "wstest ready"
fi

# 2. chromium -----------------------------------------------------------------------------
if ! skipped chromium; then
  step "chromium (apt)"
  if dpkg-query -W -f='${Status}' chromium 2>/dev/null | grep -q 'install ok installed'; then
    echo "    chromium already installed"
  else
    export DEBIAN_FRONTEND=noninteractive
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -o Dpkg::Use-Pty=0 chromium >/dev/null
  fi
  /usr/bin/chromium --version 2>/dev/null | grep -i chromium
  done_step "chromium ready"
fi

# 3. playwright ---------------------------------------------------------------------------
if ! skipped playwright; then
  step "playwright (pip, into $VENV)"
  if [ ! -x "$VENV/bin/python" ]; then
    python3 -m venv "$VENV"
  fi
  if "$VENV/bin/python" -c 'import playwright.sync_api' >/dev/null 2>&1; then
    echo "    playwright already installed"
  else
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check playwright
  fi
  "$VENV/bin/python" -c 'from importlib.metadata import version; print("    playwright", version("playwright"))'
  done_step "playwright ready"
fi

echo "peers installed; run: WSCODEC_REQUIRE_AUTOBAHN=1 WSCODEC_REQUIRE_BROWSER=1 $VENV/bin/python -m pytest tests/test_autobahn.py tests/test_browser.py"
