"""Sending deliveries: claim, POST, record, retry (SPEC §10).

One attempt = ``attempt_delivery(delivery_id)``:

1. Claim with one conditional UPDATE (due pending/failed row, or a
   ``sending`` row whose lease ran out because its worker died). The row
   count says who won, so two workers never send the same attempt at once.
2. Sign (at send time: rotated secrets apply to retries, timestamps are
   fresh) and POST through ``aiprod.outbound.post`` (SSRF rules, no
   redirects, one deadline for the whole exchange).
3. Record a DeliveryAttempt and finish the row with a conditional UPDATE
   (only if our claim is still the current one).
4. Schedule the retry, or deactivate on 410, or auto-disable after 5 days.

At-least-once: a worker killed between 2 and 3 leaves the row ``sending``;
after the lease the dispatcher queues it again and it is sent again with the
same event id (receivers dedupe on it).
"""

from __future__ import annotations

import email.utils
import logging
import random
import secrets
from dataclasses import dataclass
from datetime import timedelta
from http import HTTPStatus

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from aiprod import outbound
from aiprod.errors import invalid_state
from aiprod.version import VERSION
from webhooks import signing
from webhooks.models import (
    VERIFICATION_EVENT,
    Delivery,
    DeliveryAttempt,
    DeliveryKind,
    DeliveryStatus,
    Event,
    TargetKind,
    WebhookEndpoint,
)
from webhooks.services import endpoints as endpoint_services
from webhooks.services.events import create_event, skip_reason
from webhooks.services.queue import enqueue_delivery, queues_directly

logger = logging.getLogger(__name__)

USER_AGENT = f"AIPROD-Webhooks/{VERSION}"
DEFAULT_RETRY_SCHEDULE = (0, 5, 300, 1800, 7200, 18000, 36000, 36000)
JITTER = 0.1  # a retry waits up to 10 % longer than its step
RETRY_AFTER_STATUSES = (429, 503)
REQUEUE_AFTER = timedelta(minutes=5)
SLOW_FAILURES = ("Response timeout", "Connection timeout")  # outbound.post's wording
BACKOFF_MIN, BACKOFF_MAX = timedelta(seconds=30), timedelta(minutes=10)


# --------------------------------------------------------------------------- settings


def timeout_seconds() -> float:
    return float(getattr(settings, "AIPROD_WEBHOOK_TIMEOUT", 10))


def lease() -> timedelta:
    # Longer than any attempt can take, or a slow but live worker would be
    # overtaken by a second one.
    configured = float(getattr(settings, "AIPROD_WEBHOOK_LEASE_SECONDS", 60))
    return timedelta(seconds=max(configured, timeout_seconds() * 2 + 5))


def retry_schedule() -> list[float]:
    return [float(s) for s in getattr(settings, "AIPROD_WEBHOOK_RETRY_SCHEDULE", DEFAULT_RETRY_SCHEDULE)]


def retry_after_cap() -> float:
    return float(getattr(settings, "AIPROD_WEBHOOK_RETRY_AFTER_MAX", 3600))


# --------------------------------------------------------------------------- one attempt


@dataclass
class Outcome:
    status: str  # delivered, failed or skipped
    response_code: int | None = None
    error: str = ""
    duration_ms: int = 0
    response_body: str = ""
    permanent: bool = False  # retrying cannot help
    retry_after: float | None = None
    gone: bool = False  # 410: the receiver says the endpoint is gone for good


def _due(now) -> Q:
    return Q(status__in=[DeliveryStatus.PENDING, DeliveryStatus.FAILED], next_attempt_at__lte=now) | Q(
        status=DeliveryStatus.SENDING, claimed_until__lt=now
    )


def claim(delivery_id: str, now=None) -> bool:
    """Takes the next attempt of a due delivery for this worker (lease-bound).
    True when this caller won; the attempt counter is bumped in the same UPDATE."""
    now = now or timezone.now()
    return bool(
        Delivery.objects.filter(_due(now), pk=delivery_id).update(
            status=DeliveryStatus.SENDING,
            claimed_until=now + lease(),
            attempt_count=F("attempt_count") + 1,
            next_attempt_at=None,
            enqueued_at=None,
            last_attempt_at=now,
        )
    )


def attempt_delivery(delivery_id: str) -> str | None:
    """Claims, sends and records one attempt; returns its status, "deferred"
    when the endpoint is backing off after a timeout (no attempt counted), or
    None when the delivery was not due (already sent, claimed by another worker)."""
    if not claim(delivery_id):
        return None
    delivery = Delivery.objects.select_related("event", "endpoint").get(pk=delivery_id)
    wait_until = _backoff(delivery) if _skip(delivery) is None else None
    if wait_until is not None:
        _release(delivery, wait_until)
        return "deferred"
    try:
        outcome = _send(delivery)
    except Exception:
        # A bug, not the receiver: leave the claim to expire so the
        # dispatcher retries, and let django-q2 record the traceback.
        logger.exception("Webhook delivery %s crashed", delivery_id)
        raise
    _record(delivery, outcome)
    return outcome.status


