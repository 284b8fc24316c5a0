"""Reads for /account/usage and /account/metrics: the quota counters, and the
activity of an account's jobs, requests and webhook deliveries. They read
jobs, webhooks and accounts together, so they live in the jobs layer, the
highest domain app.

Metrics are a handful of aggregate queries (COUNT/AVG/SUM with FILTER,
GROUP BY type and day, PostgreSQL percentile_cont for p95), never a Python
loop over rows; SQLite, which has no percentile_cont, gets p95 from the list
of durations alone.
"""

from __future__ import annotations

import math
from datetime import date, datetime, timedelta

from django.db import connection
from django.db.models import Aggregate, Avg, Count, FloatField, Q, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from accounts.models import RequestLog
from accounts.plans import GB
from core.timefmt import month_start
from jobs.models import Job
from quotas.selectors import MonthUsage, monthly_usage
from webhooks.models import Delivery, DeliveryKind

PERIOD_DAYS = {"1d": 1, "7d": 7, "30d": 30}


def usage(account, month: date | None = None, *, livemode: bool = True) -> MonthUsage:
    """The account's usage in `month` (default: the current UTC month). One query.

    Live: the quota counters. Test mode counts no quota, so its figures are
    read from the month's test jobs (jobs created, input bytes)."""
    if livemode:
        return monthly_usage(account, month)
    month = month or month_start()
    totals = Job.objects.filter(account=account, livemode=False, created_month=month).aggregate(
        jobs=Count("id"), data=Sum("input_size_bytes")
    )
    return MonthUsage(month=month, jobs_count=totals["jobs"], data_bytes=totals["data"] or 0)


class PercentileCont(Aggregate):
    """PostgreSQL's continuous percentile: PERCENTILE_CONT(f) WITHIN GROUP (ORDER BY x)."""

    function = "PERCENTILE_CONT"
    template = "%(function)s(%(fraction)s) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = FloatField()

    def __init__(self, expression, fraction: float, **extra):
        super().__init__(expression, fraction=float(fraction), **extra)


def percentile_cont(values: list[float], fraction: float) -> float | None:
    """Same interpolation as PostgreSQL's percentile_cont, for SQLite."""
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * fraction
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def _rounded(value) -> int | None:
    return None if value is None else round(value)


def account_metrics(account, *, livemode: bool, period: str, now: datetime | None = None) -> dict:
    """Activity of one account in one environment over the last `period`.

    Jobs count as created when created in the window, and as completed,
    failed or cancelled when they ended in it (completed_at). Durations are
    those of jobs completed in the window. Six queries on PostgreSQL.
    """
    now = now or timezone.now()
    start = now - timedelta(days=PERIOD_DAYS[period])
    created = Q(created_at__gte=start)
    ended = {status: Q(status=status, completed_at__gte=start) for status in ("completed", "failed", "cancelled")}
    counts = {
        "created": Count("pk", filter=created),
        **{status: Count("pk", filter=q) for status, q in ended.items()},
    }
    jobs = Job.objects.filter(account=account, livemode=livemode).filter(created | Q(completed_at__gte=start))
    done = ended["completed"] & Q(duration_ms__isnull=False)

    on_postgres = connection.vendor == "postgresql"
    p95 = {"p95_duration": PercentileCont("duration_ms", 0.95, filter=done)} if on_postgres else {}
    totals = jobs.aggregate(
        **counts,
        avg_duration=Avg("duration_ms", filter=done),
        data_bytes=Sum("input_size_bytes", filter=created),
        **p95,
    )
    if not on_postgres:  # no percentile_cont: one more query, for the durations alone
        totals["p95_duration"] = percentile_cont(list(jobs.filter(done).values_list("duration_ms", flat=True)), 0.95)

    per_type = jobs.order_by().values("type").annotate(**{k: counts[k] for k in ("created", "completed", "failed")})
    by_type = {row.pop("type"): row for row in per_type.order_by("type")}

    finished = totals["completed"] + totals["failed"]
    data_bytes = totals["data_bytes"] or 0
    return {
        "object": "metrics",
        "period": period,
        "livemode": livemode,
        "start": start,
        "end": now,
        "jobs": {
            "created": totals["created"],
            "completed": totals["completed"],
            "failed": totals["failed"],
            "cancelled": totals["cancelled"],
            "success_rate": round(totals["completed"] / finished, 4) if finished else None,
            "avg_duration_ms": _rounded(totals["avg_duration"]),
            "p95_duration_ms": _rounded(totals["p95_duration"]),
            "by_type": by_type,
            "by_day": _jobs_by_day(jobs, start, now),
        },
        "requests": _requests(account, livemode, start),
        "webhooks": _webhooks(account, livemode, start),
        "data_processed_bytes": data_bytes,
        "data_processed_gb": round(data_bytes / GB, 3),
    }


def _jobs_by_day(jobs, start: datetime, now: datetime) -> list[dict]:
    """One entry per UTC date in the window, zeros included. Two GROUP BY queries."""
    days: dict[date, dict] = {}
    day = start.date()
    while day <= now.date():
        days[day] = {"date": day.isoformat(), "created": 0, "completed": 0, "failed": 0}
        day += timedelta(days=1)
    created = jobs.filter(created_at__gte=start).order_by().values(day=TruncDate("created_at")).annotate(n=Count("pk"))
    for row in created:
        if row["day"] in days:
            days[row["day"]]["created"] = row["n"]
    ended = (
        jobs.filter(completed_at__gte=start, status__in=["completed", "failed"])
        .order_by()
        .values(day=TruncDate("completed_at"))
        .annotate(completed=Count("pk", filter=Q(status="completed")), failed=Count("pk", filter=Q(status="failed")))
    )
    for row in ended:
        if row["day"] in days:
            days[row["day"]]["completed"] = row["completed"]
            days[row["day"]]["failed"] = row["failed"]
    return list(days.values())


def _requests(account, livemode: bool, start: datetime) -> dict:
    return RequestLog.objects.filter(account=account, livemode=livemode, created_at__gte=start).aggregate(
        total=Count("pk"),
        errors=Count("pk", filter=Q(status__gte=400)),
        rate_limited=Count("pk", filter=Q(status=429)),
    )


def _webhooks(account, livemode: bool, start: datetime) -> dict:
    # Event deliveries only: not the explicit verify/test sends.
    deliveries = Delivery.objects.filter(
        account=account, livemode=livemode, created_at__gte=start, kind=DeliveryKind.EVENT
    )
    return deliveries.aggregate(
        delivered=Count("pk", filter=Q(status="delivered")),
        failed=Count("pk", filter=Q(status="failed")),
    )
