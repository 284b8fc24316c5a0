"""AIPROD settings: one module, driven by environment variables.

Every variable is read through `env` (aiprod/env.py), typed, with its default;
a value that does not parse stops the process with a message naming it.
docs/configuration.md lists them all (tests/aiprod/test_configuration.py keeps
the two in step).
"""

from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from aiprod.env import env, network

BASE_DIR = Path(__file__).resolve().parent.parent

DEBUG = env.bool("DJANGO_DEBUG", False)
# The secret signs sessions, CSRF tokens, output-download links and the task
# queue's payloads: a key from the repository would let anyone forge them. So
# without DJANGO_SECRET_KEY only a debug run starts, on a development key that
# `check --deploy` reports (aiprod.E001). `make run` keeps a generated one in var/.
SECRET_KEY = env.str("DJANGO_SECRET_KEY", "")
DEVELOPMENT_SECRET_KEY = "django-insecure-aiprod-development-key-never-use-in-production"
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "DJANGO_SECRET_KEY is not set. Set it to a long random value, e.g. the output of "
            "`python -c 'import secrets; print(secrets.token_urlsafe(50))'` (keep it the same for every process "
            "and across restarts), or set DJANGO_DEBUG=1 for a local development run."
        )
    SECRET_KEY = DEVELOPMENT_SECRET_KEY
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "testserver"])

INSTALLED_APPS = [
    *("django.contrib.admin", "django.contrib.auth", "django.contrib.contenttypes", "django.contrib.sessions"),
    *("django.contrib.messages", "whitenoise.runserver_nostatic", "django.contrib.staticfiles"),
    *("rest_framework", "drf_spectacular", "drf_spectacular_sidecar", "django_q"),
    "django_ratelimit",  # its system checks vet the rate-limit cache
    # Ours, in layer order (.importlinter): each imports only ones before it; dashboard and ops not each other.
    *("core", "accounts", "quotas", "webhooks", "jobs", "dashboard", "ops"),
]

MIDDLEWARE = [
    "core.observability.ObservabilityMiddleware",  # log context and /metrics: outermost, times everything
    "aiprod.middleware.RequestContextMiddleware",
    "ops.middleware.MaintenanceMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "aiprod.urls"
WSGI_APPLICATION = "aiprod.wsgi.application"
APPEND_SLASH = False

TEMPLATES = [{
    "BACKEND": "django.template.backends.django.DjangoTemplates",
    "DIRS": [BASE_DIR / "templates"],
    "APP_DIRS": True,
    "OPTIONS": {"context_processors": [
        "django.template.context_processors.request",
        "django.contrib.auth.context_processors.auth",
        "django.contrib.messages.context_processors.messages",
    ]},
}]

# --- Database -----------------------------------------------------------------
# PostgreSQL in production and CI; SQLite only as the zero-setup default.
# Persistent connections + health checks: measured faster than Django's psycopg
# pool with gunicorn sync workers on this machine kind.
DATABASE_URL = env.str("DATABASE_URL", f"sqlite:///{BASE_DIR / 'db.sqlite3'}")
AIPROD_CONN_MAX_AGE = env.int("AIPROD_CONN_MAX_AGE", 600)  # seconds a connection is kept for reuse
# A short connect timeout: while PostgreSQL is down, requests fail fast with
# 503 instead of hanging until gunicorn kills the worker.
AIPROD_DB_CONNECT_TIMEOUT = env.int("AIPROD_DB_CONNECT_TIMEOUT", 3)
AIPROD_TEST_DB_NAME = env.str("AIPROD_TEST_DB_NAME", "")  # tests: "" = test_<database name>
DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=AIPROD_CONN_MAX_AGE, conn_health_checks=True)}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    DATABASES["default"].setdefault("OPTIONS", {})["connect_timeout"] = AIPROD_DB_CONNECT_TIMEOUT
    DATABASES["default"]["TEST"] = {"NAME": AIPROD_TEST_DB_NAME or None}
