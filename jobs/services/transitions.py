"""Every change of a job's status, in one place (docs/jobs.md, lifecycle).

Each transition is a conditional UPDATE whose row count says who won:

* the worker's own steps (claim, heartbeat, complete, fail) are guarded by
  `status=processing, attempted_count=<its attempt>`, so a worker that lost
  the job (cancelled, timed out, retried, re-queued by the sweeper, deleted)
  finds 0 rows and stops without writing anything;
* the API's steps (cancel, timeout, retry, delete) lock the row first
  (SELECT ... FOR UPDATE) to learn the status they move from, then update
  under the same condition.

Every transition writes a JobTransition row (the timeline) and emits the
webhook event in the same transaction, so an event exists exactly when the
change committed. Enqueueing happens after commit.
"""

from __future__ import annotations

import logging
from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from core import metrics
from core.errors import invalid_state, not_found
from jobs.models import ACTIVE_STATUSES, Job, JobStatus, JobTransition
from jobs.serializers import job_data
from jobs.services import storage, task_queue
from webhooks.services.events import emit_job_event

logger = logging.getLogger(__name__)

TIMEOUT = "TIMEOUT"
WORKER_LOST = "WORKER_LOST"

# Event emitted when a job enters a status (pending emits nothing).
EVENTS = {
    JobStatus.PROCESSING: "job.processing",
    JobStatus.COMPLETED: "job.completed",
    JobStatus.FAILED: "job.failed",
    JobStatus.CANCELLED: "job.cancelled",
}


def _record(job: Job, from_status: str | None, *, actor: str, reason: str = "", error_code: str | None = None,
            worker: str | None = None, at: datetime | None = None) -> None:
    JobTransition.objects.create(
        job_id=job.pk,
        from_status=from_status,
        to_status=job.status,
        at=at or timezone.now(),
        worker=worker if worker is not None else job.worker_instance,
        attempt=job.attempted_count,
        actor=actor,
        reason=reason,
        error_code=error_code,
    )
    transaction.on_commit(lambda: _observe(job, from_status, error_code or job.error_code))


def _observe(job: Job, from_status: str | None, error_code: str | None) -> None:
    """After commit: the /metrics counters and one log line per transition."""
    metrics.job_transition(job.type, from_status, job.status, error_code=error_code, duration_ms=job.duration_ms)
    finished = from_status is not None and job.status not in ACTIVE_STATUSES
    extra = {
        "job_id": job.pk,
        "account_id": job.account_id,
        "event": f"job.{job.status}" if from_status else "job.created",
        "duration_ms": job.duration_ms if finished else None,
        "fields": {"type": job.type, "error_code": error_code},
    }
    logger.info("job %s %s -> %s", job.pk, from_status or "new", job.status, extra=extra)


def _emit(job: Job) -> None:
    event = EVENTS.get(job.status)
    if event:
        emit_job_event(job, event, job_data(job, for_webhook=True))


def _duration_ms(started_at: datetime | None, now: datetime) -> int | None:
    if started_at is None:
        return None
    return max(0, int((now - started_at).total_seconds() * 1000))


def record_created(job: Job, *, actor: str = "api") -> None:
    """The creation entry of the timeline (called by create_job)."""
    _record(job, None, actor=actor, reason="Created", at=job.created_at)


# --------------------------------------------------------------------------- worker steps


def claim_job(job_id: str, *, worker: str | None = None) -> Job | None:
    """pending → processing for this worker; None when someone else has it
    (or it is not pending), which makes a second delivery of a task a no-op.

    Side effects: started_at, worker_instance, attempted_count + 1,
    last_activity_at; a transition; the job.processing event.
    """
    worker = worker or task_queue.worker_identity()
    now = timezone.now()
    with transaction.atomic():
        claimed = Job.objects.filter(pk=job_id, status=JobStatus.PENDING).update(
            status=JobStatus.PROCESSING,
            started_at=now,
            worker_instance=worker,
            attempted_count=F("attempted_count") + 1,
            last_activity_at=now,
            progress=0,
            cancel_requested=False,
        )
        if not claimed:
            return None
        job = Job.objects.get(pk=job_id)
        _record(job, JobStatus.PENDING, actor="worker", reason="Claimed by a worker", at=now)
        _emit(job)
    return job


def heartbeat(job_id: str, attempt: int, progress: float | None = None) -> bool:
    """Refreshes last_activity_at (and progress); False when this attempt no
    longer owns the job (cancelled, timed out, retried, deleted): stop."""
    fields = {"last_activity_at": timezone.now()}
    if progress is not None:
        fields["progress"] = max(0, min(100, int(progress)))
    return bool(
        Job.objects.filter(pk=job_id, status=JobStatus.PROCESSING, attempted_count=attempt).update(**fields)
    )


def update_running_job(job_id: str, attempt: int, **fields) -> bool:
    """Records facts learnt while running (input kind, resolved type, ...);
    False when this attempt no longer owns the job."""
    fields.setdefault("last_activity_at", timezone.now())
    return bool(Job.objects.filter(pk=job_id, status=JobStatus.PROCESSING, attempted_count=attempt).update(**fields))


