"""Event emission: the outbox (docs/webhooks.md).

``emit_*`` writes one Event row and one Delivery row per target in the
caller's transaction, and queues the deliveries with ``transaction.on_commit``.
A rolled-back change therefore sends nothing, and a crash between commit and
queueing loses nothing: the dispatcher queues every due delivery whose task
was never created (``enqueued_at`` long past).

Targets: every verified, active endpoint of the account and environment that
subscribes to the event, plus (job events) the job's own ``webhook_url``,
signed with the account's default secret. Subscribed endpoints that are
unverified or disabled get a ``skipped`` Delivery with the reason, so
"webhooks not firing" shows in the logs.
"""

from __future__ import annotations

import json
from functools import partial

from django.db import transaction
from django.utils import timezone

from core.ids import new_event_id
from core.timefmt import iso
from webhooks.models import (
    ACCOUNT_EVENTS,
    JOB_EVENTS,
    Delivery,
    DeliveryStatus,
    EndpointStatus,
    Event,
    TargetKind,
    WebhookEndpoint,
)
from webhooks.services.queue import enqueue_deliveries


def payload_body(*, event_id: str, event_type: str, created_at, livemode: bool, data: dict) -> str:
    """The JSON body every target receives, serialised once."""
    payload = {"id": event_id, "event": event_type, "created_at": iso(created_at), "livemode": livemode, "data": data}
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False)


def create_event(
    *, account_id: str, livemode: bool, event_type: str, data: dict, job_id: str | None = None, sample: bool = False
) -> Event:
    """Writes the Event row (no deliveries). ``sample``: a verification or
    test send, kept for its delivery log but not listed by GET /events."""
    event_id, now = new_event_id(), timezone.now()
    body = payload_body(event_id=event_id, event_type=event_type, created_at=now, livemode=livemode, data=data)
    return Event.objects.create(
        id=event_id, account_id=account_id, livemode=livemode, type=event_type, job_id=job_id, body=body,
        created_at=now, sample=sample,
    )


def skip_reason(endpoint: WebhookEndpoint) -> str | None:
    """Why ``endpoint`` must not receive events now, or None when it may."""
    if not endpoint.active:
        return f"Endpoint is disabled: {endpoint.disabled_reason or 'deactivated'}"
    if endpoint.status != EndpointStatus.VERIFIED:
        return f"Endpoint is unverified: POST /account/webhooks/{endpoint.id}/verify"
    return None


def _endpoint_deliveries(event: Event, exclude_endpoint_ids=()) -> list[Delivery]:
    endpoints = WebhookEndpoint.objects.filter(account_id=event.account_id, livemode=event.livemode).exclude(
        pk__in=list(exclude_endpoint_ids)
    )
    deliveries = []
    for endpoint in endpoints:
        if not endpoint.subscribes_to(event.type):
            continue
        reason = skip_reason(endpoint)
        deliveries.append(_delivery(event, TargetKind.ENDPOINT, endpoint.url, endpoint=endpoint, skipped=reason))
    return deliveries


def _delivery(event: Event, target: str, url: str, *, endpoint=None, skipped: str | None = None) -> Delivery:
    now = timezone.now()
    delivery = Delivery(
        event=event,
        account_id=event.account_id,
        livemode=event.livemode,
        event_type=event.type,
        target=target,
        endpoint=endpoint,
        url=url,
        created_at=now,
    )
    if skipped:
        delivery.status, delivery.error = DeliveryStatus.SKIPPED, skipped[:500]
    else:
        # enqueued_at: the on_commit callback below creates the task.
        delivery.status, delivery.next_attempt_at, delivery.enqueued_at = DeliveryStatus.PENDING, now, now
    return delivery


def _save_and_enqueue(deliveries: list[Delivery]) -> list[Delivery]:
    Delivery.objects.bulk_create(deliveries)
    due = [d.id for d in deliveries if d.status == DeliveryStatus.PENDING]
    if due:
        transaction.on_commit(partial(enqueue_deliveries, due))
    return deliveries


def emit_job_event(job, event_type: str, data: dict) -> Event:
    """Records `event_type` (job.processing/completed/failed/cancelled) for `job`
    with the payload ``data`` the jobs layer built (the job as the API shows
    it, its output_url valid for the whole retry window): webhooks know the
    job only by the attributes they route on (account, environment, id,
    ``webhook_url``).

    Call inside the transaction that changes the job's state. Side effects: one
    Event row, one Delivery row per target, delivery tasks queued on commit.
    """
    if event_type not in JOB_EVENTS:
        raise ValueError(f"Not a job event: {event_type!r}")
    event = create_event(
        account_id=job.account_id, livemode=job.livemode, event_type=event_type,
        data=data, job_id=job.id,
    )
    deliveries = _endpoint_deliveries(event)
    if getattr(job, "webhook_url", None):
        deliveries.append(_delivery(event, TargetKind.JOB_URL, job.webhook_url))
    _save_and_enqueue(deliveries)
    return event


def emit_account_event(account, *, livemode: bool, event_type: str, data: dict, exclude_endpoint_ids=()) -> Event:
    """Records an account-level event (quota.warning, webhook.disabled) for the
    account's endpoints in that environment (minus ``exclude_endpoint_ids``).

    Same contract as emit_job_event: call it inside the transaction of the
    change it reports; deliveries are queued on commit.
    """
    if event_type not in ACCOUNT_EVENTS:
        raise ValueError(f"Not an account event: {event_type!r}")
    account_id = getattr(account, "pk", account)
    event = create_event(account_id=account_id, livemode=livemode, event_type=event_type, data=data)
    _save_and_enqueue(_endpoint_deliveries(event, exclude_endpoint_ids))
    return event