elif DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"].setdefault("OPTIONS", {})["timeout"] = 20
IS_POSTGRES = DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache (rate limits) ---------------------------------------------------------
REDIS_URL = env.str("REDIS_URL", "")
# Namespaces this deployment's keys in a Redis it may share (the tests use one per run).
AIPROD_CACHE_PREFIX = env.str("AIPROD_CACHE_PREFIX", "aiprod")
if REDIS_URL:
    CACHES = {"default": {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": AIPROD_CACHE_PREFIX,
        "OPTIONS": {"CLIENT_CLASS": "django_redis.client.DefaultClient",
                    "SOCKET_CONNECT_TIMEOUT": 0.5, "SOCKET_TIMEOUT": 0.5},
    }}
    # django-ratelimit's counters, the same Redis: one round trip per count
    # (quotas/redis_counter.py).
    CACHES["ratelimit"] = {
        **CACHES["default"],
        "OPTIONS": {**CACHES["default"]["OPTIONS"], "CLIENT_CLASS": "quotas.redis_counter.CountingClient"},
    }
else:
    # One serving process only (scripts/run.sh); see quotas/cache.py.
    CACHES = {
        "default": {"BACKEND": "quotas.cache.ProcessLocalCache", "LOCATION": "default"},
        "ratelimit": {"BACKEND": "quotas.cache.ProcessLocalCache", "LOCATION": "ratelimit"},
    }

RATELIMIT_USE_CACHE = "ratelimit"
# A count lost in the cache (evicted key) serves the request instead of a 429.
RATELIMIT_FAIL_OPEN = True
# After a cache error, skip the rate limiter for this long (seconds) per process.
AIPROD_RATELIMIT_BREAKER_SECONDS = env.int("AIPROD_RATELIMIT_BREAKER_SECONDS", 5)
# Without Redis, W001 ("not officially supported") is about ProcessLocalCache, deliberate
# in the one-process setup (quotas/cache.py); scripts/run.sh says so once, in its banner.
SILENCED_SYSTEM_CHECKS = [] if REDIS_URL else ["django_ratelimit.W001"]