def complete_job(job: Job, *, output: dict, output_file: str = "", output_content_type: str = "") -> bool:
    """processing → completed for the attempt in `job` (as claimed). False
    when the attempt lost the job; the caller then deletes `output_file`.

    Side effects: output, output file name, duration_ms, progress 100; a
    transition; the job.completed event.
    """
    now = timezone.now()
    with transaction.atomic():
        done = Job.objects.filter(pk=job.pk, status=JobStatus.PROCESSING, attempted_count=job.attempted_count).update(
            status=JobStatus.COMPLETED,
            output=output,
            output_file=output_file,
            output_content_type=output_content_type,
            error=None,
            error_code=None,
            progress=100,
            completed_at=now,
            last_activity_at=now,
            duration_ms=_duration_ms(job.started_at, now),
        )
        if not done:
            return False
        fresh = Job.objects.get(pk=job.pk)
        _record(fresh, JobStatus.PROCESSING, actor="worker", reason="Completed", at=now)
        _emit(fresh)
    return True


def fail_job(job: Job, *, code: str, message: str, actor: str = "worker") -> bool:
    """processing → failed for the attempt in `job`. False when the attempt
    lost the job. Side effects: error, error_code, duration_ms; a transition;
    the job.failed event."""
    now = timezone.now()
    with transaction.atomic():
        done = Job.objects.filter(pk=job.pk, status=JobStatus.PROCESSING, attempted_count=job.attempted_count).update(
            status=JobStatus.FAILED,
            error=message,
            error_code=code,
            completed_at=now,
            last_activity_at=now,
            duration_ms=_duration_ms(job.started_at, now),
        )
        if not done:
            return False
        fresh = Job.objects.get(pk=job.pk)
        _record(fresh, JobStatus.PROCESSING, actor=actor, reason=message, error_code=code, at=now)
        _emit(fresh)
    return True


# --------------------------------------------------------------------------- API / admin steps


def _lock(job: Job) -> Job:
    locked = Job.objects.select_for_update().filter(pk=job.pk).first()
    if locked is None:  # deleted meanwhile
        raise not_found("Job")
    return locked


def _finish_active(locked: Job, status: str, *, actor: str, reason: str, error: str | None = None,
                   error_code: str | None = None) -> Job:
    """Moves a locked, active job to a final status; returns the fresh row."""
    now = timezone.now()
    from_status = locked.status
    was_processing = from_status == JobStatus.PROCESSING
    Job.objects.filter(pk=locked.pk, status=from_status, attempted_count=locked.attempted_count).update(
        status=status,
        error=error,
        error_code=error_code,
        # Its worker (if any) sees the status change at its next heartbeat and kills the work.
        cancel_requested=was_processing,
        completed_at=now,
        last_activity_at=now,
        duration_ms=_duration_ms(locked.started_at, now),
    )
    fresh = Job.objects.get(pk=locked.pk)
    _record(fresh, from_status, actor=actor, reason=reason, error_code=error_code, at=now)
    _emit(fresh)
    return fresh


def cancel_job(job: Job, *, actor: str = "api", reason: str = "") -> Job:
    """pending/processing → cancelled; else 422 INVALID_STATE. A running
    attempt is stopped by its worker within a heartbeat. Emits job.cancelled.
    Returns the updated job."""
    with transaction.atomic():
        locked = _lock(job)
        if locked.status not in ACTIVE_STATUSES:
            raise invalid_state(
                f"Job {job.pk} is {locked.status}; only pending or processing jobs can be cancelled"
            )
        return _finish_active(locked, JobStatus.CANCELLED, actor=actor, reason=reason or "Cancelled")


def timeout_job(job: Job, *, reason: str = "", actor: str = "api") -> Job:
    """pending/processing → failed with code TIMEOUT and error
    "Timeout: <reason>"; else 422 INVALID_STATE. A running attempt is stopped
    by its worker within a heartbeat. Emits job.failed. Returns the job."""
    reason = (reason or "").strip() or "Forced timeout"
    with transaction.atomic():
        locked = _lock(job)
        if locked.status not in ACTIVE_STATUSES:
            raise invalid_state(
                f"Job {job.pk} is {locked.status}; only pending or processing jobs can be timed out"
            )
        message = f"Timeout: {reason}"
        return _finish_active(locked, JobStatus.FAILED, actor=actor, reason=message, error=message,
                              error_code=TIMEOUT)