def _backoff(delivery: Delivery):
    """The time this event delivery must wait for, while its endpoint backs
    off after a timed-out attempt; None to send now. When the backoff is
    over, exactly one delivery (the winner of a conditional update) probes the
    endpoint, so a dead receiver holds one worker per window, not one per event."""
    endpoint = delivery.endpoint
    if delivery.kind != DeliveryKind.EVENT or endpoint is None or endpoint.backoff_until is None:
        return None
    now = timezone.now()
    if endpoint.backoff_until > now:
        return endpoint.backoff_until
    probe_until = now + lease()
    took_probe = WebhookEndpoint.objects.filter(pk=endpoint.pk, backoff_until=endpoint.backoff_until).update(
        backoff_until=probe_until
    )
    return None if took_probe else probe_until


def _release(delivery: Delivery, until) -> None:
    """Gives the claim back without counting an attempt; the delivery waits until ``until``."""
    now = timezone.now()
    delay = max(0.0, (until - now).total_seconds())
    queue_now = queues_directly(delay)
    released = Delivery.objects.filter(
        pk=delivery.pk, status=DeliveryStatus.SENDING, attempt_count=delivery.attempt_count
    ).update(
        status=DeliveryStatus.FAILED if delivery.error else DeliveryStatus.PENDING,
        attempt_count=F("attempt_count") - 1,
        claimed_until=None,
        next_attempt_at=until,
        enqueued_at=now if queue_now else None,
    )
    if released and queue_now:
        enqueue_delivery(delivery.pk, delay)


def _backoff_window(endpoint: WebhookEndpoint, now) -> timedelta:
    # Grows with the failure run: 30 s after the first timeout, 10 min for a
    # receiver that has been failing for 10 min or more.
    age = now - (endpoint.failing_since or now)
    return min(max(age, BACKOFF_MIN), BACKOFF_MAX)


def _secret(delivery: Delivery) -> str:
    if delivery.target == TargetKind.JOB_URL:
        return endpoint_services.default_secret(delivery.account_id, delivery.livemode).secret
    return delivery.endpoint.secret


def headers_for(delivery: Delivery, body: bytes, secret: str, timestamp: int | None = None) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-AIPROD-Event": delivery.event_type,
        "X-AIPROD-Delivery": delivery.id,
        "X-AIPROD-Attempt": str(delivery.attempt_count),
        **signing.sign(secret, body, msg_id=delivery.event_id, timestamp=timestamp),
    }


def _skip(delivery: Delivery) -> str | None:
    if delivery.target != TargetKind.ENDPOINT or delivery.kind != DeliveryKind.EVENT:
        return None  # jobs' own URLs, and explicit verify/test sends, always go out
    if delivery.endpoint is None:
        return "Endpoint was deleted"
    return skip_reason(delivery.endpoint)


def _http_error(code: int) -> str:
    try:
        return f"{code} {HTTPStatus(code).phrase}"
    except ValueError:
        return f"HTTP {code}"


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None or when.tzinfo is None:
        return None
    return max(0.0, (when - timezone.now()).total_seconds())


def _send(delivery: Delivery) -> Outcome:
    reason = _skip(delivery)
    if reason:
        return Outcome(DeliveryStatus.SKIPPED, error=reason, permanent=True)
    url = delivery.endpoint.url if delivery.endpoint is not None else delivery.url
    body = delivery.event.body.encode("utf-8")
    headers = headers_for(delivery, body, _secret(delivery))
    try:
        result = outbound.post(url, body, headers, timeout=timeout_seconds(), max_response_bytes=1024)
    except outbound.OutboundError as exc:
        return Outcome(DeliveryStatus.FAILED, error=exc.message, permanent=exc.permanent)
    code = result.status_code
    text = result.body_prefix.decode("utf-8", "replace").replace("\x00", "")
    outcome = Outcome(DeliveryStatus.FAILED, response_code=code, duration_ms=result.duration_ms, response_body=text)
    if 200 <= code < 300:
        outcome.status = DeliveryStatus.DELIVERED
    elif 300 <= code < 400:
        outcome.error = f"Redirects are not followed (HTTP {code})"
    else:
        outcome.error = _http_error(code)
        outcome.gone = code == 410
        if code in RETRY_AFTER_STATUSES:
            outcome.retry_after = _retry_after(result.headers.get("Retry-After"))
    return outcome


