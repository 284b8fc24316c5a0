"""Registered webhook endpoints and secrets: create, change, delete, rotate,
deactivate and re-enable (docs/webhooks.md)."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlsplit

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from core import outbound
from core.errors import ApplicationError, ValidationFailed
from core.timefmt import iso
from webhooks.models import SUBSCRIBABLE_EVENTS, DefaultSecret, EndpointStatus, WebhookEndpoint
from webhooks.signing import new_secret

GONE_REASON = "The endpoint answered 410 Gone"
MANUAL_REASON = "Deactivated with PATCH active: false"


def _max_endpoints() -> int:
    return settings.AIPROD_WEBHOOK_MAX_ENDPOINTS


def disable_after() -> timedelta:
    return timedelta(days=settings.AIPROD_WEBHOOK_DISABLE_AFTER_DAYS)


def check_endpoint_url(url: str) -> str:
    """The URL, or a 400 when it is not an http(s) URL at all, or a 422
    INVALID_URL when it is one we refuse to call (not HTTPS, private or
    unresolvable address, as for input URLs)."""
    url = url.strip()
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        parts = None
    if parts is None or parts.scheme.lower() not in ("http", "https") or not parts.hostname or len(url) > 2048:
        raise ValidationFailed({"url": ["Must be a valid HTTPS URL"]})
    try:
        outbound.check_url(url, label="Webhook URL")
    except outbound.OutboundError as exc:
        raise ApplicationError(422, "INVALID_URL", exc.message) from None
    return url


def _events(events: list[str] | None) -> list[str]:
    if not events:
        return list(SUBSCRIBABLE_EVENTS)
    return list(dict.fromkeys(events))  # de-duplicated, order kept


def create_endpoint(account, *, livemode: bool, url: str, events: list[str] | None = None) -> WebhookEndpoint:
    """Registers an unverified endpoint with a fresh secret (events default: all).

    Raises 400/422 on a bad URL, 422 WEBHOOK_LIMIT_REACHED past the per-environment cap.
    """
    url = check_endpoint_url(url)
    limit = _max_endpoints()
    if WebhookEndpoint.objects.filter(account=account, livemode=livemode).count() >= limit:
        raise ApplicationError(
            422,
            "WEBHOOK_LIMIT_REACHED",
            f"An account can register at most {limit} webhook endpoints per environment. Delete one first",
        )
    return WebhookEndpoint.objects.create(
        account=account, livemode=livemode, url=url, events=_events(events), secret=new_secret()
    )


def update_endpoint(endpoint: WebhookEndpoint, *, url=None, events=None, active=None) -> WebhookEndpoint:
    """PATCH semantics. A new URL, or re-enabling, makes the endpoint
    unverified: it must be verified again before it receives events."""
    changes: dict = {}
    if url is not None and url.strip() != endpoint.url:
        changes.update(url=check_endpoint_url(url), status=EndpointStatus.UNVERIFIED, verified_at=None)
    if events is not None:
        changes["events"] = _events(events)
    if active is True and not endpoint.active:
        changes.update(
            active=True, disabled_reason="", failing_since=None, status=EndpointStatus.UNVERIFIED, verified_at=None
        )
    elif active is False and endpoint.active:
        changes.update(active=False, disabled_reason=MANUAL_REASON)
    if changes:
        WebhookEndpoint.objects.filter(pk=endpoint.pk).update(**changes, updated_at=timezone.now())
        endpoint.refresh_from_db()
    return endpoint


def delete_endpoint(endpoint: WebhookEndpoint) -> None:
    """Deletes the endpoint; its deliveries stay in the logs (endpoint set to null)."""
    endpoint.delete()


def rotation_overlap() -> timedelta:
    """How long the secret before a rotation keeps signing (24 h)."""
    return timedelta(hours=settings.AIPROD_WEBHOOK_SECRET_OVERLAP_HOURS)


def _rotated(row) -> dict:
    """The field values that rotate `row`'s secret: a new one, and the
    current one kept as the previous for the overlap (a previous one still
    in its overlap is dropped: only the secret just replaced keeps signing)."""
    now = timezone.now()
    return {
        "secret": new_secret(),
        "previous_secret": row.secret,
        "previous_secret_expires_at": now + rotation_overlap(),
    }


def signing_secrets(row, now=None) -> tuple[str, list[str]]:
    """(secret, previous secrets still inside their overlap) of an endpoint or
    a DefaultSecret. The expiry is compared here, at signing time; a previous
    secret found expired is erased from the row at once (and `prune` erases
    the ones no delivery came to notice: erase_expired_previous_secrets)."""
    now = now or timezone.now()
    expires = row.previous_secret_expires_at
    if row.previous_secret and expires is not None and expires > now:
        return row.secret, [row.previous_secret]
    if row.previous_secret or expires is not None:
        _erase_previous(type(row).objects.filter(pk=row.pk), now)
        row.previous_secret, row.previous_secret_expires_at = "", None
    return row.secret, []


def _erase_previous(rows, now) -> int:
    from django.db.models import Q

    expired = Q(previous_secret_expires_at__lte=now) | Q(previous_secret_expires_at__isnull=True)
    return rows.filter(expired).exclude(previous_secret="", previous_secret_expires_at__isnull=True).update(
        previous_secret="", previous_secret_expires_at=None)


def erase_expired_previous_secrets(now=None) -> int:
    """Erases every previous webhook secret past its rotation overlap (endpoints'
    and the default secrets of jobs' webhook_url): an old secret must not stay
    in the database once it no longer signs. `manage.py prune` calls it.
    Returns how many rows it erased."""
    now = now or timezone.now()
    return _erase_previous(WebhookEndpoint.objects.all(), now) + _erase_previous(DefaultSecret.objects.all(), now)


def rotate_secret(endpoint: WebhookEndpoint) -> WebhookEndpoint:
    """A new secret at once; for 24 h (AIPROD_WEBHOOK_SECRET_OVERLAP_HOURS)
    the old one signs as well, as a second `v1,` signature in
    `webhook-signature`, so receivers can switch without losing deliveries.
    Pending retries included: every attempt is signed when it is sent."""
    changes = _rotated(endpoint)
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(**changes, updated_at=timezone.now())
    for name, value in changes.items():
        setattr(endpoint, name, value)
    return endpoint


def default_secret(account_id: str, livemode: bool) -> DefaultSecret:
    """The secret for jobs' own webhook_url, created on first use (race-safe:
    a unique constraint and ON CONFLICT DO NOTHING)."""
    found = DefaultSecret.objects.filter(account_id=account_id, livemode=livemode).first()
    if found is None:
        DefaultSecret.objects.bulk_create(
            [DefaultSecret(account_id=account_id, livemode=livemode, secret=new_secret())], ignore_conflicts=True
        )
        found = DefaultSecret.objects.get(account_id=account_id, livemode=livemode)
    return found


def rotate_default_secret(account_id: str, livemode: bool) -> DefaultSecret:
    """As rotate_secret, for the secret of jobs' own webhook_url."""
    row = default_secret(account_id, livemode)
    changes = {**_rotated(row), "rotated_at": timezone.now()}
    DefaultSecret.objects.filter(pk=row.pk).update(**changes)
    for name, value in changes.items():
        setattr(row, name, value)
    return row


