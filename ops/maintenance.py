"""Maintenance mode (docs/operations.md): the switch, its cheap per-request read, and
the 503 MAINTENANCE answer.

The switch lives in one database row. Every request asks `current_state()`,
which reads that row at most once per `STATE_TTL_SECONDS` per process, so a
change made on one server reaches every server within that time. When the
database does not answer, the last state read is kept (and "off" before any
read): a request then fails on its own database access with 503
SERVICE_UNAVAILABLE instead of the check turning into a 500.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db import DatabaseError, transaction
from django.utils import timezone

from core.errors import error_response
from core.timefmt import iso

logger = logging.getLogger(__name__)

STATE_TTL_SECONDS = 2.0
# Retry-After when the announced end has already passed: maintenance is
# running late, so ask clients to come back soon rather than in 5 minutes.
OVERRUN_RETRY_AFTER = 60


@dataclass(frozen=True)
class MaintenanceState:
    enabled: bool = False
    message: str = ""
    until: datetime | None = None
    updated_at: datetime | None = None


OFF = MaintenanceState()
# (state, time.time() of the read); replaced whole, so no lock is needed. The
# wall clock so tests can move it (time-machine leaves time.monotonic alone);
# a clock stepped back makes the memo stale, never longer-lived.
_memo: tuple[MaintenanceState, float] = (OFF, -math.inf)


def _read() -> MaintenanceState:
    from ops.models import MaintenanceMode

    # A savepoint inside a test's (or caller's) transaction: a failed read
    # must not poison it.
    with transaction.atomic():
        row = MaintenanceMode.objects.filter(pk=MaintenanceMode.SINGLETON_PK).first()
    if row is None:
        return OFF
    return MaintenanceState(row.enabled, row.message, row.until, row.updated_at)


def current_state() -> MaintenanceState:
    """The switch as of at most STATE_TTL_SECONDS ago. Never raises."""
    global _memo
    state, read_at = _memo
    now = time.time()
    if 0 <= now - read_at < STATE_TTL_SECONDS:
        return state
    try:
        state = _read()
    except DatabaseError:
        logger.warning("maintenance switch unreadable; keeping the last known state", exc_info=True)
    _memo = (state, now)
    return state


def forget() -> None:
    """Drops this process's memo so the next request reads the row."""
    global _memo
    _memo = (OFF, -math.inf)


def set_maintenance(*, enabled: bool, message: str = "", until: datetime | None = None, user=None):
    """Turns maintenance mode on or off (one row, upserted) and returns the row.

    Side effect: this process sees the change at once; other processes within
    STATE_TTL_SECONDS.
    """
    from ops.models import MaintenanceMode

    row, _ = MaintenanceMode.objects.update_or_create(
        pk=MaintenanceMode.SINGLETON_PK,
        defaults={
            "enabled": enabled,
            "message": message[:500] if enabled else "",
            "until": until if enabled else None,
            "updated_at": timezone.now(),
            "updated_by": user,
        },
    )
    forget()
    return row


def retry_after(state: MaintenanceState, now: datetime | None = None) -> int:
    """Whole seconds until the announced end (≥ 1); a default without one."""
    if state.until is None:
        return max(1, settings.AIPROD_MAINTENANCE_RETRY_AFTER)
    remaining = (state.until - (now or timezone.now())).total_seconds()
    if remaining <= 0:
        return OVERRUN_RETRY_AFTER
    return max(1, math.ceil(remaining))


def describe(state: MaintenanceState) -> str:
    text = state.message.strip() or "AIPROD is down for scheduled maintenance."
    if not text.endswith((".", "!", "?")):
        text += "."
    if state.until is not None:
        text += f" Expected back by {iso(state.until)}."
    return text + " See /status for updates."


def maintenance_response(request, state: MaintenanceState):
    return error_response(
        request, 503, "MAINTENANCE", describe(state), {"Retry-After": str(retry_after(state))}
    )
