#!/usr/bin/env bash
# Create .venv (if needed) and install the project with its test tools, quietly, and only
# when pyproject.toml (or this script) changed since the last install: the install is
# editable, so edits to the code need none, and every ./run.sh saves its ~3 s.
# torch comes first, pinned to the CPU build that these machines hold on local disk;
# the project's own `torch` requirement is then already satisfied.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
STAMP=.venv/.installed-from  # checksum of pyproject.toml and this script at the last install
want=$(cat pyproject.toml scripts/setup.sh | cksum)
if [ -x .venv/bin/shelf ] && [ "$(cat "$STAMP" 2>/dev/null)" = "$want" ]; then
  exit 0
fi
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
# setuptools prints a 9-line warning about every editable install: nothing to act on
export PYTHONWARNINGS=ignore
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q "torch==2.13.0"
.venv/bin/python -m pip install -q -e ".[test]"
echo "$want" > "$STAMP"