def mark_verified(endpoint: WebhookEndpoint) -> None:
    now = timezone.now()
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(status=EndpointStatus.VERIFIED, verified_at=now, updated_at=now)
    endpoint.status, endpoint.verified_at = EndpointStatus.VERIFIED, now


def record_outcome(endpoint_id: str, *, succeeded: bool, at) -> None:
    """Tracks the current run of failures (auto-disable needs its start)."""
    rows = WebhookEndpoint.objects.filter(pk=endpoint_id)
    if succeeded:
        rows.filter(failing_since__isnull=False).update(failing_since=None)
    else:
        rows.filter(failing_since__isnull=True).update(failing_since=at)


def deactivate(endpoint_id: str, reason: str) -> bool:
    """Turns an active endpoint off and tells the account's other endpoints
    (a webhook.disabled event). False when it was already inactive: the
    conditional update makes sure only one caller sends the event."""
    from webhooks.serializers import endpoint_data
    from webhooks.services.events import emit_account_event

    with transaction.atomic():
        if not WebhookEndpoint.objects.filter(pk=endpoint_id, active=True).update(
            active=False, disabled_reason=reason[:500], updated_at=timezone.now()
        ):
            return False
        endpoint = WebhookEndpoint.objects.select_related("account").get(pk=endpoint_id)
        emit_account_event(
            endpoint.account,
            livemode=endpoint.livemode,
            event_type="webhook.disabled",
            data=endpoint_data(endpoint),
            exclude_endpoint_ids=[endpoint.id],
        )
    return True


def disable_if_failing(endpoint_id: str, now=None) -> bool:
    """Deactivates the endpoint when every delivery has failed for 5 days
    (the first failure of the current run is older than that)."""
    now = now or timezone.now()
    endpoint = WebhookEndpoint.objects.filter(
        pk=endpoint_id, active=True, failing_since__lte=now - disable_after()
    ).first()
    if endpoint is None:
        return False
    days = disable_after().days or disable_after().total_seconds() / 86400
    return deactivate(
        endpoint.id, f"Every delivery failed for {days:g} days (since {iso(endpoint.failing_since)})"
    )


def disable_failing_endpoints(now=None) -> int:
    """The dispatcher's sweep: auto-disables every endpoint past the limit."""
    now = now or timezone.now()
    ids = WebhookEndpoint.objects.filter(active=True, failing_since__lte=now - disable_after()).values_list(
        "pk", flat=True
    )
    return sum(disable_if_failing(pk, now) for pk in list(ids))
