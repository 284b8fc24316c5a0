"""Worker clusters' heartbeats and what happens when one stops beating.

Each `manage.py qcluster` (jobs.cluster) keeps one WorkerHeartbeat row fresh.
A cluster silent for AIPROD_WORKER_DEAD_AFTER (SIGKILLed, OOM-killed, a
machine that never came back) is dead, and every job it held goes back to the
queue at once, not after a job's own timeout or the 120 s stale sweep:

* processing jobs whose worker_instance is one of its worker processes are
  re-queued ("Re-queued after worker loss ..." in the timeline);
* the django-q2 tasks it had taken from the queue but not finished (prefetched
  into its memory, their rows locked for the retry time, over 2 h) are
  released for any live cluster to take. A task held by a live cluster of the
  same queue may so be delivered twice: the claim makes the second a no-op.

A worker process that dies inside a live cluster (SIGKILL, OOM) is seen by its
sentinel at once: `requeue_jobs_of_workers` re-queues what it was running.

Checked by every live sentinel at each beat and by the minute sweeper: the
cost is one indexed look at a table of one row per cluster.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from jobs.models import Job, JobStatus, JobTransition, WorkerHeartbeat
from jobs.services import transitions

logger = logging.getLogger(__name__)

# Rows of dead or stopped clusters are kept this long (diagnostics), then deleted.
KEEP_DEAD_ROWS = timedelta(hours=1)


def beat(cluster_id: str, *, queue: str, host: str, pid: int, worker_pids: list[int], stopping: bool = False) -> None:
    """Creates or refreshes the cluster's row (one UPDATE once it exists)."""
    now = timezone.now()
    updated = WorkerHeartbeat.objects.filter(pk=cluster_id).update(
        beat_at=now, worker_pids=worker_pids, stopping=stopping, recovered_at=None,
    )
    if not updated:
        WorkerHeartbeat.objects.update_or_create(
            pk=cluster_id,
            defaults={"queue": queue, "host": host, "pid": pid, "worker_pids": worker_pids, "beat_at": now,
                      "stopping": stopping, "started_at": now},
        )


def remove(cluster_id: str) -> None:
    """A cluster that stopped cleanly (its jobs finished or were handed back)."""
    WorkerHeartbeat.objects.filter(pk=cluster_id).delete()


def alive(now=None):
    """Clusters that beat within AIPROD_WORKER_DEAD_AFTER, newest beat first."""
    now = now or timezone.now()
    return WorkerHeartbeat.objects.filter(beat_at__gte=now - timedelta(seconds=settings.AIPROD_WORKER_DEAD_AFTER))


def recover_dead_clusters(*, now=None) -> dict:
    """Re-queues what every newly dead cluster held. Returns counts
    {"clusters", "jobs_requeued", "tasks_released"}."""
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=settings.AIPROD_WORKER_DEAD_AFTER)
    summary = {"clusters": 0, "jobs_requeued": 0, "tasks_released": 0}
    for row in WorkerHeartbeat.objects.filter(beat_at__lt=cutoff, recovered_at__isnull=True):
        # One sentinel or sweeper wins the row; the others skip it.
        if not WorkerHeartbeat.objects.filter(pk=row.pk, recovered_at__isnull=True, beat_at=row.beat_at).update(
            recovered_at=now
        ):
            continue
        summary["clusters"] += 1
        silent = int((now - row.beat_at).total_seconds())
        summary["jobs_requeued"] += _requeue_held_jobs(
            row.worker_instances(), why=f"its cluster on {row.host} sent no heartbeat for {silent}s"
        )
        summary["tasks_released"] += release_taken_tasks(row.queue, now=now)
        logger.warning("worker cluster %s is dead (silent %ss): %s", row, silent, summary)
    WorkerHeartbeat.objects.filter(beat_at__lt=now - KEEP_DEAD_ROWS).delete()
    return summary


def requeue_jobs_of_workers(host: str, pids: list[int]) -> int:
    """Re-queues the processing jobs of worker processes that died (their
    sentinel saw it). Returns how many."""
    return _requeue_held_jobs([f"{host}:{pid}" for pid in pids], why="its process died")


def _requeue_held_jobs(instances: list[str], *, why: str) -> int:
    if not instances:
        return 0
    count = 0
    for job in Job.objects.filter(status=JobStatus.PROCESSING, worker_instance__in=instances):
        reason = f"{transitions.REQUEUED_AFTER_WORKER_LOSS} ({why})"  # no host:pid: customers read it
        if job.attempted_count - job.attempt_base >= settings.AIPROD_JOB_MAX_ATTEMPTS:
            count += transitions.fail_lost_job(job, cutoff=timezone.now() + timedelta(seconds=1),
                                               attempts=settings.AIPROD_JOB_MAX_ATTEMPTS, actor="worker-monitor")
            continue
        count += transitions.requeue_running_job(job, reason=reason, actor="worker-monitor")
    return count


def release_taken_tasks(queue: str, *, now=None) -> int:
    """Makes the tasks of `queue` that a cluster took but never acknowledged
    available again (django-q2's ORM broker locks a taken row until its retry
    time). One UPDATE over the rows in flight."""
    from django_q.models import OrmQ

    now = now or timezone.now()
    with transaction.atomic():
        return OrmQ.objects.filter(key=queue, lock__gt=now).update(lock=now)


def requeued_after_loss_count(*, since) -> int:
    """Jobs re-queued after worker loss since `since` (diagnostics)."""
    return (
        JobTransition.objects.filter(from_status=JobStatus.PROCESSING, to_status=JobStatus.PENDING, at__gte=since,
                                     reason__startswith=transitions.REQUEUED_AFTER_WORKER_LOSS)
        .values("job_id").distinct().count()
    )
