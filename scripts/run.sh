#!/usr/bin/env bash
# `make run`: migrate, ensure the demo account, then serve the API (gunicorn)
# and a django-q2 worker in the foreground. One Ctrl-C stops both.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
export DJANGO_SETTINGS_MODULE=aiprod.settings
mkdir -p var

$PY manage.py migrate --noinput -v0
$PY manage.py collectstatic --noinput -v0
$PY manage.py demo_account

if [ -n "${REDIS_URL:-}" ]; then
  workers=${WEB_CONCURRENCY:-4}; threads=1
  echo "Rate limits: Redis at $REDIS_URL, shared by $workers gunicorn workers."
else
  workers=1; threads=8
  echo "Rate limits: no REDIS_URL, so a per-process memory cache; serving with ONE gunicorn process ($threads threads) so the limits stay correct."
fi

# /metrics adds up every gunicorn worker and the qcluster through files in this
# host-private directory; emptied first, or an earlier run's counts would be added.
export PROMETHEUS_MULTIPROC_DIR="${PROMETHEUS_MULTIPROC_DIR:-$PWD/var/prometheus}"
mkdir -p "$PROMETHEUS_MULTIPROC_DIR" && find "$PROMETHEUS_MULTIPROC_DIR" -maxdepth 1 -name '*.db' -delete

pids=()
cleanup() {
  trap - INT TERM EXIT
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup INT TERM EXIT

.venv/bin/gunicorn aiprod.wsgi:application --bind "${BIND:-127.0.0.1:8000}" \
  --workers "$workers" --threads "$threads" --timeout 60 --access-logfile - --no-control-socket &
pids+=($!)
$PY manage.py qcluster &
pids+=($!)
echo "API on http://${BIND:-127.0.0.1:8000} (docs at /docs); worker running. Ctrl-C stops both."
wait -n "${pids[@]}"
