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
  # Threads (gthread): a request waiting on a customer's server (input-URL
  # preflight, webhook verify/test; capped per account) holds one thread, not
  # a whole worker process.
  workers=${WEB_CONCURRENCY:-4}; threads=${GUNICORN_THREADS:-8}
  echo "Rate limits: Redis at $REDIS_URL, shared by $workers gunicorn workers ($threads threads each)."
else
  workers=1; threads=8
  echo "Rate limits: no REDIS_URL, so a per-process memory cache; serving with ONE gunicorn process ($threads threads) so the limits stay correct."
fi

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
