#!/usr/bin/env bash
# Prints this checkout's development secret, made at the first call and kept
# in the given file (default var/secret_key, from the repository root; var/ is
# not in git), readable by its owner only. `make run` uses it when
# DJANGO_SECRET_KEY is not set.
set -euo pipefail
cd "$(dirname "$0")/.."
file="${1:-var/secret_key}"
if [ ! -s "$file" ]; then
  mkdir -p "$(dirname "$file")"
  (umask 077 && .venv/bin/python -c 'import secrets; print(secrets.token_urlsafe(50))' > "$file.tmp" && mv "$file.tmp" "$file")
fi
cat "$file"
