"""Reads for the jobs API, the admin and the dashboard."""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone
from django.utils.dateparse import parse_datetime

from accounts.selectors import request_logs_for_object
from core.errors import ValidationFailed
from core.fields import unknown_choice
from core.timefmt import filter_created_between
from jobs.models import Job, JobStatus, JobTransition
from jobs.serializers import (
    STATUS_CHOICES,
    timeline_entry_delivery,
    timeline_entry_request,
    timeline_entry_transition,
)
from jobs.services import types

STUCK_AFTER_HOURS = 24


def jobs_for(account, *, livemode: bool):
    return Job.objects.filter(account=account, livemode=livemode)


def filter_jobs(queryset, params):
    """Applies GET /jobs filters: status, type, name, created_after, created_before."""
    errors: dict[str, list[str]] = {}
    status = params.get("status")
    if status:
        if status not in STATUS_CHOICES:
            errors["status"] = ["Must be one of: " + ", ".join(STATUS_CHOICES)]
        else:
            queryset = queryset.filter(status=status)
    type_name = params.get("type")
    if type_name:
        if type_name not in types.type_choices():
            errors["type"] = [unknown_choice(types.type_choices())]
        else:
            queryset = queryset.filter(type=type_name)
    name = params.get("name")
    if name:
        queryset = queryset.filter(name=name)
    queryset = filter_created_between(queryset, params, errors)
    if errors:
        raise ValidationFailed(errors)
    return queryset


def jobs_by_ids(queryset, ids: list[str]) -> tuple[list[Job], list[str]]:
    """(found jobs in the order asked, ids not found), in one query."""
    wanted = list(dict.fromkeys(ids))
    found = {job.pk: job for job in queryset.filter(pk__in=wanted)}
    return [found[i] for i in wanted if i in found], [i for i in wanted if i not in found]


def stuck_jobs(*, older_than, now=None):
    """Processing jobs whose last heartbeat is older than `older_than` (a timedelta)."""
    now = now or timezone.now()
    return Job.objects.filter(status=JobStatus.PROCESSING, last_activity_at__lt=now - older_than)


def timeline_for(job: Job, *, request_limit: int = 1000, staff: bool = False) -> list[dict]:
    """Everything that happened to the job, oldest first: API requests that
    touched it, state changes (worker, attempt, reason), webhook attempts.
    Workers are named by their public label unless ``staff``."""
    from webhooks.selectors import deliveries_for_job

    entries: list[tuple[datetime, int, dict]] = []
    logs = request_logs_for_object(job.pk).filter(account_id=job.account_id, livemode=job.livemode)
    for log in logs[:request_limit]:
        entries.append((log.created_at, 1, timeline_entry_request(log)))
    for transition in JobTransition.objects.filter(job=job).order_by("at", "id"):
        entries.append((transition.at, 0, timeline_entry_transition(transition, staff=staff)))
    for delivery in deliveries_for_job(job.pk):
        moment = delivery.get("timestamp")
        if isinstance(moment, str):
            moment = parse_datetime(moment.replace("Z", "+00:00"))
        entries.append((moment or job.created_at, 2, timeline_entry_delivery(delivery)))
    entries.sort(key=lambda item: (item[0], item[1]))
    return [entry for _, _, entry in entries]


def queue_progress(*, now=None, staff: bool = False) -> dict:
    """The readings an operator needs with docs/operations.md's "Stuck jobs"
    runbook open (/diagnostics, the Support admin): queue depth per
    kind with the oldest waiting item's age, worker clusters alive with their
    last heartbeat, and jobs re-queued after worker loss in the last hour.
    Every count reads a partial index or the one-row-per-cluster table.
    A cluster's `host` and `pid` only for ``staff``; customers get an opaque
    `worker` label instead (the one job objects carry, jobs.serializers)."""
    from datetime import timedelta

    from django.conf import settings
    from django.db.models import Count, Min, Q

    from jobs.models import WorkerHeartbeat
    from jobs.services import workers
    from webhooks.models import Delivery, DeliveryStatus

    now = now or timezone.now()

    def age(moment):
        return None if moment is None else round(max(0.0, (now - moment).total_seconds()), 3)

    jobs = Job.objects.filter(status__in=(JobStatus.PENDING, JobStatus.PROCESSING)).aggregate(
        pending=Count("id", filter=Q(status=JobStatus.PENDING)),
        processing=Count("id", filter=Q(status=JobStatus.PROCESSING)),
        oldest=Min("last_activity_at", filter=Q(status=JobStatus.PENDING)),
    )
    due = Delivery.objects.filter(status__in=(DeliveryStatus.PENDING, DeliveryStatus.FAILED),
                                  next_attempt_at__isnull=False, next_attempt_at__lte=now)
    deliveries = due.aggregate(waiting=Count("id"), oldest=Min("next_attempt_at"))
    dead_after = timedelta(seconds=settings.AIPROD_WORKER_DEAD_AFTER)
    from jobs.serializers import public_worker

    clusters = [
        {
            "queue": row.queue,
            **({"host": row.host, "pid": row.pid} if staff else {"worker": public_worker(f"{row.host}:{row.pid}")}),
            "workers": len(row.worker_pids),
            "last_heartbeat_at": row.beat_at.isoformat().replace("+00:00", "Z"),
            "last_heartbeat_age_seconds": age(row.beat_at),
            "alive": row.beat_at >= now - dead_after,
            "stopping": row.stopping,
        }
        for row in WorkerHeartbeat.objects.order_by("-beat_at")[:50]
    ]
    alive = [c for c in clusters if c["alive"]]
    return {
        "jobs_pending": jobs["pending"],
        "jobs_processing": jobs["processing"],
        "oldest_pending_job_age_seconds": age(jobs["oldest"]),
        "webhook_deliveries_waiting": deliveries["waiting"],
        "oldest_waiting_delivery_age_seconds": age(deliveries["oldest"]),
        "worker_clusters_alive": len(alive),
        "worker_processes_alive": sum(c["workers"] for c in alive),
        "worker_clusters": clusters,
        "jobs_requeued_after_worker_loss_last_hour": workers.requeued_after_loss_count(since=now - timedelta(hours=1)),
    }
