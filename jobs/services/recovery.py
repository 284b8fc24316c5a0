"""Nothing stays `processing` forever (docs/jobs.md): the sweeper and the
recover_stuck_jobs command. The jobs table, not the queue, is the truth.

* A processing job whose heartbeat (last_activity_at) is older than
  AIPROD_JOB_STALE_AFTER lost its worker: it is re-queued while its attempt
  budget (AIPROD_JOB_MAX_ATTEMPTS since the last manual retry) lasts, else
  failed WORKER_LOST.
* A pending job older than AIPROD_JOB_PENDING_REQUEUE_AFTER whose task is no
  longer waiting in the django-q2 queue (lost between commit and enqueue,
  purged, or taken by a cluster that died before a worker claimed the job)
  is enqueued again; the claim makes a duplicate task harmless. Finding
  them means reading the queued tasks, so that look is bounded: with more
  than QUEUE_SCAN_LIMIT tasks waiting the sweep skips it (the jobs are
  waiting their turn; what a dead cluster took is recovered through its
  heartbeat row, jobs.services.workers) and looks again when the queue is
  shorter.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from core.errors import ApplicationError
from jobs.models import Job, JobStatus
from jobs.selectors import stuck_jobs
from jobs.services import idempotency, scratch, transitions, workers

logger = logging.getLogger(__name__)

BATCH = 500
# At most this many waiting tasks are read (unpickled) per sweep by the
# pending-job fallback; a longer queue skips it until it drains.
QUEUE_SCAN_LIMIT = 2000


def sweep_stale_jobs(*, now=None, stale_after: int | None = None) -> dict:
    """One sweep. Returns counts {"requeued", "failed", "pending_requeued",
    "idempotency_keys_pruned", "work_dirs_removed"}. Side effects: the
    transitions above, their events and timeline rows, tasks queued, stale
    scratch directories removed."""
    now = now or timezone.now()
    stale_after = settings.AIPROD_JOB_STALE_AFTER if stale_after is None else stale_after
    cutoff = now - timedelta(seconds=stale_after)
    max_attempts = settings.AIPROD_JOB_MAX_ATTEMPTS
    summary = {"requeued": 0, "failed": 0, "pending_requeued": 0, "idempotency_keys_pruned": 0, "work_dirs_removed": 0}
    for job in stuck_jobs(older_than=timedelta(seconds=stale_after), now=now).select_related("account")[:BATCH]:
        if job.attempted_count - job.attempt_base < max_attempts:
            summary["requeued"] += transitions.requeue_lost_job(job, cutoff=cutoff)
        else:
            summary["failed"] += transitions.fail_lost_job(job, cutoff=cutoff, attempts=max_attempts)
    dead = workers.recover_dead_clusters()
    summary["requeued"] += dead["jobs_requeued"]
    summary["pending_requeued"] = _requeue_orphaned_pending(now)
    summary["idempotency_keys_pruned"] = idempotency.prune_expired()
    summary["work_dirs_removed"] = scratch.remove_stale_work_dirs(settings.AIPROD_JOB_WORK_DIR_MAX_AGE)
    if summary["requeued"] or summary["failed"] or summary["pending_requeued"]:
        logger.warning("job sweep: %s", summary)
    return summary


def _requeue_orphaned_pending(now) -> int:
    cutoff = now - timedelta(seconds=settings.AIPROD_JOB_PENDING_REQUEUE_AFTER)
    waiting = list(Job.objects.filter(status=JobStatus.PENDING, last_activity_at__lt=cutoff)[:BATCH])
    if not waiting:
        return 0
    queued = queued_job_ids(limit=QUEUE_SCAN_LIMIT)
    if queued is None:
        logger.info("job sweep: over %s tasks waiting, pending-job fallback skipped", QUEUE_SCAN_LIMIT)
        return 0
    return sum(
        transitions.requeue_pending_job(job, seen_activity=job.last_activity_at)
        for job in waiting
        if job.pk not in queued
    )


def queued_job_ids(limit: int | None = None) -> set[str] | None:
    """Job ids with a run_job task waiting in the django-q2 ORM queue for a
    cluster to take it (lock in the past). With ``limit``: None when more than
    that many tasks are waiting (none is read beyond it).

    A task a cluster has taken does not count: its row stays locked until the
    Q_CLUSTER retry time (over 2 h) whether or not anything still holds it, and
    a worker that had it would have claimed the job. A job still pending long
    after is stranded: its task sat in the memory of a cluster that was killed,
    or its worker failed before the claim (the database was away). Queueing it
    again costs at most a duplicate task (when that cluster is merely busy),
    which the claim makes a no-op."""
    from django_q.models import OrmQ

    rows = OrmQ.objects.filter(lock__lte=timezone.now()).order_by()
    if limit is not None:
        if list(rows.values_list("pk", flat=True)[limit:limit + 1]):  # ids only: nothing unpickled
            return None
        rows = rows[:limit]
    ids = set()
    for row in rows.only("payload").iterator():
        task = row.task
        if task.get("func") == "jobs.tasks.run_job" and task.get("args"):
            ids.add(task["args"][0])
    return ids


def recover_stuck_jobs(*, older_than: timedelta, action: str = "timeout", dry_run: bool = False,
                       reason: str = "", actor: str = "recover_stuck_jobs") -> list[dict]:
    """Force-times out processing jobs without activity for `older_than`
    (and with action="retry" queues them again), through the same services
    as POST /jobs/{id}/timeout and /retry. Returns one dict per job."""
    _check_action(action)
    hours = older_than.total_seconds() / 3600
    reason = reason or f"Stuck in processing: no activity for more than {hours:g}h"
    jobs = stuck_jobs(older_than=older_than).order_by("last_activity_at")[:BATCH]
    return [_recover(job, action=action, reason=reason, dry_run=dry_run, actor=actor) for job in jobs]


def recover_jobs(job_ids: list[str], *, action: str = "timeout", dry_run: bool = False, reason: str = "",
                 actor: str = "recover_stuck_jobs") -> list[dict]:
    """The same for jobs named by id, whatever their age (the timeout/retry
    steps of docs/troubleshooting.md's "Jobs stuck in processing", done by an
    operator without the customer's key; docs/operations.md "Stuck jobs"). With
    action="retry" a failed or cancelled job is retried as it is; an active
    one is timed out first. An unknown id is reported, not raised."""
    _check_action(action)
    reason = reason or "Recovered by an operator"
    found = {job.pk: job for job in Job.objects.filter(pk__in=job_ids)}
    return [
        _recover(found[job_id], action=action, reason=reason, dry_run=dry_run, actor=actor)
        if job_id in found else {"id": job_id, "action": action, "result": "not found"}
        for job_id in dict.fromkeys(job_ids)
    ]


def _check_action(action: str) -> None:
    if action not in ("timeout", "retry"):
        raise ValueError(f"action must be timeout or retry, got {action!r}")


def _recover(job: Job, *, action: str, reason: str, dry_run: bool, actor: str) -> dict:
    entry = {"id": job.pk, "account_id": job.account_id, "livemode": job.livemode, "status": job.status,
             "last_activity_at": job.last_activity_at.isoformat() if job.last_activity_at else None,
             "worker_instance": job.worker_instance, "attempted_count": job.attempted_count,
             "action": action, "result": "would " + action}
    if dry_run:
        return entry
    try:
        if job.status in (JobStatus.PENDING, JobStatus.PROCESSING) or action == "timeout":
            job = transitions.timeout_job(job, reason=reason, actor=actor)
        if action == "retry":
            job = transitions.retry_job(job, actor=actor)
        entry["result"] = job.status
    except ApplicationError as exc:  # e.g. a completed job: INVALID_STATE, said plainly
        entry["result"] = f"error: {exc.message}"
    except Exception as exc:  # one job's failure must not stop the rest
        logger.exception("recover_stuck_jobs: %s", job.pk)
        entry["result"] = f"error: {exc}"
    return entry
