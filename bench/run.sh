#!/usr/bin/env bash
# `make bench`: installs wrk if missing (as root), then runs bench/bench.py (as the module bench.bench).
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v wrk >/dev/null 2>&1; then
  if [ "$(id -u)" = "0" ]; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null 2>&1 \
      || { apt-get update -qq >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; }
  else
    echo "wrk is required: sudo apt-get install wrk" >&2; exit 1
  fi
fi
exec .venv/bin/python -m bench.bench "$@"
