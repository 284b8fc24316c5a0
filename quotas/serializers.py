"""HTTP shapes of /account/usage and /account/metrics."""

from __future__ import annotations

from datetime import datetime, timezone as dt_timezone

from rest_framework import serializers

from core.timefmt import iso
from accounts.plans import GB, limits_for
from quotas.ratelimit import RateState
from quotas.selectors import MonthUsage
from quotas.services import period_bounds


def _gb(nbytes: int) -> int | float:
    gb = round(nbytes / GB, 3)
    return int(gb) if gb == int(gb) else gb


def usage_data(account, usage: MonthUsage, rate: RateState | None, *, livemode: bool = True) -> dict:
    """The usage object (docs/limits.md, "Monthly quotas"), for the environment of the key asking
    (`livemode`): quotas count live mode only, so a test key sees its test
    jobs against the plan's figures and never the live usage. rate_limit_*
    describe the window of the request being answered; null when the rate
    limiter made no decision."""
    limits = limits_for(account)
    period_start, period_end = period_bounds(usage.month)
    return {
        "jobs_this_month": usage.jobs_count,
        "jobs_limit": limits.jobs_per_month,
        "jobs_remaining": max(0, limits.jobs_per_month - usage.jobs_count),
        "data_used_gb": _gb(usage.data_bytes),
        "data_limit_gb": _gb(limits.data_bytes_per_month),
        "rate_limit_remaining": rate.remaining if rate else None,
        "rate_limit_resets_at": iso(datetime.fromtimestamp(rate.reset, dt_timezone.utc)) if rate else None,
        "tier": account.tier,
        "period_start": iso(period_start),
        "period_end": iso(period_end),
        "livemode": livemode,
    }


def metrics_data(metrics: dict) -> dict:
    return {**metrics, "start": iso(metrics["start"]), "end": iso(metrics["end"])}


# --------------------------------------------------------------------------- OpenAPI shapes (documentation only)

class UsageOut(serializers.Serializer):
    jobs_this_month = serializers.IntegerField()
    jobs_limit = serializers.IntegerField()
    jobs_remaining = serializers.IntegerField()
    data_used_gb = serializers.FloatField()
    data_limit_gb = serializers.FloatField()
    rate_limit_remaining = serializers.IntegerField(allow_null=True)
    rate_limit_resets_at = serializers.DateTimeField(allow_null=True)
    tier = serializers.ChoiceField(choices=["free", "pro", "enterprise"])
    period_start = serializers.DateTimeField()
    period_end = serializers.DateTimeField(help_text="Exclusive: the moment the monthly quotas reset")
    livemode = serializers.BooleanField(help_text="The environment shown: the key's own (false: test-mode jobs, which "
                                                  "count against no quota)")


class _JobCountsOut(serializers.Serializer):
    created = serializers.IntegerField()
    completed = serializers.IntegerField()
    failed = serializers.IntegerField()


class _DayOut(_JobCountsOut):
    date = serializers.DateField()


class _JobMetricsOut(_JobCountsOut):
    cancelled = serializers.IntegerField()
    success_rate = serializers.FloatField(allow_null=True, help_text="completed / (completed + failed), 0-1")
    avg_duration_ms = serializers.IntegerField(allow_null=True)
    p95_duration_ms = serializers.IntegerField(allow_null=True)
    by_type = serializers.DictField(child=_JobCountsOut())
    by_day = _DayOut(many=True)


class _RequestMetricsOut(serializers.Serializer):
    total = serializers.IntegerField()
    errors = serializers.IntegerField()
    rate_limited = serializers.IntegerField()


class _WebhookMetricsOut(serializers.Serializer):
    delivered = serializers.IntegerField()
    failed = serializers.IntegerField()


class MetricsOut(serializers.Serializer):
    object = serializers.CharField()
    period = serializers.ChoiceField(choices=["1d", "7d", "30d"])
    livemode = serializers.BooleanField()
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()
    jobs = _JobMetricsOut()
    requests = _RequestMetricsOut()
    webhooks = _WebhookMetricsOut()
    data_processed_bytes = serializers.IntegerField()
    data_processed_gb = serializers.FloatField()
