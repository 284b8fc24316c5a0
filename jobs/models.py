"""Jobs, their state changes, and remembered Idempotency-Key responses (docs/jobs.md).

Rows change state only through `jobs.services.transitions`: every change is a
conditional UPDATE whose row count says who won, never `job.save()` (a save
would write back a stale status over a concurrent cancel or timeout).
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils import timezone

from accounts.models import Account
from core.ids import new_id, new_job_id


class JobStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    PROCESSING = "processing", "Processing"
    COMPLETED = "completed", "Completed"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


ACTIVE_STATUSES = (JobStatus.PENDING, JobStatus.PROCESSING)
FINISHED_STATUSES = (JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED)


class Job(models.Model):
    id = models.CharField(primary_key=True, max_length=40, default=new_job_id, editable=False)
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="jobs")
    livemode = models.BooleanField(default=True)
    name = models.CharField(max_length=255)
    # What the customer asked for ("auto" or a type) and what it resolved to;
    # `type` stays "auto" until the input's kind is known.
    requested_type = models.CharField(max_length=40, default="auto")
    type = models.CharField(max_length=40, default="auto")
    status = models.CharField(max_length=20, choices=JobStatus.choices, default=JobStatus.PENDING)

    input_url = models.CharField(max_length=4096, blank=True, default="")
    input_filename = models.CharField(max_length=255, blank=True, default="")
    input_content_type = models.CharField(max_length=255, blank=True, default="")
    input_size_bytes = models.BigIntegerField(null=True, blank=True)
    input_kind = models.CharField(max_length=20, blank=True, default="")
    # Storage name of an uploaded input (/jobs/stream); empty for URL jobs,
    # whose input is fetched again on every attempt.
    input_file = models.CharField(max_length=500, blank=True, default="")
    # Input bytes already counted against the data quota by earlier attempts:
    # a retried or re-queued job fetches its input again but pays for it once.
    data_bytes_counted = models.BigIntegerField(default=0)

    params = models.JSONField(default=dict, blank=True)
    timeout = models.PositiveIntegerField(help_text="Seconds of processing allowed per attempt")
    # True when the client gave no timeout: it then follows the type, so an
    # `auto` job gets its resolved type's default once the bytes decide it.
    timeout_is_default = models.BooleanField(default=False)
    webhook_url = models.CharField(max_length=2048, null=True, blank=True)
    metadata = models.JSONField(default=dict, blank=True)

    output = models.JSONField(null=True, blank=True)
    output_file = models.CharField(max_length=500, blank=True, default="")
    output_content_type = models.CharField(max_length=255, blank=True, default="")
    error = models.TextField(null=True, blank=True)
    error_code = models.CharField(max_length=40, null=True, blank=True)

    attempted_count = models.PositiveIntegerField(default=0)
    # attempted_count when the job was last retried by hand: the sweeper's
    # attempt budget (AIPROD_JOB_MAX_ATTEMPTS) counts from here, so a manual
    # retry gets a fresh budget while attempted_count keeps the whole history.
    attempt_base = models.PositiveIntegerField(default=0)
    worker_instance = models.CharField(max_length=200, null=True, blank=True)
    progress = models.PositiveSmallIntegerField(default=0)
    # Set with a cancel or timeout of a processing job: tells its worker to stop.
    cancel_requested = models.BooleanField(default=False)

    created_at = models.DateTimeField(default=timezone.now)
    # First day of created_at's UTC month: names are unique per month.
    created_month = models.DateField()
    started_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    last_activity_at = models.DateTimeField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            # DUPLICATE_JOB: race-safe because the database decides.
            models.UniqueConstraint(
                fields=["account", "livemode", "created_month", "name"], name="job_name_unique_per_month"
            ),
        ]
        indexes = [
            # GET /jobs: newest first per account and environment, cursor on (created_at, id).
            models.Index(fields=["account", "livemode", "-created_at", "-id"], name="job_list"),
            # GET /jobs?status=...: the same walk within one status.
            models.Index(fields=["account", "livemode", "status", "-created_at", "-id"], name="job_list_status"),
            # GET /jobs?name=...: the uniqueness index leads with created_month, so not usable across months.
            models.Index(fields=["account", "livemode", "name"], name="job_list_name"),
            # The sweeper and "stuck > 24 h": active rows by last heartbeat. Partial, so it
            # stays as small as the set of running jobs however many finished jobs pile up.
            models.Index(
                fields=["status", "last_activity_at"],
                name="job_active_activity",
                condition=Q(status__in=["pending", "processing"]),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.id} {self.name!r} ({self.status})"

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_STATUSES


class JobTransition(models.Model):
    """One state change of a job: the timeline's "what happened and why"."""

    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="transitions")
    from_status = models.CharField(max_length=20, null=True, blank=True)
    to_status = models.CharField(max_length=20)
    at = models.DateTimeField(default=timezone.now)
    worker = models.CharField(max_length=200, null=True, blank=True)
    attempt = models.PositiveIntegerField(default=0)
    # Who made it: "api", "worker", "sweeper", "admin:<username>", "command".
    actor = models.CharField(max_length=200, blank=True, default="")
    reason = models.TextField(blank=True, default="")
    error_code = models.CharField(max_length=40, null=True, blank=True)

    class Meta:
        ordering = ["at", "id"]
        indexes = [
            models.Index(fields=["job", "at"], name="jobtransition_job_at"),
            # Diagnostics: "re-queued after worker loss in the last hour", without reading the whole timeline.
            models.Index(fields=["at"], name="jobtransition_requeued",
                         condition=Q(from_status="processing", to_status="pending")),
        ]

    def __str__(self) -> str:
        return f"{self.job_id}: {self.from_status} → {self.to_status}"


