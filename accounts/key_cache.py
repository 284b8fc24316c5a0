"""A short-lived, process-local cache of API-key lookups.

Authentication is the one database query every API request pays before it
does anything useful; the same key comes back many times a second. So each
process keeps the looked-up rows (key + account, never the plaintext) for
AIPROD_AUTH_CACHE_SECONDS (default 5 s; 0 turns the cache off).

Staleness, decided deliberately: a change made in this process (revoking a
key, suspending or unsuspending an account, a tier, limit, scope or
allow-list change through the services, the dashboard or the admin) clears
the cache at once and again when its transaction commits; other processes
see it within AIPROD_AUTH_CACHE_SECONDS, like an API gateway's authorizer
cache. Expiry (expires_at) is checked on every request, cached or not.

Rows are cached, not model instances: every request builds its own
instances, so nothing mutable is shared between threads or requests.
Unknown keys are not cached (a guesser cannot fill the memory).
"""

from __future__ import annotations

import threading
import time
from typing import Callable

from django.conf import settings
from django.db import transaction

MAX_ENTRIES = 10_000

_lock = threading.Lock()
_rows: dict[str, tuple[float, tuple]] = {}  # key hash -> (time.time() of the lookup, row)


def cached_row(digest: str, fetch: Callable[[str], tuple | None]) -> tuple | None:
    """The row for this key hash: from the cache while fresh, else `fetch(digest)`."""
    ttl = settings.AIPROD_AUTH_CACHE_SECONDS
    if ttl <= 0:
        return fetch(digest)
    # The wall clock, so tests can move it (time-machine does not move
    # time.monotonic); a clock stepped back makes a row stale, never older.
    now = time.time()
    hit = _rows.get(digest)
    if hit is not None and 0 <= now - hit[0] < ttl:
        return hit[1]
    row = fetch(digest)
    if row is not None:
        with _lock:
            if len(_rows) >= MAX_ENTRIES:
                _rows.clear()  # rare, and cheaper than tracking recency on the hot path
            _rows[digest] = (now, row)
    return row


def forget(digest: str) -> None:
    """Drops one key's row (its last_used_at was just written)."""
    with _lock:
        _rows.pop(digest, None)


def forget_all() -> None:
    """Clears this process's cache now and when the current transaction
    commits (so a concurrent request cannot re-cache the old row between
    the change and its commit)."""
    clear()
    transaction.on_commit(clear)


def clear() -> None:
    """Clears this process's cache now (no transaction involved)."""
    with _lock:
        _rows.clear()
