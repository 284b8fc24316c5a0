"""Settings for the test suite.

PostgreSQL at DATABASE_URL (default postgres://postgres@127.0.0.1:5432/aiprod);
when none answers, SQLite with a loud warning, unless AIPROD_REQUIRE_POSTGRES=1,
which makes a missing PostgreSQL an error. Redis at REDIS_URL (default
redis://127.0.0.1:6379/1) backs the rate-limit cache when it answers.
"""

import os
import secrets
import socket
import sys
from pathlib import Path
from urllib.parse import urlparse


def _answers(url: str, default_port: int) -> bool:
    parsed = urlparse(url)
    try:
        with socket.create_connection((parsed.hostname or "127.0.0.1", parsed.port or default_port), timeout=2):
            return True
    except OSError:
        return False


_db_url = os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/aiprod")
if _db_url.startswith("postgres") and not _answers(_db_url, 5432):
    if os.environ.get("AIPROD_REQUIRE_POSTGRES") == "1":
        raise SystemExit(f"AIPROD_REQUIRE_POSTGRES=1 but no PostgreSQL answers at {_db_url}")
    sys.stderr.write(
        "\n" + "!" * 78 + f"\n!! WARNING: no PostgreSQL at {_db_url}; falling back to SQLite.\n"
        "!! PostgreSQL-only tests are skipped. Set AIPROD_REQUIRE_POSTGRES=1 to fail instead.\n" + "!" * 78 + "\n\n"
    )
    os.environ["DATABASE_URL"] = "sqlite:///" + os.path.join(os.path.dirname(__file__), "..", "var", "test.sqlite3")

_redis_url = os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/1")
if not _answers(_redis_url, 6379):
    sys.stderr.write(f"WARNING: no Redis at {_redis_url}; rate limits use a per-process memory cache.\n")
    os.environ["REDIS_URL"] = ""

# AIPROD_TEST_STORAGE=s3: the whole suite on a real S3 server (moto's, started
# here unless AIPROD_S3_ENDPOINT_URL names one), in a bucket of its own.
# Child processes (gunicorn, qcluster) inherit the variables and share it.
if os.environ.get("AIPROD_TEST_STORAGE") == "s3" and not os.environ.get("AIPROD_S3_BUCKET"):
    from tests.s3server import shared_server

    _s3 = shared_server()
    os.environ.update(_s3.env(_s3.create_bucket()))

os.environ.setdefault("AIPROD_Q_SYNC", "1")
# One INSERT per request in unit tests, so a log row is there when the response is.
os.environ.setdefault("AIPROD_REQUEST_LOG_ASYNC", "0")
os.environ.setdefault("AIPROD_ALLOW_INSECURE_URLS", "1")
os.environ.setdefault("AIPROD_CACHE_PREFIX", f"aiprod-test-{os.getpid()}")
# A fresh secret per run, inherited by the gunicorn/qcluster processes tests start.
os.environ.setdefault("DJANGO_SECRET_KEY", secrets.token_urlsafe(50))

from aiprod.settings import *  # noqa: E402,F401,F403

# AIPROD_TEST_MEDIA_ROOT: a worker subprocess's own disk (with AIPROD_TEST_STORAGE=s3 the
# tests give each one another directory: nothing may go through a shared disk).
MEDIA_ROOT = Path(os.environ.get("AIPROD_TEST_MEDIA_ROOT") or BASE_DIR / "var" / "test-media")  # noqa: F405
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
LOGGING["root"]["level"] = "ERROR"  # noqa: F405
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # noqa: F405
