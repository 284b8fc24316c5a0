"""Reads for webhooks: endpoints, their latest deliveries, a job's delivery
history, and the account's events (GET /events)."""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta

from django.conf import settings
from django.db.models import F, Window
from django.db.models.functions import RowNumber
from django.utils import timezone

from core.errors import ValidationFailed
from core.fields import unknown_choice
from core.timefmt import filter_created_between, iso
from webhooks.models import SUBSCRIBABLE_EVENTS, Delivery, DeliveryAttempt, DeliveryStatus, Event, WebhookEndpoint

LOGS_PER_ENDPOINT = 20


def endpoints_for(account_id: str, livemode: bool):
    return WebhookEndpoint.objects.filter(account_id=account_id, livemode=livemode)


def latest_deliveries(endpoint_ids: list[str], per_endpoint: int = LOGS_PER_ENDPOINT) -> dict[str, list[Delivery]]:
    """The newest ``per_endpoint`` deliveries of each endpoint, newest first,
    in ONE query (a window function), however many endpoints are listed."""
    if not endpoint_ids:
        return {}
    rows = (
        Delivery.objects.filter(endpoint_id__in=endpoint_ids)
        .annotate(
            rank=Window(
                RowNumber(), partition_by=[F("endpoint_id")], order_by=[F("created_at").desc(), F("id").desc()]
            )
        )
        .filter(rank__lte=per_endpoint)
        .order_by("endpoint_id", "rank")
    )
    grouped: dict[str, list[Delivery]] = defaultdict(list)
    for row in rows:
        grouped[row.endpoint_id].append(row)
    return grouped


def attempts_of(delivery: Delivery):
    return DeliveryAttempt.objects.filter(delivery=delivery).order_by("number", "id")


def deliveries_for_job(job_id: str) -> list[dict]:
    """Every delivery attempt for the job's events, oldest first:
    [{"timestamp", "event", "delivery_id", "status", "response_code", "error", "attempt", "url"}].

    Deliveries never attempted appear once too: ``skipped`` ones with the
    reason in ``error`` (why a webhook did not fire), pending ones with
    attempt 0. Two queries.
    """
    deliveries = list(
        Delivery.objects.filter(event__job_id=job_id).prefetch_related("attempts").order_by("created_at", "id")
    )
    entries = []
    for delivery in deliveries:
        attempts = list(delivery.attempts.all())
        for attempt in attempts:
            entries.append(
                {
                    "timestamp": iso(attempt.created_at),
                    "event": delivery.event_type,
                    "delivery_id": delivery.id,
                    "status": attempt.status,
                    "response_code": attempt.response_code,
                    "error": attempt.error or None,
                    "attempt": attempt.number,
                    "url": attempt.url,
                }
            )
        if not attempts:
            status = delivery.status if delivery.status == DeliveryStatus.SKIPPED else DeliveryStatus.PENDING
            entries.append(
                {
                    "timestamp": iso(delivery.created_at),
                    "event": delivery.event_type,
                    "delivery_id": delivery.id,
                    "status": status,
                    "response_code": None,
                    "error": delivery.error or None,
                    "attempt": 0,
                    "url": delivery.url,
                }
            )
    entries.sort(key=lambda e: e["timestamp"])
    return entries


def event_retention() -> timedelta:
    return timedelta(days=settings.AIPROD_EVENT_RETENTION_DAYS)


def events_for(account_id: str, livemode: bool):
    """The account's events in one environment that GET /events shows: not
    samples (verify/test sends), not past retention even before ``prune``
    has deleted them."""
    since = timezone.now() - event_retention()
    return Event.objects.filter(account_id=account_id, livemode=livemode, sample=False, created_at__gte=since)


def filter_events(queryset, params):
    """Applies GET /events filters: ``type`` (repeatable, any of),
    ``created_after`` (inclusive), ``created_before`` (exclusive)."""
    errors: dict[str, list] = {}
    types = [t for t in params.getlist("type") if t]
    unknown = [t for t in types if t not in SUBSCRIBABLE_EVENTS]
    if unknown:
        errors["type"] = [unknown_choice(SUBSCRIBABLE_EVENTS)]  # the same words as GET /jobs
    elif types:
        queryset = queryset.filter(type__in=types)
    queryset = filter_created_between(queryset, params, errors)
    if errors:
        raise ValidationFailed(errors)
    return queryset


def deliveries_of_event(event: Event) -> list[Delivery]:
    """The event's deliveries, oldest first (one per target)."""
    return list(Delivery.objects.filter(event=event).order_by("created_at", "id"))
