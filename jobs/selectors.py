"""Reads for the jobs API, the admin and the dashboard."""

from __future__ import annotations

import re
from datetime import datetime, time, timezone as dt_timezone

from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from accounts.selectors import request_logs_for_object
from aiprod.errors import ValidationFailed
from aiprod.fields import unknown_choice
from jobs.models import Job, JobStatus, JobTransition
from jobs.serializers import (
    STATUS_CHOICES,
    timeline_entry_delivery,
    timeline_entry_request,
    timeline_entry_transition,
)
from jobs.services import types

# A "+" in an unencoded query string arrives as a space: "...T06:00:00 00:00".
_SPACED_OFFSET = re.compile(r"(T\d\d:\d\d(?::\d\d(?:\.\d+)?)?) (\d\d:?\d\d)$")

STUCK_AFTER_HOURS = 24


def jobs_for(account, *, livemode: bool):
    return Job.objects.filter(account=account, livemode=livemode)


def parse_instant(field: str, raw: str) -> datetime:
    """An ISO 8601 date (its midnight) or datetime from a query string; naive means UTC."""
    value = _SPACED_OFFSET.sub(r"\1+\2", raw.strip())
    try:
        moment = parse_datetime(value)
        if moment is None:
            day = parse_date(value)
            if day is not None:
                moment = datetime.combine(day, time.min)
        if moment is not None:
            if timezone.is_naive(moment):
                moment = moment.replace(tzinfo=dt_timezone.utc)
            # In UTC: PostgreSQL refuses offsets beyond 15:59 that ISO 8601 allows.
            moment = moment.astimezone(dt_timezone.utc)
    except (ValueError, OverflowError):
        moment = None
    if moment is None:
        raise ValidationFailed({field: ["Must be an ISO 8601 date or datetime, e.g. 2026-11-29T06:00:00Z"]})
    return moment


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
    # created_after is inclusive, created_before exclusive: a day's jobs are
    # created_after=2026-11-01&created_before=2026-11-02.
    for field, lookup in (("created_after", "created_at__gte"), ("created_before", "created_at__lt")):
        raw = params.get(field)
        if raw:
            try:
                queryset = queryset.filter(**{lookup: parse_instant(field, raw)})
            except ValidationFailed as exc:
                errors.update(exc.details)
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


def timeline_for(job: Job, *, request_limit: int = 1000) -> list[dict]:
    """Everything that happened to the job, oldest first: API requests that
    touched it, state changes (worker, attempt, reason), webhook attempts."""
    from webhooks.selectors import deliveries_for_job

    entries: list[tuple[datetime, int, dict]] = []
    logs = request_logs_for_object(job.pk).filter(account_id=job.account_id, livemode=job.livemode)
    for log in logs[:request_limit]:
        entries.append((log.created_at, 1, timeline_entry_request(log)))
    for transition in JobTransition.objects.filter(job=job).order_by("at", "id"):
        entries.append((transition.at, 0, timeline_entry_transition(transition)))
    for delivery in deliveries_for_job(job.pk):
        moment = delivery.get("timestamp")
        if isinstance(moment, str):
            moment = parse_datetime(moment.replace("Z", "+00:00"))
        entries.append((moment or job.created_at, 2, timeline_entry_delivery(delivery)))
    entries.sort(key=lambda item: (item[0], item[1]))
    return [entry for _, _, entry in entries]
