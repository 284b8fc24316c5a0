"""Redis (the rate-limit cache) dies under load behind a real gunicorn and comes back.

As quotas/ratelimit.py documents: the limiter fails OPEN. While Redis is
down every request is served (2xx, never a 500 or a 429) without
X-RateLimit-* headers; once Redis is back (and the per-process breaker has
let go) the headers, and so the limits, return, without restarting anything.
The in-process details (round trips, the breaker) are in
tests/quotas/test_ratelimit_outage.py.
"""

from __future__ import annotations

import shutil
import time

import pytest

from tests.processes import RedisServer, RequestStream, free_port, gunicorn

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

RATE_HEADERS = ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset")
PATHS = ["/account/api-keys/current", "/account/usage", "/jobs?limit=5"]
BREAKER_SECONDS = 1
RECOVERY_SECONDS = 10


def limited(answer) -> bool:
    return all(name in answer.headers for name in RATE_HEADERS)


def unlimited(answer) -> bool:
    return not any(name in answer.headers for name in RATE_HEADERS)


@pytest.fixture
def throwaway_redis(tmp_path):
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed")
    server = RedisServer(tmp_path, port=free_port())
    server.start()
    try:
        yield server
    finally:
        server.kill()


def test_with_redis_stopped_under_load_requests_are_served_without_rate_headers_until_it_returns(
    deployment, throwaway_redis, tmp_path
):
    env = deployment.env(REDIS_URL=throwaway_redis.location, AIPROD_RATELIMIT_BREAKER_SECONDS=BREAKER_SECONDS)
    # Two worker processes: each has its own breaker and its own Redis connections.
    with gunicorn(env, tmp_path / "gunicorn.log", workers=2, threads=4) as base:
        with RequestStream(base, deployment.key, PATHS, rate=20) as stream:
            stream.wait_for(10, where=limited, what="rate-limited answers while Redis is up")
            killed_at = time.monotonic()
            throwaway_redis.kill()
            # (A request in flight at the kill may still have had its decision.)
            stream.wait_for(20, after=killed_at + 0.2, where=unlimited, what="20 answers without a rate decision")
            throwaway_redis.start()  # empty, as after a restart
            back_at = time.monotonic()
            first_limited = stream.wait_for(1, after=back_at, where=limited, timeout=RECOVERY_SECONDS,
                                            what="X-RateLimit-* headers after Redis is back")[0]
            # Both processes' breakers have let go a breaker period later.
            settled_at = first_limited.at + BREAKER_SECONDS + 0.5
            stream.wait_for(20, after=settled_at, what="20 answers after the recovery")

    answers = stream.answers
    assert {a.status for a in answers} == {200}, [(a.status, a.path, a.body, a.error) for a in answers
                                                  if a.status != 200]
    assert all(limited(a) for a in answers if a.at < killed_at)
    assert all(limited(a) for a in answers if a.at >= settled_at), "rate headers missing after the recovery"
    during = [a for a in answers if killed_at + 0.2 <= a.at < back_at]
    assert len(during) >= 20
    assert all(unlimited(a) for a in during)
    # The answers themselves are intact, only the rate decision is missing.
    usage = [a.body for a in during if a.path == "/account/usage"]
    assert usage and all(u["rate_limit_remaining"] is None and u["jobs_limit"] == 10_000 for u in usage)
    assert {a.headers["X-RateLimit-Limit"] for a in answers if limited(a)} == {"100"}
