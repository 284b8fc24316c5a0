"""Reads of the monthly quota counters (live mode: test mode counts no quota)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from core.timefmt import month_start
from quotas.models import MonthlyUsage


@dataclass(frozen=True)
class MonthUsage:
    month: date
    jobs_count: int
    data_bytes: int


def monthly_usage(account, month: date | None = None) -> MonthUsage:
    """The account's live quota counters in `month` (default: the current UTC month). One query."""
    month = month or month_start()
    row = MonthlyUsage.objects.filter(account=account, month=month).values_list("jobs_count", "data_bytes").first()
    jobs_count, data_bytes = row or (0, 0)
    return MonthUsage(month=month, jobs_count=jobs_count, data_bytes=data_bytes)
