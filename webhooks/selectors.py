"""Reads for webhooks: endpoints, their latest deliveries, a job's delivery history."""

from __future__ import annotations

from collections import defaultdict

from django.db.models import F, Window
from django.db.models.functions import RowNumber

from aiprod.timefmt import iso
from webhooks.models import Delivery, DeliveryAttempt, DeliveryStatus, WebhookEndpoint

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
