"""PATCH /jobs/{id}: rename, metadata, webhook_url, and status → cancelled."""

from __future__ import annotations

from django.db import IntegrityError, transaction

from core.errors import invalid_state
from jobs.models import Job, JobStatus
from jobs.services.create import check_webhook_url, duplicate_job, name_conflict
from jobs.services.transitions import cancel_job

EDITABLE = ("name", "metadata", "webhook_url")


def update_job(job: Job, *, status: str | None = None, actor: str = "api", **fields) -> Job:
    """Updates the editable fields (only those given) and, with
    status="cancelled", cancels the job, all or nothing. Any other status is
    422 INVALID_STATE; a name taken this month is 422 DUPLICATE_JOB.

    Writes only the named columns (never a whole-row save), so a concurrent
    state change by the worker is not overwritten. Returns the fresh job.
    """
    unknown = set(fields) - set(EDITABLE)
    if unknown:
        raise TypeError(f"not editable: {sorted(unknown)}")
    check_webhook_url(fields.get("webhook_url"))
    if status is not None and status != JobStatus.CANCELLED:
        raise invalid_state(
            f"status can only be set to cancelled; to run job {job.pk} again use POST /jobs/{job.pk}/retry"
        )
    try:
        with transaction.atomic():
            if fields:
                Job.objects.filter(pk=job.pk).update(**fields)
            if status == JobStatus.CANCELLED:
                return cancel_job(job, actor=actor, reason="Cancelled by PATCH status=cancelled")
    except IntegrityError:
        if "name" in fields and name_conflict(job, fields["name"]):
            raise duplicate_job() from None
        raise
    return Job.objects.get(pk=job.pk)
