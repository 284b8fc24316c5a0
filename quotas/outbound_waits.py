"""A per-account cap on outbound waits made inside an API request (docs/limits.md).

The input-URL preflight of `POST /jobs` and the webhook `verify`/`test`
calls wait up to 10 s on a server the customer chose, inside the request. An
account pointing many requests at a slow server could hold every serving
thread; with this cap it holds at most AIPROD_OUTBOUND_WAITS_PER_ACCOUNT of
them and its other requests get `429 RATE_LIMITED` with `Retry-After`, at
once, while other accounts are served as usual.

    with outbound_wait(account.pk):
        outbound.preflight(url)

Where the count lives:

* With REDIS_URL: one sorted set per account in the cache's Redis (members
  are the waits in flight, scored by their start), so the cap holds across
  processes and hosts. A member older than LEASE_SECONDS (a process killed
  mid-wait) no longer counts. Redis unreachable: the cap is skipped (fails
  open, sharing the rate limiter's breaker, so an outage costs no timeouts)
  and the wait proceeds.
* Without REDIS_URL: a process-local count. That configuration serves with
  ONE gunicorn process (scripts/run.sh), as for the rate-limit cache.
"""

from __future__ import annotations

import contextlib
import logging
import math
import threading
import time
import uuid
from typing import Iterator

from django.conf import settings

from core.errors import ApplicationError, count_text, rate_limited_message

logger = logging.getLogger(__name__)

# The longest a counted wait can take (preflight and webhook calls are bounded
# by 10 s overall): the Retry-After of a refusal is when the oldest ends.
WAIT_BOUND_SECONDS = 10
# A wait still counted after this long was left by a dead process.
LEASE_SECONDS = 60

# KEYS[1] the account's set; ARGV: now, cap, member, stale-before, key expiry.
# Returns {1, 0} when the wait was added, else {0, start of the oldest wait}.
ACQUIRE = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[4])
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then
  local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  return {0, oldest[2]}
end
redis.call('ZADD', KEYS[1], ARGV[1], ARGV[3])
redis.call('EXPIRE', KEYS[1], ARGV[5])
return {1, '0'}
"""

_local_lock = threading.Lock()
_local_waits: dict[str, dict[str, float]] = {}  # account id -> {member: start}


@contextlib.contextmanager
def outbound_wait(account_id: str) -> Iterator[None]:
    """Counts one outbound wait of the account for the duration of the block.

    Raises ApplicationError(429, RATE_LIMITED, with Retry-After) when the
    account already has AIPROD_OUTBOUND_WAITS_PER_ACCOUNT waits in flight
    (0 turns the cap off)."""
    cap = settings.AIPROD_OUTBOUND_WAITS_PER_ACCOUNT
    if cap <= 0:
        yield
        return
    member = uuid.uuid4().hex
    release = _acquire_redis if settings.REDIS_URL else _acquire_local
    undo = release(account_id, member, cap)
    try:
        yield
    finally:
        undo()


def _refused(cap: int, oldest_start: float) -> ApplicationError:
    wait = max(1, math.ceil(oldest_start + WAIT_BOUND_SECONDS - time.time()))
    return ApplicationError(
        429,
        "RATE_LIMITED",
        rate_limited_message(
            wait,
            f" ({count_text(cap, 'request')} of this account {'is' if cap == 1 else 'are'} already waiting "
            "on remote servers: input-URL checks, webhook verify and test)",
        ),
        {"Retry-After": str(wait)},
    )


def _acquire_local(account_id: str, member: str, cap: int):
    now = time.time()
    with _local_lock:
        waits = _local_waits.setdefault(account_id, {})
        for stale in [m for m, start in waits.items() if start < now - LEASE_SECONDS]:
            del waits[stale]
        if len(waits) >= cap:
            raise _refused(cap, min(waits.values()))
        waits[member] = now

    def release() -> None:
        with _local_lock:
            waits = _local_waits.get(account_id, {})
            waits.pop(member, None)
            if not waits:
                _local_waits.pop(account_id, None)

    return release


_scripts: dict = {}


def _acquire_redis(account_id: str, member: str, cap: int):
    from django.core.cache import caches
    from django_redis import get_redis_connection
    from redis.exceptions import RedisError

    from core.cache_breaker import cache_breaker_open, trip_cache_breaker

    if cache_breaker_open():  # Redis failed moments ago: fail open at once, as the rate limiter does
        return lambda: None
    key = caches["default"].make_key(f"outbound-waits:{account_id}")
    now = time.time()
    try:
        client = get_redis_connection("default")
        script = _scripts.get(id(client))
        if script is None:
            script = _scripts[id(client)] = client.register_script(ACQUIRE)
        added, oldest = script(keys=[key], args=[now, cap, member, now - LEASE_SECONDS, LEASE_SECONDS])
    except RedisError:
        trip_cache_breaker()
        logger.warning("outbound-wait cap skipped: Redis unavailable", exc_info=True)
        return lambda: None
    if not added:
        raise _refused(cap, float(oldest))

    def release() -> None:
        try:
            client.zrem(key, member)
        except RedisError:  # the lease ends it
            logger.warning("outbound wait not released: Redis unavailable", exc_info=True)

    return release


def forget_local_waits() -> None:
    """Clears this process's counts (tests)."""
    with _local_lock:
        _local_waits.clear()
