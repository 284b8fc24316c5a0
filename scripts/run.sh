#!/usr/bin/env bash
# `make run`: migrate, ensure the demo account, then serve the API (gunicorn)
# and a django-q2 worker in the foreground. One Ctrl-C stops both.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
export DJANGO_SETTINGS_MODULE=aiprod.settings
mkdir -p var
# A PROMETHEUS_MULTIPROC_DIR given by the caller must exist before manage.py records a metric.
if [ -n "${PROMETHEUS_MULTIPROC_DIR:-}" ]; then mkdir -p "$PROMETHEUS_MULTIPROC_DIR"; fi
# The settings refuse to start without a secret: use the one made for this
# checkout at the first run (var/ is not in git), unless one is given.
DJANGO_SECRET_KEY="${DJANGO_SECRET_KEY:-$(bash scripts/local-secret.sh var/secret_key)}"
export DJANGO_SECRET_KEY

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

# /metrics adds up every gunicorn worker and the qcluster through files in this
# host-private directory; emptied first, or an earlier run's counts would be added.
export PROMETHEUS_MULTIPROC_DIR="${PROMETHEUS_MULTIPROC_DIR:-$PWD/var/prometheus}"
mkdir -p "$PROMETHEUS_MULTIPROC_DIR" && find "$PROMETHEUS_MULTIPROC_DIR" -maxdepth 1 -name '*.db' -delete
case "${AIPROD_ALLOW_INSECURE_URLS:-}" in
  1|true|yes|on|TRUE|True|YES|ON)
    echo "Input/webhook URLs: AIPROD_ALLOW_INSECURE_URLS=1, so http:// and local/private addresses are allowed (development only)." ;;
  *)
    echo "Input/webhook URLs: HTTPS to public hosts only (AIPROD_ALLOW_INSECURE_URLS off); to use files on this machine, start with AIPROD_ALLOW_INSECURE_URLS=1 make run, or upload them with POST /jobs/stream." ;;
esac

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
