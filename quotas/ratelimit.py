"""Request-rate limiting per account with django-ratelimit (SPEC §7).

One cache increment per request. The cache is Redis when REDIS_URL is set
(shared by every process and server, atomic INCR); otherwise a per-process
memory cache, correct only with one serving process.

When the cache is down the limiter fails OPEN: the request is served without
a rate decision. Rate limits protect capacity; the billable limits (monthly
quotas) are counted in PostgreSQL and stay exact, so a cache outage costs
neither money nor availability.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from django_ratelimit.core import get_usage

from aiprod.errors import ApplicationError, retry_after_seconds
from quotas.plans import limits_for

logger = logging.getLogger(__name__)


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


def _account_key(group, request) -> str:
    return request.aiprod_account_id


def consume_request(request, account) -> RateState | None:
    """Counts this request against the account's per-second rate.

    Side effect: one atomic cache increment. Raises ApplicationError(429)
    when over the limit; returns None when the cache is unavailable.
    """
    limit = limits_for(account).requests_per_second
    try:
        usage = get_usage(request, group="api", key=_account_key, rate=f"{limit}/s", increment=True)
    except Exception:
        logger.warning("rate limiter unavailable; failing open", exc_info=True)
        return None
    time_left = max(0.0, usage["time_left"])
    state = RateState(limit=limit, remaining=max(0, limit - usage["count"]), reset=int(time.time() + time_left) + 1)
    if usage["should_limit"]:
        wait = retry_after_seconds(time_left)
        raise ApplicationError(
            429,
            "RATE_LIMITED",
            f"Rate limit exceeded. Retry after {wait} seconds",
            {"Retry-After": str(wait), **state.headers()},
        )
    return state
