"""Operations records: incidents and maintenance for the status page, the
maintenance switch, and the backups `manage.py backup` took (docs/operations.md)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from core.ids import new_id

# The status page's components (Statuspage "components"); their live state is
# computed by ops.status, incidents and maintenance refer to them by id.
COMPONENTS = (
    ("api", "API"),
    ("jobs", "Job processing"),
    ("webhooks", "Webhooks"),
    ("database", "Database"),
)
COMPONENT_NAMES = dict(COMPONENTS)


def new_incident_id() -> str:
    return new_id("inc")


def new_incident_update_id() -> str:
    return new_id("incu")


def new_maintenance_id() -> str:
    return new_id("mnt")


class Incident(models.Model):
    class Status(models.TextChoices):
        INVESTIGATING = "investigating", "Investigating"
        IDENTIFIED = "identified", "Identified"
        MONITORING = "monitoring", "Monitoring"
        RESOLVED = "resolved", "Resolved"

    class Impact(models.TextChoices):
        NONE = "none", "None"
        MINOR = "minor", "Minor"
        MAJOR = "major", "Major"
        CRITICAL = "critical", "Critical"

    id = models.CharField(primary_key=True, max_length=40, default=new_incident_id, editable=False)
    name = models.CharField(max_length=200)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.INVESTIGATING)
    impact = models.CharField(max_length=10, choices=Impact.choices, default=Impact.MINOR)
    # Component ids from COMPONENTS.
    components = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            # The status page reads unresolved incidents on every view.
            models.Index(
                fields=["-created_at"], name="incident_open", condition=~models.Q(status="resolved")
            ),
        ]

    def __str__(self) -> str:
        return self.name


class IncidentUpdate(models.Model):
    """One message posted on an incident (Statuspage "incident_updates")."""

    id = models.CharField(primary_key=True, max_length=40, default=new_incident_update_id, editable=False)
    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="updates")
    status = models.CharField(max_length=20, choices=Incident.Status.choices)
    body = models.TextField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.get_status_display()}: {self.body[:60]}"


class MaintenanceWindow(models.Model):
    """A maintenance announced on the status page. Announcing one does not
    block the API; the maintenance switch does."""

    id = models.CharField(primary_key=True, max_length=40, default=new_maintenance_id, editable=False)
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    scheduled_for = models.DateTimeField()
    scheduled_until = models.DateTimeField()
    components = models.JSONField(default=list, blank=True)
    cancelled = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["scheduled_for"]

    def __str__(self) -> str:
        return self.name

    def status(self, now=None) -> str:
        """Statuspage's scheduled | in_progress | completed, from the clock."""
        now = now or timezone.now()
        if now < self.scheduled_for:
            return "scheduled"
        if now < self.scheduled_until:
            return "in_progress"
        return "completed"


class MaintenanceMode(models.Model):
    """The single-row maintenance switch (pk is always 1).

    While enabled the API answers 503 MAINTENANCE; `until` is the announced
    end (it feeds Retry-After) and does not switch maintenance off by itself.
    """

    SINGLETON_PK = 1

    id = models.PositiveSmallIntegerField(primary_key=True, default=SINGLETON_PK, editable=False)
    enabled = models.BooleanField(default=False)
    message = models.CharField(max_length=500, blank=True)
    until = models.DateTimeField(null=True, blank=True, help_text="Announced end (UTC); sets Retry-After")
    updated_at = models.DateTimeField(default=timezone.now)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name = "maintenance mode"
        verbose_name_plural = "maintenance mode"
        constraints = [models.CheckConstraint(condition=models.Q(id=1), name="maintenance_mode_singleton")]

    def __str__(self) -> str:
        return "Maintenance mode: " + ("ON" if self.enabled else "off")


class BackupRecord(models.Model):
    class Status(models.TextChoices):
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"

    started_at = models.DateTimeField()
    finished_at = models.DateTimeField()
    status = models.CharField(max_length=10, choices=Status.choices)
    path = models.CharField(max_length=1000, blank=True)
    size_bytes = models.BigIntegerField(default=0)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-finished_at"]
        indexes = [models.Index(fields=["status", "-finished_at"], name="backup_latest")]

    def __str__(self) -> str:
        return f"Backup {self.finished_at:%Y-%m-%d %H:%M} ({self.status})"
