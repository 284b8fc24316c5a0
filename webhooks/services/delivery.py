"""Queueing and re-sending deliveries: the dispatcher, redelivery, recovery,
and the synchronous verification and test sends (docs/webhooks.md). One attempt
itself is ``webhooks.services.attempts``."""

from __future__ import annotations

import secrets
from datetime import timedelta

from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from core.errors import invalid_state
from quotas.outbound_waits import outbound_wait
from webhooks.models import (
    VERIFICATION_EVENT,
    Delivery,
    DeliveryKind,
    DeliveryStatus,
    Event,
    TargetKind,
    WebhookEndpoint,
)
from webhooks.services import endpoints as endpoint_services
from webhooks.services.attempts import attempt_delivery, due
from webhooks.services.events import create_event
from webhooks.services.queue import enqueue_delivery

# A queued task not run after this long is presumed lost and queued again.
REQUEUE_AFTER = timedelta(minutes=5)


# --------------------------------------------------------------------------- dispatcher


def dispatch_due(now=None, batch: int = 1000) -> dict:
    """The periodic sweep (every minute): queues every due delivery that has
    no live task (retries past the short-delay window, tasks lost in a crash,
    claims whose worker died), and auto-disables endpoints failing for 5 days."""
    now = now or timezone.now()
    not_queued = Q(enqueued_at__isnull=True) | Q(enqueued_at__lt=now - REQUEUE_AFTER)
    ids = list(
        Delivery.objects.filter(due(now) & not_queued).order_by("created_at").values_list("pk", flat=True)[:batch]
    )
    if ids:
        Delivery.objects.filter(pk__in=ids).update(enqueued_at=now)
        for delivery_id in ids:
            enqueue_delivery(delivery_id)
    disabled = endpoint_services.disable_failing_endpoints(now)
    return {"queued": len(ids), "disabled": disabled}


# --------------------------------------------------------------------------- manual sends


def redeliver(delivery: Delivery) -> Delivery:
    """Sends the delivery again (any final status), with a fresh retry
    schedule; queued after commit. 422 while an attempt is in flight."""
    now = timezone.now()
    with transaction.atomic():
        updated = (
            Delivery.objects.filter(pk=delivery.pk)
            .exclude(status=DeliveryStatus.SENDING, claimed_until__gte=now)
            .update(
                status=DeliveryStatus.PENDING,
                next_attempt_at=now,
                enqueued_at=now,
                claimed_until=None,
                retry_base=F("attempt_count"),
            )
        )
        if not updated:
            raise invalid_state(f"Delivery {delivery.pk} is being sent right now; try again in a minute")
        transaction.on_commit(lambda: enqueue_delivery(delivery.pk))
    delivery.refresh_from_db()
    return delivery


def recover(endpoint: WebhookEndpoint, since) -> list[str]:
    """Re-sends every failed delivery to the endpoint created at or after
    ``since`` (retries pending or exhausted alike); returns their ids."""
    now = timezone.now()
    with transaction.atomic():
        ids = list(
            Delivery.objects.filter(endpoint=endpoint, status=DeliveryStatus.FAILED, created_at__gte=since)
            .order_by("created_at")
            .values_list("pk", flat=True)
        )
        # status=FAILED again: a worker may have claimed one meanwhile.
        Delivery.objects.filter(pk__in=ids, status=DeliveryStatus.FAILED).update(
            status=DeliveryStatus.PENDING,
            next_attempt_at=now,
            enqueued_at=now,
            retry_base=F("attempt_count"),
        )
        transaction.on_commit(lambda: [enqueue_delivery(pk) for pk in ids])
    return ids


def _send_now(event: Event, endpoint: WebhookEndpoint, kind: str) -> Delivery:
    now = timezone.now()
    delivery = Delivery.objects.create(
        event=event,
        account_id=endpoint.account_id,
        livemode=endpoint.livemode,
        event_type=event.type,
        target=TargetKind.ENDPOINT,
        endpoint=endpoint,
        url=endpoint.url,
        kind=kind,
        next_attempt_at=now,
        enqueued_at=now,  # sent right here, never by the dispatcher
        created_at=now,
    )
    attempt_delivery(delivery.pk)
    delivery.refresh_from_db()
    return delivery


def verify_endpoint(endpoint: WebhookEndpoint) -> Delivery:
    """Sends ``webhook.verification`` with a random challenge, synchronously
    (one attempt, at most the webhook timeout). A 2xx makes the endpoint
    verified; a failure leaves its status as it was. Returns the delivery.
    Counts as one of the account's outbound waits (429 RATE_LIMITED beyond
    the cap, before anything is written)."""
    with outbound_wait(endpoint.account_id):
        event = create_event(
            account_id=endpoint.account_id,
            livemode=endpoint.livemode,
            event_type=VERIFICATION_EVENT,
            data={"challenge": secrets.token_urlsafe(24), "webhook_id": endpoint.id},
            sample=True,
        )
        delivery = _send_now(event, endpoint, DeliveryKind.VERIFICATION)
    if delivery.status == DeliveryStatus.DELIVERED:
        endpoint_services.mark_verified(endpoint)
    return delivery


def send_test_event(endpoint: WebhookEndpoint, event_type: str) -> Delivery:
    """Sends a sample ``event_type`` event to this endpoint only, now, once
    (whatever its status). The sample's data is marked ``"sample": true``.
    Counts as one of the account's outbound waits, as verify_endpoint."""
    from webhooks.samples import sample_data

    with outbound_wait(endpoint.account_id):
        event = create_event(
            account_id=endpoint.account_id,
            livemode=endpoint.livemode,
            event_type=event_type,
            data=sample_data(event_type, endpoint),
            sample=True,
        )
        return _send_now(event, endpoint, DeliveryKind.TEST)
