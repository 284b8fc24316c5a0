"""Prometheus metrics every process records (docs/operations.md), served at /metrics.

With PROMETHEUS_MULTIPROC_DIR set in the environment *before* the process
starts (scripts/run.sh does it), prometheus_client keeps each value in a
memory-mapped file of that directory, one per process, so a scrape answered by
any gunicorn worker adds up every worker and the qcluster. The directory is
private to one host and emptied before the processes start: a file left by an
earlier run would be counted again. Without it (unit tests, a bare
``runserver``) the values live in this process only.

Callers use the small functions below, one line at the point where the thing
happens; labels come from small fixed sets (route templates, status classes,
job types, error codes), never from ids or raw paths.
"""

from __future__ import annotations

import os

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client import REGISTRY, multiprocess

# Seconds; an API answer is milliseconds, a slow upload seconds.
_REQUEST_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
# Seconds; a probe takes milliseconds, a transcription up to the 2 h timeout.
_JOB_BUCKETS = (0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 7200)
# Seconds; the whole exchange is capped by AIPROD_WEBHOOK_TIMEOUT (10 s).
_WEBHOOK_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)

REQUESTS = Counter("aiprod_http_requests", "HTTP requests answered", ["method", "route", "status"])
REQUEST_SECONDS = Histogram(
    "aiprod_http_request_duration_seconds", "Time to answer, by route template", ["method", "route", "status"],
    buckets=_REQUEST_BUCKETS,
)
JOBS_CREATED = Counter("aiprod_jobs_created", "Jobs created", ["type"])
JOBS_COMPLETED = Counter("aiprod_jobs_completed", "Jobs completed", ["type"])
JOBS_FAILED = Counter("aiprod_jobs_failed", "Jobs failed, by error code", ["type", "error_code"])
JOBS_CANCELLED = Counter("aiprod_jobs_cancelled", "Jobs cancelled", ["type"])
JOB_SECONDS = Histogram(
    "aiprod_job_processing_seconds", "From claim by a worker to completion or failure", ["type", "status"],
    buckets=_JOB_BUCKETS,
)
WEBHOOK_ATTEMPTS = Counter("aiprod_webhook_deliveries", "Webhook delivery attempts, by outcome", ["outcome"])
WEBHOOK_SECONDS = Histogram(
    "aiprod_webhook_delivery_duration_seconds", "Webhook delivery attempts, request to answer", ["outcome"],
    buckets=_WEBHOOK_BUCKETS,
)
RATE_LIMITED = Counter(
    "aiprod_rate_limit_rejections", "Requests refused 429 RATE_LIMITED: an account's per-second limit "
    '(limit="account") or an address\'s failed authentications (limit="failed_auth")', ["limit"],
)
QUOTA_REJECTED = Counter("aiprod_quota_rejections", "Requests refused 422 QUOTA_EXCEEDED")


def multiprocess_dir() -> str | None:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


def status_class(status: int) -> str:
    return f"{status // 100}xx"


def observe_request(method: str, route: str, status: int, seconds: float, *, error_code: str | None = None,
                    authenticated: bool = False) -> None:
    """One answered request. ``route``: the URL pattern (``jobs/<str:job_id>``), never the path."""
    labels = (method, route, status_class(status))
    REQUESTS.labels(*labels).inc()
    REQUEST_SECONDS.labels(*labels).observe(seconds)
    if error_code == "RATE_LIMITED":
        RATE_LIMITED.labels("account" if authenticated else "failed_auth").inc()
    elif error_code == "QUOTA_EXCEEDED":
        QUOTA_REJECTED.inc()


def job_transition(job_type: str, from_status: str | None, to_status: str, *, error_code: str | None = None,
                   duration_ms: int | None = None) -> None:
    """One committed job state change (jobs/services/transitions.py)."""
    if from_status is None:
        JOBS_CREATED.labels(job_type).inc()
        return
    if to_status == "completed":
        JOBS_COMPLETED.labels(job_type).inc()
    elif to_status == "failed":
        JOBS_FAILED.labels(job_type, error_code or "UNKNOWN").inc()
    elif to_status == "cancelled":
        JOBS_CANCELLED.labels(job_type).inc()
    else:
        return
    if duration_ms is not None and from_status == "processing" and to_status in ("completed", "failed"):
        JOB_SECONDS.labels(job_type, to_status).observe(duration_ms / 1000)


def webhook_attempt(outcome: str, duration_ms: int) -> None:
    """One delivery attempt finished: delivered, failed or skipped."""
    WEBHOOK_ATTEMPTS.labels(outcome).inc()
    WEBHOOK_SECONDS.labels(outcome).observe(duration_ms / 1000)


def exposition(*collectors) -> bytes:
    """The text format of every process's metrics (or this process's), plus
    ``collectors`` (read at scrape time, e.g. from the database)."""
    if multiprocess_dir():
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        body = generate_latest(registry)
    else:
        body = generate_latest(REGISTRY)
    if collectors:
        extra = CollectorRegistry()
        for collector in collectors:
            extra.register(collector)
        body += generate_latest(extra)
    return body


def serve_on_port(port: int, bind: str = "127.0.0.1"):
    """Serves this host's metrics (every process of PROMETHEUS_MULTIPROC_DIR,
    or this process's without it) on ``bind:port`` from a daemon thread: a
    worker host has no gunicorn, so its qcluster answers the scrape itself
    (AIPROD_WORKER_METRICS_PORT). Returns the server."""
    from prometheus_client import start_http_server

    if multiprocess_dir():
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = REGISTRY
    server, _thread = start_http_server(port, addr=bind, registry=registry)
    return server
