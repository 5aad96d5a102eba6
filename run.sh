#!/usr/bin/env bash
# Set up (once, and again only when pyproject.toml changes), then open the library:
# `./run.sh` starts the console (an embedded Redis and an in-process worker, no server or
# token needed), as a bare `shelf` does; `./run.sh read babel-w3-s2-v17` or any other `shelf`
# command runs that instead.
set -euo pipefail
cd "$(dirname "$0")"
bash scripts/setup.sh
exec .venv/bin/shelf "$@"
