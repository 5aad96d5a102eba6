#!/usr/bin/env bash
# Create .venv (if needed) and install the project with its test tools.
# torch comes first, pinned to the CPU build that these machines hold on local disk;
# the project's own `torch` requirement is then already satisfied.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q "torch==2.13.0"
.venv/bin/python -m pip install -q -e ".[test]"
