"""Accounts, API keys, IP allow-lists and the per-request log."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone

from core.ids import new_account_id, new_key_id

SCOPES = (
    "jobs.read",
    "jobs.create",
    "jobs.delete",
    "webhooks.manage",
    "account.read",
    "keys.manage",
    "security.manage",
)
KEY_LIFETIME = timedelta(days=730)


class Tier(models.TextChoices):
    FREE = "free", "Free"
    PRO = "pro", "Pro"
    ENTERPRISE = "enterprise", "Enterprise"


class Environment(models.TextChoices):
    LIVE = "live", "Live"
    TEST = "test", "Test"


class Account(models.Model):
    id = models.CharField(primary_key=True, max_length=40, default=new_account_id, editable=False)
    email = models.EmailField(unique=True)
    name = models.CharField(max_length=200, blank=True)
    tier = models.CharField(max_length=20, choices=Tier.choices, default=Tier.FREE)
    # Enterprise limits, set by staff; null means the tier's default.
    jobs_per_month = models.PositiveIntegerField("jobs per month", null=True, blank=True,
                                                 help_text="Enterprise; empty = the tier's limit")
    requests_per_second = models.PositiveIntegerField("requests per second", null=True, blank=True,
                                                      help_text="Enterprise; empty = the tier's limit")
    data_gb_per_month = models.PositiveIntegerField("data per month (GB)", null=True, blank=True,
                                                    help_text="Enterprise; empty = the tier's limit")
    suspended = models.BooleanField(default=False)
    suspended_reason = models.CharField(max_length=500, blank=True)
    ip_allowlist_enabled = models.BooleanField("IP allow-list enabled", default=False)
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="account"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.email} ({self.id})"

    # DRF treats the authenticated principal as `request.user`.
    is_authenticated = True
    is_anonymous = False


class ApiKey(models.Model):
    id = models.CharField(primary_key=True, max_length=40, default=new_key_id, editable=False)
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=200, blank=True)
    environment = models.CharField(max_length=4, choices=Environment.choices, default=Environment.LIVE)
    prefix = models.CharField(max_length=16, help_text="Identifies the key in lists and logs")
    # SHA-256 of the whole key: the plaintext is shown once and never stored.
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    scopes = models.JSONField(default=list)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "API key"

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.name or self.id})"

    @property
    def livemode(self) -> bool:
        return self.environment == Environment.LIVE

    def status(self, now=None) -> str:
        now = now or timezone.now()
        if self.revoked_at:
            return "revoked"
        if self.expires_at and self.expires_at <= now:
            return "expired"
        return "active"


class IpAllowlistEntry(models.Model):
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="ip_allowlist")
    cidr = models.CharField("address or network", max_length=50,
                            help_text="IPv4 or IPv6 address or CIDR network, e.g. 203.0.113.7 or 203.0.113.0/24")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [models.UniqueConstraint(fields=["account", "cidr"], name="uniq_allowlist_cidr")]
        verbose_name = "IP allow-list entry"
        verbose_name_plural = "IP allow-list"

    def __str__(self) -> str:
        return self.cidr


class RequestLog(models.Model):
    """One row per authenticated API request, readable by the customer."""

    request_id = models.CharField(max_length=128)
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="+", db_constraint=False)
    livemode = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)
    method = models.CharField(max_length=10)
    path = models.CharField(max_length=500)
    status = models.PositiveSmallIntegerField()
    duration_ms = models.PositiveIntegerField(default=0)
    ip = models.GenericIPAddressField(null=True, blank=True)
    api_key_prefix = models.CharField(max_length=16, blank=True)
    error_code = models.CharField(max_length=40, null=True, blank=True)
    message = models.CharField(max_length=500, null=True, blank=True)
    # The object the request touched (a job id), for the job's timeline.
    object_id = models.CharField(max_length=40, null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            # GET /account/logs: newest first per account and environment.
            models.Index(fields=["account", "livemode", "-created_at"], name="reqlog_account_recent"),
            models.Index(fields=["request_id"], name="reqlog_request_id"),
            models.Index(fields=["object_id"], name="reqlog_object", condition=models.Q(object_id__isnull=False)),
            # prune: delete by age.
            models.Index(fields=["created_at"], name="reqlog_created"),
        ]

    def __str__(self) -> str:
        return f"{self.request_id} {self.method} {self.path} {self.status}"