def retry_job(job: Job, *, actor: str = "api") -> Job:
    """failed/cancelled → pending, queued again after commit; else 422
    INVALID_STATE. Not a new job for the quota. The previous output is
    dropped (its file deleted after commit) and the sweeper's attempt budget
    starts afresh; attempted_count keeps counting. Returns the job."""
    with transaction.atomic():
        locked = _lock(job)
        if locked.status not in (JobStatus.FAILED, JobStatus.CANCELLED):
            raise invalid_state(
                f"Job {job.pk} is {locked.status}; only failed or cancelled jobs can be retried"
            )
        now = timezone.now()
        old_output = locked.output_file
        Job.objects.filter(pk=locked.pk, status=locked.status).update(
            status=JobStatus.PENDING,
            error=None,
            error_code=None,
            output=None,
            output_file="",
            output_content_type="",
            progress=0,
            started_at=None,
            completed_at=None,
            duration_ms=None,
            worker_instance=None,
            cancel_requested=False,
            attempt_base=F("attempted_count"),
            last_activity_at=now,
        )
        fresh = Job.objects.get(pk=locked.pk)
        _record(fresh, locked.status, actor=actor, reason="Retried", at=now)
        if old_output:
            transaction.on_commit(lambda: storage.delete_files([old_output]))
        task_queue.enqueue(fresh.pk)
    return fresh


def delete_job(job: Job, *, actor: str = "api") -> None:
    """Cancels the job if active (emitting job.cancelled), deletes the row
    (its transitions with it) and, after commit, its stored files."""
    with transaction.atomic():
        locked = _lock(job)
        if locked.status in ACTIVE_STATUSES:
            locked = _finish_active(locked, JobStatus.CANCELLED, actor=actor, reason="Cancelled by deletion")
        files = [locked.input_file, locked.output_file]
        Job.objects.filter(pk=locked.pk).delete()
        transaction.on_commit(lambda: storage.delete_job_files(locked.pk, files))


# --------------------------------------------------------------------------- sweeper steps


def requeue_lost_job(job: Job, *, cutoff: datetime, actor: str = "sweeper") -> bool:
    """processing (no heartbeat since `cutoff`) → pending, queued again.
    False when the job moved meanwhile (its worker woke up, or it finished)."""
    now = timezone.now()
    with transaction.atomic():
        moved = Job.objects.filter(
            pk=job.pk, status=JobStatus.PROCESSING, attempted_count=job.attempted_count,
            last_activity_at__lt=cutoff,
        ).update(status=JobStatus.PENDING, worker_instance=None, progress=0, last_activity_at=now)
        if not moved:
            return False
        fresh = Job.objects.get(pk=job.pk)
        seconds = settings.AIPROD_JOB_STALE_AFTER
        _record(fresh, JobStatus.PROCESSING, actor=actor, worker=job.worker_instance,
                reason=f"{REQUEUED_AFTER_WORKER_LOSS} (no heartbeat for {seconds}s)",
                at=now)
        task_queue.enqueue(fresh.pk)
    return True


# Timeline reasons of the re-queues below (diagnostics count the first).
REQUEUED_AFTER_WORKER_LOSS = "Re-queued after worker loss"
REQUEUED_AT_SHUTDOWN = "Re-queued at worker shutdown"


def requeue_running_job(job: Job, *, reason: str, actor: str) -> bool:
    """processing → pending for the attempt in `job` (as claimed), queued
    again: its worker died (seen by the worker heartbeats) or is stopping past
    its grace period. False when the attempt no longer owns the job."""
    now = timezone.now()
    with transaction.atomic():
        moved = Job.objects.filter(
            pk=job.pk, status=JobStatus.PROCESSING, attempted_count=job.attempted_count,
        ).update(status=JobStatus.PENDING, worker_instance=None, progress=0, last_activity_at=now)
        if not moved:
            return False
        fresh = Job.objects.get(pk=job.pk)
        _record(fresh, JobStatus.PROCESSING, actor=actor, worker=job.worker_instance, reason=reason, at=now)
        task_queue.enqueue(fresh.pk)
    return True


def fail_lost_job(job: Job, *, cutoff: datetime, attempts: int, actor: str = "sweeper") -> bool:
    """processing (no heartbeat since `cutoff`) → failed WORKER_LOST after
    the attempt budget is spent. Emits job.failed."""
    now = timezone.now()
    message = f"Worker lost: gave up after {attempts} attempts"
    with transaction.atomic():
        moved = Job.objects.filter(
            pk=job.pk, status=JobStatus.PROCESSING, attempted_count=job.attempted_count,
            last_activity_at__lt=cutoff,
        ).update(
            status=JobStatus.FAILED, error=message, error_code=WORKER_LOST, completed_at=now,
            last_activity_at=now, duration_ms=_duration_ms(job.started_at, now),
        )
        if not moved:
            return False
        fresh = Job.objects.get(pk=job.pk)
        _record(fresh, JobStatus.PROCESSING, actor=actor, reason=message, error_code=WORKER_LOST,
                worker=job.worker_instance, at=now)
        _emit(fresh)
    return True


def requeue_pending_job(job: Job, *, seen_activity: datetime) -> bool:
    """Enqueues a pending job whose task vanished from the queue. The claim is
    idempotent, so a duplicate task is harmless; bumping last_activity_at
    keeps the sweeper from enqueueing it again every minute."""
    now = timezone.now()
    with transaction.atomic():
        moved = Job.objects.filter(pk=job.pk, status=JobStatus.PENDING, last_activity_at=seen_activity).update(
            last_activity_at=now
        )
        if moved:
            task_queue.enqueue(job.pk)
    return bool(moved)
