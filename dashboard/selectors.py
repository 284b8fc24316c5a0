"""Reads only the dashboard needs (the API has no page that shows them)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.db.models import Count, Q
from django.db.models.functions import TruncSecond
from django.utils import timezone

from accounts.models import RequestLog
from accounts.selectors import api_keys_for, request_logs_for
from jobs.models import Job, JobStatus
from accounts.plans import GB, limits_for
from quotas.selectors import monthly_usage

RATE_WINDOW = timedelta(hours=1)


@dataclass(frozen=True)
class Meter:
    """One usage bar: `used` of `limit`, with words for both."""

    label: str
    used: float
    limit: float
    used_text: str
    limit_text: str
    note: str = ""

    @property
    def percent(self) -> int:
        if self.limit <= 0:
            return 100 if self.used else 0
        return min(100, round(self.used * 100 / self.limit))

    @property
    def level(self) -> str:
        return "danger" if self.percent >= 90 else "warn" if self.percent >= 80 else "ok"


def format_bytes(nbytes: int) -> str:
    """Decimal units, as the quotas are sold: 1.5 GB, 320 MB, 12 kB."""
    for unit, size in (("GB", GB), ("MB", 1000**2), ("kB", 1000)):
        if nbytes >= size:
            value = nbytes / size
            return f"{value:,.1f}".removesuffix(".0") + f" {unit}"
    return f"{nbytes} B"


def peak_request_rate(account, window: timedelta = RATE_WINDOW) -> int:
    """The most API requests the account made in any one second of the last
    hour (both modes: the rate limit counts them together). One GROUP BY on
    the request log's (account, created_at) index."""
    since = timezone.now() - window
    row = (
        RequestLog.objects.filter(account=account, created_at__gte=since)
        .order_by()
        .values(second=TruncSecond("created_at"))
        .annotate(n=Count("id"))
        .order_by("-n")
        .first()
    )
    return row["n"] if row else 0


def usage_meters(account) -> list[Meter]:
    limits = limits_for(account)
    usage = monthly_usage(account)
    peak = peak_request_rate(account)
    return [
        Meter("Jobs this month", usage.jobs_count, limits.jobs_per_month,
              f"{usage.jobs_count:,}", f"{limits.jobs_per_month:,}", "Live jobs created since the 1st (UTC)."),
        Meter("Data this month", usage.data_bytes, limits.data_bytes_per_month,
              format_bytes(usage.data_bytes), format_bytes(limits.data_bytes_per_month), "Input bytes read, live mode."),
        Meter("Peak request rate", peak, limits.requests_per_second,
              f"{peak:,}/s", f"{limits.requests_per_second:,}/s", "Busiest second in the last hour."),
    ]


def recent_error_requests(customer, limit: int = 5):
    rows = request_logs_for(customer.account, livemode=customer.livemode, errors_only=True)
    return list(rows.order_by("-id")[:limit])


def has_completed_job(customer) -> bool:
    return customer.scoped(Job.objects.filter(status=JobStatus.COMPLETED)).exists()


def key_that_can_create_jobs(customer):
    """A live (not revoked, not expired) key of the mode being viewed with the
    jobs.create scope, or None."""
    now = timezone.now()
    usable = (
        api_keys_for(customer.account)
        .filter(environment=customer.environment, revoked_at__isnull=True)
        .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))
    )
    # Scopes are filtered here, not in SQL: JSON "contains" has no SQLite lookup.
    return next((k for k in usable[:100] if "jobs.create" in k.scopes), None)
