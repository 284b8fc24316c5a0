"""One breaker per process in front of the shared limiter cache (Redis).

Every cache-backed limiter (the request rate limit, the failed-auth counter,
outbound waits) asks the cache through `cache_usage`. After a cache error this
process skips the cache for AIPROD_RATELIMIT_BREAKER_SECONDS and the callers
fail open, so an unreachable Redis (every call waiting out its 0.5 s socket
timeout) does not add that wait to every request.
"""

from __future__ import annotations

import logging
import time

from django.conf import settings
from django_ratelimit.core import get_usage

logger = logging.getLogger(__name__)

# monotonic() time until which this process does not try the cache.
_cache_skipped_until = 0.0


def cache_usage(request, **kwargs) -> dict | None:
    """django_ratelimit.core.get_usage(request, **kwargs) behind this process's
    breaker: None when the cache failed now or within the last
    AIPROD_RATELIMIT_BREAKER_SECONDS (callers fail open), else get_usage's answer."""
    if cache_breaker_open():
        return None
    try:
        return get_usage(request, **kwargs)
    except Exception:
        trip_cache_breaker()
        logger.warning("rate-limit cache unavailable; failing open", exc_info=True)
        return None


def reset_breaker() -> None:
    """Lets the next request try the cache again (tests, after an outage)."""
    global _cache_skipped_until
    _cache_skipped_until = 0.0


def cache_breaker_open() -> bool:
    """True while this process skips the cache after a failure."""
    return time.monotonic() < _cache_skipped_until


def trip_cache_breaker() -> None:
    """Records a cache failure: skip the cache for a while."""
    global _cache_skipped_until
    _cache_skipped_until = time.monotonic() + settings.AIPROD_RATELIMIT_BREAKER_SECONDS
