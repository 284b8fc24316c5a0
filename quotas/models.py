"""Monthly usage counters and the record of quota warnings sent (docs/limits.md)."""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from accounts.models import Account


class MonthlyUsage(models.Model):
    """What one account used in one calendar month (UTC), live mode only.

    Written only by quotas.services with conditional UPDATEs; never
    read-modify-written in Python.
    """

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="monthly_usage")
    month = models.DateField(help_text="First day of the calendar month (UTC)")
    jobs_count = models.PositiveIntegerField(default=0)
    data_bytes = models.PositiveBigIntegerField(default=0)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-month", "account_id"]
        verbose_name = "monthly usage"
        verbose_name_plural = "monthly usage"
        constraints = [
            # The conflict target of the INSERT ... ON CONFLICT in services, and
            # the index every counter UPDATE uses.
            models.UniqueConstraint(fields=["account", "month"], name="uniq_usage_account_month"),
        ]

    def __str__(self) -> str:
        return f"{self.account_id} {self.month:%Y-%m}"


class QuotaWarning(models.Model):
    """A quota.warning event that was sent: one row per (account, month,
    quota, threshold). The unique constraint is what makes "once each per
    month" hold under concurrency and rollbacks."""

    class Quota(models.TextChoices):
        JOBS = "jobs", "Jobs"
        DATA = "data", "Data"

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="+")
    month = models.DateField()
    quota = models.CharField(max_length=10, choices=Quota.choices)
    threshold = models.PositiveSmallIntegerField(help_text="Percent of the monthly limit")
    used = models.PositiveBigIntegerField()
    limit = models.PositiveBigIntegerField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["account", "month", "quota", "threshold"], name="uniq_quota_warning"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.account_id} {self.month:%Y-%m} {self.quota} {self.threshold}%"
