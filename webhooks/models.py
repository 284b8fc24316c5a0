"""Webhook endpoints, events (the outbox), deliveries and their attempts (docs/webhooks.md).

An Event is written once, in the transaction of the change it reports, with
the exact body every target receives. A Delivery is one event going to one
target (a registered endpoint or a job's own webhook_url); its row, not the
task queue, is the source of truth for what still has to be sent. Every HTTP
attempt leaves a DeliveryAttempt row.
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from accounts.models import Account
from core.ids import new_delivery_id, new_event_id, new_webhook_id

JOB_EVENTS = ("job.processing", "job.completed", "job.failed", "job.cancelled")
ACCOUNT_EVENTS = ("quota.warning", "webhook.disabled")
# What an endpoint may subscribe to, in the order the API lists them.
SUBSCRIBABLE_EVENTS = JOB_EVENTS + ACCOUNT_EVENTS
VERIFICATION_EVENT = "webhook.verification"


class EndpointStatus(models.TextChoices):
    VERIFIED = "verified", "Verified"
    UNVERIFIED = "unverified", "Unverified"


class WebhookEndpoint(models.Model):
    id = models.CharField(primary_key=True, max_length=40, default=new_webhook_id, editable=False)
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="webhook_endpoints")
    livemode = models.BooleanField(default=True)
    url = models.CharField(max_length=2048)
    events = models.JSONField(default=list)
    secret = models.CharField(max_length=100)
    # The secret before the last rotate-secret: it signs too (a second v1,
    # signature) until previous_secret_expires_at, then nothing.
    previous_secret = models.CharField(max_length=100, blank=True, default="")
    previous_secret_expires_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=12, choices=EndpointStatus.choices, default=EndpointStatus.UNVERIFIED)
    active = models.BooleanField(default=True)
    disabled_reason = models.CharField(max_length=500, blank=True)
    # Start of the current run of failed deliveries; None after any success.
    # Auto-disable compares it with now (docs/webhooks.md: failed every delivery for 5 days).
    failing_since = models.DateTimeField(null=True, blank=True)
    # Set after a timed-out attempt: until then other deliveries to this
    # endpoint wait instead of each holding a worker for the whole timeout.
    backoff_until = models.DateTimeField(null=True, blank=True)
    verified_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            # emit_*: the endpoints of one account and environment.
            models.Index(fields=["account", "livemode"], name="whendpoint_account"),
        ]
        verbose_name = "webhook endpoint"

    def __str__(self) -> str:
        return f"{self.id} {self.url}"

    def subscribes_to(self, event_type: str) -> bool:
        return event_type in self.events


class DefaultSecret(models.Model):
    """The secret that signs deliveries to jobs' own webhook_url (one per account and environment)."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="+")
    livemode = models.BooleanField(default=True)
    secret = models.CharField(max_length=100)
    previous_secret = models.CharField(max_length=100, blank=True, default="")  # as on WebhookEndpoint
    previous_secret_expires_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    rotated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["account", "livemode"], name="uniq_default_secret")]

    def __str__(self) -> str:
        return f"default secret of {self.account_id} ({'live' if self.livemode else 'test'})"


class Event(models.Model):
    id = models.CharField(primary_key=True, max_length=40, default=new_event_id, editable=False)
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="+")
    livemode = models.BooleanField(default=True)
    type = models.CharField(max_length=40)
    job_id = models.CharField(max_length=40, null=True, blank=True)
    # The exact JSON sent, serialised once: every target and every retry gets
    # the same bytes, so signatures and receiver-side dedupe are stable.
    body = models.TextField()
    # Sent by POST .../verify or .../test to one endpoint: not something that
    # happened to the account, so GET /events leaves it out.
    sample = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            # GET /events: one account and environment, newest first (cursor on created_at, id).
            models.Index(
                fields=["account", "livemode", "-created_at", "-id"],
                name="whevent_account_recent",
                condition=models.Q(sample=False),
            ),
            # deliveries_for_job (job timeline).
            models.Index(fields=["job_id"], name="whevent_job", condition=models.Q(job_id__isnull=False)),
            # prune_deliveries: delete by age.
            models.Index(fields=["created_at"], name="whevent_created"),
        ]

    def __str__(self) -> str:
        return f"{self.id} {self.type}"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SENDING = "sending", "Sending"  # claimed by a worker until claimed_until
    DELIVERED = "delivered", "Delivered"
    # The last attempt failed; next_attempt_at is set while retries remain.
    FAILED = "failed", "Failed"
    SKIPPED = "skipped", "Skipped"


class TargetKind(models.TextChoices):
    ENDPOINT = "endpoint", "Registered endpoint"
    JOB_URL = "job_url", "Job webhook_url"


class DeliveryKind(models.TextChoices):
    EVENT = "event", "Event"  # retried on the schedule
    # Explicit sends from POST .../verify and .../test: one synchronous
    # attempt, made whatever the endpoint's status, never retried.
    VERIFICATION = "verification", "Verification"
    TEST = "test", "Test"


class Delivery(models.Model):
    id = models.CharField(primary_key=True, max_length=40, default=new_delivery_id, editable=False)
    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="deliveries")
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="+")
    livemode = models.BooleanField(default=True)
    event_type = models.CharField(max_length=40)
    target = models.CharField(max_length=10, choices=TargetKind.choices, default=TargetKind.ENDPOINT)
    # Null for a job's webhook_url, or once the endpoint is deleted (the log stays).
    endpoint = models.ForeignKey(
        WebhookEndpoint, null=True, blank=True, on_delete=models.SET_NULL, related_name="deliveries"
    )
    url = models.CharField(max_length=2048)
    status = models.CharField(max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    kind = models.CharField(max_length=12, choices=DeliveryKind.choices, default=DeliveryKind.EVENT)
    attempt_count = models.PositiveIntegerField(default=0)
    # Attempts made before the last manual redelivery: the retry schedule
    # restarts from there.
    retry_base = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    # When a queue task was last created for the due attempt; the dispatcher
    # re-queues only when that is long past (a lost task), never a live one.
    enqueued_at = models.DateTimeField(null=True, blank=True)
    claimed_until = models.DateTimeField(null=True, blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    response_code = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.CharField(max_length=500, blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "deliveries"
        indexes = [
            # dispatch_due: pending and failed rows whose attempt is due.
            models.Index(
                fields=["next_attempt_at"],
                name="whdelivery_due",
                condition=models.Q(status__in=["pending", "failed"], next_attempt_at__isnull=False),
            ),
            # dispatch_due: claims whose lease ran out (a worker died mid-send).
            models.Index(fields=["claimed_until"], name="whdelivery_claimed", condition=models.Q(status="sending")),
            # include_logs and recover: an endpoint's latest deliveries.
            models.Index(fields=["endpoint", "-created_at"], name="whdelivery_endpoint_recent"),
        ]

    def __str__(self) -> str:
        return f"{self.id} {self.event_type} → {self.url} ({self.status})"


class DeliveryAttempt(models.Model):
    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="attempts")
    number = models.PositiveIntegerField()
    url = models.CharField(max_length=2048)
    status = models.CharField(max_length=10, choices=DeliveryStatus.choices)
    response_code = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.CharField(max_length=500, blank=True)
    duration_ms = models.PositiveIntegerField(default=0)
    response_body = models.TextField(blank=True, help_text="First 1 KB of the answer")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["delivery", "number", "id"]
        indexes = [models.Index(fields=["delivery", "number"], name="whattempt_delivery")]

    def __str__(self) -> str:
        return f"{self.delivery_id} #{self.number} {self.status}"