class IdempotencyKey(models.Model):
    """The first successful response to a POST /jobs with an Idempotency-Key,
    replayed for 24 h to a retry with the same key and body."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="+")
    livemode = models.BooleanField(default=True)
    key = models.CharField(max_length=255)
    # SHA-256 of method, path and canonical body: the same key with another body is refused.
    fingerprint = models.CharField(max_length=64)
    response_status = models.PositiveSmallIntegerField(null=True)
    response_body = models.JSONField(null=True)
    job = models.ForeignKey(Job, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["account", "livemode", "key"], name="idempotency_key_unique"),
        ]
        # Expiry: the sweeper deletes rows past 24 h.
        indexes = [models.Index(fields=["created_at"], name="idempotency_created")]

    def __str__(self) -> str:
        return f"{self.key} ({self.account_id})"


def new_upload_id() -> str:
    return new_id("upl")


class Upload(models.Model):
    """A direct upload (POST /uploads, docs/deploy.md): a place the client PUTs a
    file to (a presigned bucket URL, or our signed URL on local storage)
    before creating a job from it with `upload_id`. The job's id is reserved
    here, so the file lands at its final name, `jobs/<job id>/input.<ext>`."""

    id = models.CharField(primary_key=True, max_length=40, default=new_upload_id, editable=False)
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="uploads")
    livemode = models.BooleanField(default=True)
    job_id = models.CharField(max_length=40, unique=True)
    filename = models.CharField(max_length=255)
    content_type = models.CharField(max_length=255, blank=True, default="")
    kind = models.CharField(max_length=20)
    storage_name = models.CharField(max_length=500)
    max_size_bytes = models.BigIntegerField()
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["expires_at"], name="upload_expires_idx")]

    def __str__(self) -> str:
        return self.id


class WorkerHeartbeat(models.Model):
    """One running worker cluster (`manage.py qcluster`), beating every
    AIPROD_WORKER_HEARTBEAT_SECONDS. A row silent for AIPROD_WORKER_DEAD_AFTER
    is a dead cluster: the jobs its worker processes held are re-queued at
    once (jobs.services.recovery.recover_dead_clusters) and `recovered_at` set.
    The table holds one row per cluster, so detection costs the same whatever
    the queue's length."""

    cluster_id = models.CharField(primary_key=True, max_length=64)
    queue = models.CharField(max_length=100)  # django-q2 cluster name = broker list key
    host = models.CharField(max_length=255)
    pid = models.PositiveIntegerField()  # the sentinel's
    worker_pids = models.JSONField(default=list)  # the pool's, as of the last beat
    started_at = models.DateTimeField(default=timezone.now)
    beat_at = models.DateTimeField(default=timezone.now)
    stopping = models.BooleanField(default=False)
    recovered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-beat_at"]

    def __str__(self) -> str:
        return f"{self.queue}@{self.host}:{self.pid}"

    def worker_instances(self) -> list[str]:
        """The `worker_instance` values its worker processes put on jobs."""
        return [f"{self.host}:{pid}" for pid in self.worker_pids]
