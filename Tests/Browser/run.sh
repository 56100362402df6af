#!/usr/bin/env bash
# Browser tests: Debian's headless Chromium (chromium-driver + Selenium) against a real Framecast
# on loopback. Needs what scripts/install-deps.sh installs and a built binary: FRAMECAST_BIN,
# default .build/debug/framecast (`swift build`). Extra arguments go to pytest (e.g. -k lag -x).
# Writes Tests/Browser/artifacts/wall.png. Exits non-zero when a test fails.
set -euo pipefail
cd "$(dirname "$0")/../.."

export FRAMECAST_BIN="${FRAMECAST_BIN:-.build/debug/framecast}"
if [[ ! -x $FRAMECAST_BIN ]]; then
  echo "$FRAMECAST_BIN is missing: run swift build first (or set FRAMECAST_BIN)" >&2
  exit 1
fi

# The Python that has both pytest and Selenium: Debian's python3-pytest and python3-selenium
# live in /usr/bin/python3, which another python3 earlier on PATH (pyenv, venv) may hide.
python=""
for candidate in "${PYTHON:-}" python3 /usr/bin/python3; do
  [[ -n $candidate ]] && command -v "$candidate" >/dev/null 2>&1 || continue
  if "$candidate" -c 'import pytest, selenium' >/dev/null 2>&1; then
    python=$candidate
    break
  fi
done
if [[ -z $python ]]; then
  echo "no python3 with pytest and selenium: run scripts/install-deps.sh (python3-pytest, python3-selenium)" >&2
  exit 1
fi

# A hung browser or server must not hang `make test`: the whole suite normally takes well under 2 min.
export PYTHONDONTWRITEBYTECODE=1
exec timeout --signal=TERM --kill-after=10 300 "$python" -m pytest -p no:cacheprovider -q Tests/Browser "$@"
