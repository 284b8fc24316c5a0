"""One delivery attempt: claim, POST, record, schedule the retry (docs/webhooks.md).

``attempt_delivery(delivery_id)`` (the ``webhooks.tasks.deliver`` task):

1. Claim with one conditional UPDATE (due pending/failed row, or a
   ``sending`` row whose lease ran out because its worker died). The row
   count says who won, so two workers never send the same attempt at once.
2. Sign (at send time: rotated secrets apply to retries, timestamps are
   fresh) and POST through ``core.outbound.post`` (SSRF rules, no
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
import time
from dataclasses import dataclass
from datetime import timedelta
from http import HTTPStatus

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from core import metrics, outbound
from core.version import VERSION
from webhooks import signing
from webhooks.models import (
    Delivery,
    DeliveryAttempt,
    DeliveryKind,
    DeliveryStatus,
    TargetKind,
    WebhookEndpoint,
)
from webhooks.services import endpoints as endpoint_services
from webhooks.services.events import skip_reason
from webhooks.services.queue import enqueue_delivery, queues_directly

logger = logging.getLogger(__name__)

USER_AGENT = f"AIPROD-Webhooks/{VERSION}"
JITTER = 0.1  # a retry waits up to 10 % longer than its step
RETRY_AFTER_STATUSES = (429, 503)
BACKOFF_MIN, BACKOFF_MAX = timedelta(seconds=30), timedelta(minutes=10)


# --------------------------------------------------------------------------- settings
# Read at call time (tests override them); types and defaults: aiprod/settings.py.


def timeout_seconds() -> float:
    return settings.AIPROD_WEBHOOK_TIMEOUT


def lease() -> timedelta:
    # Longer than any attempt can take, or a slow but live worker would be
    # overtaken by a second one.
    configured = settings.AIPROD_WEBHOOK_LEASE_SECONDS
    return timedelta(seconds=max(configured, timeout_seconds() * 2 + 5))


def retry_schedule() -> list[float]:
    return list(settings.AIPROD_WEBHOOK_RETRY_SCHEDULE)


def retry_after_cap() -> float:
    return settings.AIPROD_WEBHOOK_RETRY_AFTER_MAX


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
    failure: outbound.Kind | None = None  # what went wrong when no HTTP answer came


def due(now) -> Q:
    return Q(status__in=[DeliveryStatus.PENDING, DeliveryStatus.FAILED], next_attempt_at__lte=now) | Q(
        status=DeliveryStatus.SENDING, claimed_until__lt=now
    )


def claim(delivery_id: str, now=None) -> bool:
    """Takes the next attempt of a due delivery for this worker (lease-bound).
    True when this caller won; the attempt counter is bumped in the same UPDATE."""
    now = now or timezone.now()
    return bool(
        Delivery.objects.filter(due(now), pk=delivery_id).update(
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
    metrics.webhook_attempt(outcome.status, outcome.duration_ms)
    logger.info("delivery %s attempt %s: %s", delivery.pk, delivery.attempt_count, outcome.status, extra={
        "event": "webhook.attempt", "duration_ms": outcome.duration_ms, "account_id": delivery.account_id,
        "job_id": delivery.event.job_id, "fields": {"delivery_id": delivery.pk, "outcome": outcome.status},
    })
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


def _secrets(delivery: Delivery) -> tuple[str, list[str]]:
    """The secret that signs this attempt, and any previous one still in its rotation overlap."""
    if delivery.target == TargetKind.JOB_URL:
        return endpoint_services.signing_secrets(endpoint_services.default_secret(delivery.account_id, delivery.livemode))
    return endpoint_services.signing_secrets(delivery.endpoint)


def headers_for(delivery: Delivery, body: bytes, secret: str, timestamp: int | None = None,
                previous_secrets=()) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-AIPROD-Event": delivery.event_type,
        "X-AIPROD-Delivery": delivery.id,
        "X-AIPROD-Attempt": str(delivery.attempt_count),
        **signing.sign(secret, body, msg_id=delivery.event_id, timestamp=timestamp, previous_secrets=previous_secrets),
    }


def _skip(delivery: Delivery) -> str | None:
    if delivery.target != TargetKind.ENDPOINT:
        return None  # jobs' own URLs always go out
    if delivery.endpoint is None:
        return "Endpoint was deleted"  # also for a test/verify send redelivered after the delete
    if delivery.kind != DeliveryKind.EVENT:
        return None  # explicit verify/test sends go out whatever the endpoint's status
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
    if value.isascii() and value.isdigit():  # isdigit() alone accepts "²", which float() refuses
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
    secret, previous = _secrets(delivery)
    headers = headers_for(delivery, body, secret, previous_secrets=previous)
    started = time.monotonic()
    try:
        result = outbound.post(url, body, headers, timeout=timeout_seconds(), max_response_bytes=1024)
    except outbound.OutboundError as exc:
        # How long a timeout or refusal took is part of the attempt's log.
        elapsed_ms = int((time.monotonic() - started) * 1000)
        return Outcome(DeliveryStatus.FAILED, error=exc.message, permanent=exc.permanent, duration_ms=elapsed_ms,
                       failure=exc.kind)
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
            if outcome.failure == outbound.Kind.TIMEOUT:  # a slow receiver: hold its other deliveries back
                endpoints.update(backoff_until=now + _backoff_window(delivery.endpoint, now))
            else:  # it answered (or refused at once): no reason to hold others back
                endpoints.filter(backoff_until__isnull=False).update(backoff_until=None)
    if delivery.endpoint_id and outcome.gone and delivery.target == TargetKind.ENDPOINT:
        endpoint_services.deactivate(delivery.endpoint_id, endpoint_services.GONE_REASON)
    elif delivery.endpoint_id and outcome.status == DeliveryStatus.FAILED:
        endpoint_services.disable_if_failing(delivery.endpoint_id, now)
    if current and queue_now:
        enqueue_delivery(delivery.pk, delay)