def _retry_delay(delivery: Delivery, outcome: Outcome) -> float | None:
    """Seconds until the next attempt, or None when this was the last one."""
    if outcome.status != DeliveryStatus.FAILED or outcome.permanent or outcome.gone:
        return None
    if delivery.kind != DeliveryKind.EVENT:
        return None
    schedule = retry_schedule()
    step = delivery.attempt_count - delivery.retry_base - 1  # retries already used
    if step >= len(schedule):
        return None
    delay = schedule[step]
    if delay > 0:
        delay *= 1 + random.uniform(0, JITTER)
    if outcome.retry_after is not None:
        delay = max(delay, min(outcome.retry_after, retry_after_cap()))
    return delay


def _record(delivery: Delivery, outcome: Outcome) -> None:
    now = timezone.now()
    delay = _retry_delay(delivery, outcome)
    queue_now = delay is not None and queues_directly(delay)
    with transaction.atomic():
        DeliveryAttempt.objects.create(
            delivery=delivery,
            number=delivery.attempt_count,
            url=delivery.endpoint.url if delivery.endpoint is not None else delivery.url,
            status=outcome.status,
            response_code=outcome.response_code,
            error=outcome.error[:500],
            duration_ms=outcome.duration_ms,
            response_body=outcome.response_body,
            created_at=now,
        )
        changes = dict(
            status=outcome.status,
            claimed_until=None,
            response_code=outcome.response_code,
            error=outcome.error[:500],
            duration_ms=outcome.duration_ms,
            next_attempt_at=now + timedelta(seconds=delay) if delay is not None else None,
            enqueued_at=now if queue_now else None,
        )
        if outcome.status == DeliveryStatus.DELIVERED:
            changes["delivered_at"] = now
        # Only while our claim is the current one: a worker that outlived its
        # lease must not overwrite the newer attempt's result.
        current = Delivery.objects.filter(
            pk=delivery.pk, status=DeliveryStatus.SENDING, attempt_count=delivery.attempt_count
        ).update(**changes)
        if delivery.endpoint is not None and outcome.status != DeliveryStatus.SKIPPED:
            endpoint_services.record_outcome(
                delivery.endpoint_id, succeeded=outcome.status == DeliveryStatus.DELIVERED, at=now
            )
            endpoints = WebhookEndpoint.objects.filter(pk=delivery.endpoint_id)
            if outcome.error in SLOW_FAILURES:
                endpoints.update(backoff_until=now + _backoff_window(delivery.endpoint, now))
            else:  # it answered (or refused at once): no reason to hold others back
                endpoints.filter(backoff_until__isnull=False).update(backoff_until=None)
    if delivery.endpoint_id and outcome.gone and delivery.target == TargetKind.ENDPOINT:
        endpoint_services.deactivate(delivery.endpoint_id, endpoint_services.GONE_REASON)
    elif delivery.endpoint_id and outcome.status == DeliveryStatus.FAILED:
        endpoint_services.disable_if_failing(delivery.endpoint_id, now)
    if current and queue_now:
        enqueue_delivery(delivery.pk, delay)


# --------------------------------------------------------------------------- dispatcher


def dispatch_due(now=None, batch: int = 1000) -> dict:
    """The periodic sweep (every minute): queues every due delivery that has
    no live task (retries past the short-delay window, tasks lost in a crash,
    claims whose worker died), and auto-disables endpoints failing for 5 days."""
    now = now or timezone.now()
    not_queued = Q(enqueued_at__isnull=True) | Q(enqueued_at__lt=now - REQUEUE_AFTER)
    ids = list(
        Delivery.objects.filter(_due(now) & not_queued).order_by("created_at").values_list("pk", flat=True)[:batch]
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
    verified; a failure leaves its status as it was. Returns the delivery."""
    event = create_event(
        account_id=endpoint.account_id,
        livemode=endpoint.livemode,
        event_type=VERIFICATION_EVENT,
        data={"challenge": secrets.token_urlsafe(24), "webhook_id": endpoint.id},
    )
    delivery = _send_now(event, endpoint, DeliveryKind.VERIFICATION)
    if delivery.status == DeliveryStatus.DELIVERED:
        endpoint_services.mark_verified(endpoint)
    return delivery


def send_test_event(endpoint: WebhookEndpoint, event_type: str) -> Delivery:
    """Sends a sample ``event_type`` event to this endpoint only, now, once
    (whatever its status). The sample's data is marked ``"sample": true``."""
    from webhooks.samples import sample_data

    event = create_event(
        account_id=endpoint.account_id,
        livemode=endpoint.livemode,
        event_type=event_type,
        data=sample_data(event_type, endpoint),
    )
    return _send_now(event, endpoint, DeliveryKind.TEST)