# --- Auth / i18n --------------------------------------------------------------
# For every password set through Django (admin user forms, createsuperuser,
# create_account --password): not like the user name or email, 12+
# characters, not a common password, not all digits.
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Failed password logins (dashboard and admin, one counter) per client address
# before every login from it is answered 429 until the window ends.
AIPROD_LOGIN_FAILURE_LIMIT = env.str("AIPROD_LOGIN_FAILURE_LIMIT", "10/m")
LOGIN_URL = "/dashboard/login"
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "var" / "static"
MEDIA_ROOT = Path(env.str("AIPROD_MEDIA_ROOT", str(BASE_DIR / "media")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

# JSON endpoints take at most 1 MB; /jobs/stream reads its body as a stream
# and is not bound by this.
DATA_UPLOAD_MAX_MEMORY_SIZE = 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 1024 * 1024

# --- REST framework -------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["accounts.authentication.ApiKeyAuthentication"],
    # Order matters: who you are, how fast (so every authenticated answer,
    # refusals included, counts and carries the rate headers), whether you
    # may be here at all, then what this key may do. Public views set their own (none).
    "DEFAULT_PERMISSION_CLASSES": [
        "quotas.permissions.WithinRateLimit",
        "accounts.permissions.AccountActive",
        "accounts.permissions.IpAllowed",
        "accounts.permissions.HasScope",
        "accounts.permissions.HasTier",
    ],
    "DEFAULT_PARSER_CLASSES": ["core.parsers.StrictJSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "EXCEPTION_HANDLER": "core.errors.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": None,
    "DATETIME_FORMAT": "iso-8601",
    # `?format=csv` on /account/logs is ours, not DRF's renderer switch.
    "URL_FORMAT_OVERRIDE": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "AIPROD API",
    "DESCRIPTION": "Asynchronous media processing: jobs, webhooks, quotas.",
    "VERSION": "33",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # /docs works offline: Swagger UI served from drf-spectacular-sidecar.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # The docs and the schema are public (no API key needed to read them).
    "SERVE_AUTHENTICATION": [],
    # Documented request bodies are JSON (the form parser only serves curl's -d).
    "PARSER_WHITELIST": ["core.parsers.StrictJSONParser"],
    "ENUM_NAME_OVERRIDES": {
        "JobStatusEnum": "jobs.serializers.STATUS_CHOICES",
        "ApiKeyStatusEnum": "accounts.serializers.API_KEY_STATUSES",
        "WebhookEndpointStatusEnum": "webhooks.serializers.ENDPOINT_STATUSES",
        "DeliveryStatusEnum": "webhooks.serializers.PUBLIC_DELIVERY_STATUSES",
        "WebhookEventEnum": "webhooks.models.SUBSCRIBABLE_EVENTS",
    },
}

# --- django-q2 ---------------------------------------------------------------
# The ORM broker has delivery receipts; the jobs and deliveries tables remain
# the source of truth. `retry` must exceed the longest job timeout (7200 s),
# or a long job would be handed to a second worker while it still runs.
Q_CLUSTER = {
    "name": "aiprod",
    "orm": "default",
    "workers": env.int("AIPROD_Q_WORKERS", 2),
    "timeout": 7500,
    "retry": 7800,
    "max_attempts": 1,
    "ack_failures": True,
    "catch_up": False,
    # Seconds an idle pusher sleeps between looks at the queue table: half of it is
    # the average wait of a job sent to idle workers (0.2 s cost ~0.1 s per job).
    "poll": env.float("AIPROD_Q_POLL", 0.05),
    "save_limit": 1000,
    "daemonize_workers": False,
    "sync": env.bool("AIPROD_Q_SYNC", False),  # tests: run tasks inline, no worker
    # django-q2 pops this whenever Q_CLUSTER_NAME names another cluster (the
    # webhook cluster, AIPROD_WEBHOOK_Q_CLUSTER): it must exist.
    "ALT_CLUSTERS": {},
}

# --- Requests and security ---------------------------------------------------------
# Proxies whose X-Forwarded-For (client address) and X-Forwarded-Proto are believed.
AIPROD_TRUSTED_PROXIES = env.list("AIPROD_TRUSTED_PROXIES", cast=network, default=[])
AIPROD_SANDBOX_HOSTS = [h.lower() for h in env.list("AIPROD_SANDBOX_HOSTS", default=[])]  # test keys only
# http:// and private addresses for input and webhook URLs: development and tests only.
AIPROD_ALLOW_INSECURE_URLS = env.bool("AIPROD_ALLOW_INSECURE_URLS", False)
# None: follow AIPROD_ALLOW_INSECURE_URLS at call time (tests override that alone).
AIPROD_OUTBOUND_ALLOW_HTTP = env.bool("AIPROD_OUTBOUND_ALLOW_HTTP", None)
# Networks that count as public even with insecure URLs off (e.g. a partner's VPC).
AIPROD_OUTBOUND_ALLOWED_NETWORKS = env.list("AIPROD_OUTBOUND_ALLOWED_NETWORKS", cast=network, default=[])
# PEM file of the CAs outbound HTTPS (input downloads, webhooks) trusts; empty: certifi's bundle.
AIPROD_OUTBOUND_CA_BUNDLE = env.str("AIPROD_OUTBOUND_CA_BUNDLE", "") or None
# Outbound waits (input-URL preflight, webhook verify/test) one account may have in
# flight inside API requests at once; beyond it 429 RATE_LIMITED (quotas/outbound_waits.py). 0 = off.
AIPROD_OUTBOUND_WAITS_PER_ACCOUNT = env.int("AIPROD_OUTBOUND_WAITS_PER_ACCOUNT", 8)
# Failed authentications allowed per client address per minute before 429.
AIPROD_AUTH_FAILURE_LIMIT = env.str("AIPROD_AUTH_FAILURE_LIMIT", "30/m")
# Seconds a process reuses an API-key lookup (accounts/key_cache.py): how long
# a revocation or suspension made in another process may take to apply. 0 = off.
AIPROD_AUTH_CACHE_SECONDS = env.float("AIPROD_AUTH_CACHE_SECONDS", 5.0)
# Request-log rows are written by a background thread in batches (off the
# request path); visible at /account/logs within the flush interval.
AIPROD_REQUEST_LOG_ASYNC = env.bool("AIPROD_REQUEST_LOG_ASYNC", True)
AIPROD_REQUEST_LOG_FLUSH_SECONDS = env.float("AIPROD_REQUEST_LOG_FLUSH_SECONDS", 0.5)
AIPROD_REQUEST_LOG_RETENTION_DAYS = env.int("AIPROD_REQUEST_LOG_RETENTION_DAYS", 30)  # `prune` deletes older rows
AIPROD_BENCH_BASELINES = env.bool("AIPROD_BENCH_BASELINES", False)  # bench/ only: its baseline views

# --- HTTPS (`manage.py check --deploy`) -------------------------------------------
# AIPROD_HTTPS=1 where clients reach the service over HTTPS only: http is
# redirected (except /health, which load balancers probe over plain HTTP),
# cookies are Secure, HSTS is sent. Off by default so local runs over http work.
# TLS ended at a proxy: list it in AIPROD_TRUSTED_PROXIES, whose X-Forwarded-Proto
# then tells Django the request was HTTPS (the proxy must set or strip it).
AIPROD_HTTPS = env.bool("AIPROD_HTTPS", False)
SECURE_SSL_REDIRECT = AIPROD_HTTPS
SECURE_REDIRECT_EXEMPT = [r"^health$"]
SESSION_COOKIE_SECURE = AIPROD_HTTPS
CSRF_COOKIE_SECURE = AIPROD_HTTPS
AIPROD_HSTS_SECONDS = env.int("AIPROD_HSTS_SECONDS", 31536000)
SECURE_HSTS_SECONDS = AIPROD_HSTS_SECONDS if AIPROD_HTTPS else 0
# includeSubDomains covers the API's own host and the names under it
# (*.api.example.com), not its siblings: on unless the operator turns it off.
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("AIPROD_HSTS_INCLUDE_SUBDOMAINS", True)
# Preload commits the whole registrable domain to HTTPS in browsers' built-in
# lists, practically for good: the domain's owner opts in, so `check --deploy`
# does not ask for it (security.W021 silenced).
SECURE_HSTS_PRELOAD = env.bool("AIPROD_HSTS_PRELOAD", False)
SILENCED_SYSTEM_CHECKS += ["security.W021"]
if AIPROD_TRUSTED_PROXIES:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# --- Jobs (jobs/services) -------------------------------------------------------
# A processing job without a heartbeat for this long is re-queued by the sweeper,
# at most AIPROD_JOB_MAX_ATTEMPTS attempts, then failed WORKER_LOST.
AIPROD_JOB_STALE_AFTER = env.int("AIPROD_JOB_STALE_AFTER", 120)
AIPROD_JOB_MAX_ATTEMPTS = env.int("AIPROD_JOB_MAX_ATTEMPTS", 3)
# A pending job this old whose task is no longer in the queue is enqueued again.
AIPROD_JOB_PENDING_REQUEUE_AFTER = env.int("AIPROD_JOB_PENDING_REQUEUE_AFTER", 300)
AIPROD_JOB_HEARTBEAT_SECONDS = env.float("AIPROD_JOB_HEARTBEAT_SECONDS", 1.0)  # a running job's heartbeat
# Input downloads: seconds to the first byte (and the longest stall) before "Timeout after 30s".
AIPROD_JOB_FETCH_TIMEOUT = env.float("AIPROD_JOB_FETCH_TIMEOUT", 30.0)
# RLIMIT_AS of the forked processing child: bombs fail as MemoryError, not the OOM killer.
AIPROD_JOB_MEMORY_LIMIT_BYTES = env.int("AIPROD_JOB_MEMORY_LIMIT_BYTES", 4 * 1024**3)
# Caps every per-type/tier output-size limit (jobs/services/output_limits.py); 0 = the table alone.
AIPROD_JOB_OUTPUT_LIMIT_BYTES = env.int("AIPROD_JOB_OUTPUT_LIMIT_BYTES", 0)
AIPROD_JOB_OUTPUT_URL_MAX_AGE = env.int("AIPROD_JOB_OUTPUT_URL_MAX_AGE", 3600)  # signed output_url lifetime, seconds
# Base of the signed output_url links ("" = derived from the request, or relative).
AIPROD_JOB_PUBLIC_URL = env.str("AIPROD_JOB_PUBLIC_URL", "").rstrip("/")
# /jobs/stream bodies above this need Pro or Enterprise (docs/limits.md).
AIPROD_JOB_STREAM_FREE_MAX_BYTES = env.int("AIPROD_JOB_STREAM_FREE_MAX_BYTES", 100 * 1024**2)
# Scratch space for uploads in flight, downloads and processor output (same
# file system as MEDIA_ROOT, so finished files are moved, not copied).
AIPROD_JOB_WORK_DIR = env.str("AIPROD_JOB_WORK_DIR", "")
# The sweeper removes scratch directories unwritten for this long (left by a
# killed worker); longer than the longest job timeout (7200 s).
AIPROD_JOB_WORK_DIR_MAX_AGE = env.int("AIPROD_JOB_WORK_DIR_MAX_AGE", 3 * 3600)

# --- Worker clusters (jobs/cluster.py) --------------------------------------------
# On SIGTERM a worker takes no new job and lets running ones finish for this long,
# then re-queues them and exits.
AIPROD_WORKER_GRACE_SECONDS = env.float("AIPROD_WORKER_GRACE_SECONDS", 30.0)
# Every cluster writes a heartbeat row this often; one silent for
# AIPROD_WORKER_DEAD_AFTER is dead: its jobs are re-queued at once.
AIPROD_WORKER_HEARTBEAT_SECONDS = env.float("AIPROD_WORKER_HEARTBEAT_SECONDS", 2.0)
AIPROD_WORKER_DEAD_AFTER = env.float("AIPROD_WORKER_DEAD_AFTER", 15.0)
# Set: each `qcluster` serves its host's metrics (jobs, webhook deliveries) for
# Prometheus on this port, bound to AIPROD_WORKER_METRICS_BIND (worker-only hosts).
AIPROD_WORKER_METRICS_PORT = env.int("AIPROD_WORKER_METRICS_PORT", 0)
AIPROD_WORKER_METRICS_BIND = env.str("AIPROD_WORKER_METRICS_BIND", "127.0.0.1")

# --- Webhooks (webhooks/services) -------------------------------------------------
AIPROD_WEBHOOK_TIMEOUT = env.int("AIPROD_WEBHOOK_TIMEOUT", 10)  # seconds for the whole exchange
# Seconds before each retry after a failed attempt (docs/webhooks.md: immediately,
# 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h); each step gets up to 10 % jitter.
AIPROD_WEBHOOK_RETRY_SCHEDULE = env.list(
    "AIPROD_WEBHOOK_RETRY_SCHEDULE", cast=int, default=[0, 5, 300, 1800, 7200, 18000, 36000, 36000]
)
AIPROD_WEBHOOK_RETRY_AFTER_MAX = env.int("AIPROD_WEBHOOK_RETRY_AFTER_MAX", 3600)  # cap on a receiver's Retry-After
AIPROD_WEBHOOK_LEASE_SECONDS = env.int("AIPROD_WEBHOOK_LEASE_SECONDS", 60)  # a claim older than this is re-sent
AIPROD_WEBHOOK_DISABLE_AFTER_DAYS = env.int("AIPROD_WEBHOOK_DISABLE_AFTER_DAYS", 5)  # failing this long: disabled
AIPROD_WEBHOOK_MAX_ENDPOINTS = env.int("AIPROD_WEBHOOK_MAX_ENDPOINTS", 20)  # per account and environment
# After rotate-secret the old webhook secret signs too (a second v1, signature) for this long.
AIPROD_WEBHOOK_SECRET_OVERLAP_HOURS = env.float("AIPROD_WEBHOOK_SECRET_OVERLAP_HOURS", 24.0)
# A django-q2 cluster name for delivery tasks, so slow receivers never hold job
# workers: run `Q_CLUSTER_NAME=<it> manage.py qcluster` too; empty = the main cluster.
AIPROD_WEBHOOK_Q_CLUSTER = env.str("AIPROD_WEBHOOK_Q_CLUSTER", "aiprod-webhooks")
# Delivery workers every `manage.py qcluster` runs for that queue, beside the job
# workers (0: run `Q_CLUSTER_NAME=<queue> manage.py qcluster` separately).
AIPROD_WEBHOOK_WORKERS = env.int("AIPROD_WEBHOOK_WORKERS", 2)
# GET /events shows events this young; `prune` deletes older ones (with their deliveries).
AIPROD_EVENT_RETENTION_DAYS = env.int("AIPROD_EVENT_RETENTION_DAYS", 30)

# --- Operations (docs/operations.md) ------------------------------------------------
AIPROD_BACKUP_DIR = Path(env.str("AIPROD_BACKUP_DIR", str(BASE_DIR / "var" / "backups")))  # `manage.py backup`
AIPROD_BACKUP_KEEP = env.int("AIPROD_BACKUP_KEEP", 7)  # newest dumps `manage.py backup` keeps
AIPROD_MAINTENANCE_RETRY_AFTER = env.int("AIPROD_MAINTENANCE_RETRY_AFTER", 300)  # maintenance without an announced end
# json: one JSON object per line (app, worker, and gunicorn via gunicorn.conf.py),
# with request_id, account_id, job_id, event, duration_ms; INFO by default so the
# job and delivery events are in the stream.
AIPROD_LOG_FORMAT = env.choice("AIPROD_LOG_FORMAT", ("text", "json"), default="text")
AIPROD_LOG_LEVEL = env.str("AIPROD_LOG_LEVEL", "INFO" if AIPROD_LOG_FORMAT == "json" else "WARNING")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": AIPROD_LOG_LEVEL},
}
if AIPROD_LOG_FORMAT == "json":
    LOGGING["formatters"] = {"json": {"()": "core.logcontext.JsonFormatter"}}
    LOGGING["handlers"]["console"]["formatter"] = "json"
    # Django's own console handler (DEBUG only) would repeat django.* lines as text.
    LOGGING["loggers"] = {"django": {"handlers": [], "level": AIPROD_LOG_LEVEL, "propagate": True}}
# GET /metrics: a bearer token and/or CIDRs allowed to scrape; neither = 404.
AIPROD_METRICS_TOKEN = env.str("AIPROD_METRICS_TOKEN", "")
AIPROD_METRICS_ALLOWED_NETWORKS = env.list("AIPROD_METRICS_ALLOWED_NETWORKS", cast=network, default=[])

# --- Object storage ---------------------------------------------------------------
# AIPROD_S3_BUCKET set: job files (uploads, outputs) live in an S3-compatible
# bucket through django-storages; every node keeps only private scratch space.
# Unset: the local directory MEDIA_ROOT. Credentials come from the standard
# AWS chain (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, profiles, roles).
AIPROD_S3_BUCKET = env.str("AIPROD_S3_BUCKET", "")
AIPROD_S3_ENDPOINT_URL = env.str("AIPROD_S3_ENDPOINT_URL", "")  # MinIO, R2, Ceph, a test server
AIPROD_S3_REGION = env.str("AIPROD_S3_REGION", "us-east-1")
AIPROD_S3_PREFIX = env.str("AIPROD_S3_PREFIX", "").strip("/")  # several deployments in one bucket
AIPROD_S3_URL_EXPIRY = env.int("AIPROD_S3_URL_EXPIRY", 900)  # presigned downloads, seconds
AIPROD_UPLOAD_URL_EXPIRY = env.int("AIPROD_UPLOAD_URL_EXPIRY", 3600)  # how long a POST /uploads URL takes the PUT
# Fail fast on a bucket that does not answer (health, API requests): seconds.
AIPROD_S3_CONNECT_TIMEOUT = env.int("AIPROD_S3_CONNECT_TIMEOUT", 5)
AIPROD_S3_READ_TIMEOUT = env.int("AIPROD_S3_READ_TIMEOUT", 60)
if AIPROD_S3_BUCKET:
    from botocore.config import Config as _BotoConfig

    _path_style = bool(AIPROD_S3_ENDPOINT_URL)  # MinIO and most other stores want path-style URLs
    STORAGES["default"] = {"BACKEND": "storages.backends.s3.S3Storage", "OPTIONS": {
        "bucket_name": AIPROD_S3_BUCKET,
        "endpoint_url": AIPROD_S3_ENDPOINT_URL or None,
        "region_name": AIPROD_S3_REGION,
        "location": AIPROD_S3_PREFIX,
        "querystring_expire": AIPROD_S3_URL_EXPIRY,
        "signature_version": "s3v4",
        "addressing_style": "path" if _path_style else None,
        "default_acl": None,
        "file_overwrite": True,
        "client_config": _BotoConfig(  # retry blips, a few times
            s3={"addressing_style": "path" if _path_style else "auto"},
            signature_version="s3v4",
            connect_timeout=AIPROD_S3_CONNECT_TIMEOUT,
            read_timeout=AIPROD_S3_READ_TIMEOUT,
            retries={"max_attempts": 3, "mode": "standard"},
        ),
    }}
