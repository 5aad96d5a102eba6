#!/usr/bin/env bash
# Set up, then open the library: `./run.sh` starts the console (an embedded Redis and an
# in-process worker, no server or token needed); `./run.sh read babel-w3-s2-v17` or any other
# `shelf` command runs that instead.
set -euo pipefail
cd "$(dirname "$0")"
bash scripts/setup.sh
if [ $# -eq 0 ]; then set -- console; fi
exec .venv/bin/shelf "$@"
