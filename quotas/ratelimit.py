"""Request-rate limiting per account with django-ratelimit (docs/limits.md).

A fixed one-second window per account, counted in the "ratelimit" cache:
django-ratelimit asks it to add the window's key or increment it, which
quotas.redis_counter answers with one Lua script, so each request costs one
Redis round trip and no database query (`limits_for` reads the Account
already loaded by authentication).

The cache is Redis when REDIS_URL is set, shared by every process and server.
Without it, a per-process memory cache (quotas.cache.ProcessLocalCache),
correct only while one process serves the API, which is how `make run`
starts gunicorn then.

When the cache is down the limiter fails OPEN: the request is served without
a rate decision and without X-RateLimit-* headers. Rate limits protect
capacity; the billable limits (monthly quotas) are counted in PostgreSQL and
stay exact, so a cache outage costs neither money nor availability. After a
cache error this process skips the cache for AIPROD_RATELIMIT_BREAKER_SECONDS,
so an unreachable Redis (every call waiting out its 0.5 s socket timeout)
does not add that wait to every request (core/cache_breaker.py, shared by
every cache-backed limiter).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from accounts.plans import limits_for
from core.cache_breaker import cache_usage
from core.errors import ApplicationError, rate_limited_message, retry_after_seconds


@dataclass(frozen=True)
class RateState:
    limit: int
    remaining: int
    reset: int  # Unix seconds when the current window ends

    def headers(self) -> dict[str, str]:
        return {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Reset": str(self.reset),
        }


def consume_request(request, account) -> RateState | None:
    """Counts this request against the account's per-second rate.

    Side effect: one atomic cache increment. Raises ApplicationError(429,
    RATE_LIMITED) with Retry-After when over the limit; returns None (no
    decision) when the cache is unavailable.
    """
    limit = limits_for(account).requests_per_second
    usage = cache_usage(request, group="api", key=lambda group, req: account.pk, rate=f"{limit}/s", increment=True)
    if usage is None:  # cache down, RATELIMIT_ENABLE off, or the count was lost (RATELIMIT_FAIL_OPEN)
        return None
    time_left = max(0.0, usage["time_left"])
    state = RateState(limit=limit, remaining=max(0, limit - usage["count"]), reset=int(time.time() + time_left) + 1)
    if usage["should_limit"]:
        wait = retry_after_seconds(time_left)
        raise ApplicationError(
            429,
            "RATE_LIMITED",
            rate_limited_message(wait),
            {"Retry-After": str(wait), **state.headers()},
        )
    return state
