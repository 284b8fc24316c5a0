"""Idempotency-Key for POST /jobs (docs/jobs.md), the way Stripe does it.

The same key with the same body within 24 h gets the first response again
(status and body, plus `Idempotent-Replayed: true`) and creates nothing; the
same key with another body is 422 IDEMPOTENCY_KEY_REUSED. Keys belong to an
account and environment. Only a successful create is remembered: a request
that failed (validation, quota, duplicate name) may be retried with its key.

Concurrency: the key row is inserted inside the create transaction, before
anything else. A concurrent twin blocks on the unique index until the first
commits, then sees the IntegrityError and replays the stored response (or,
when the first rolled back, proceeds itself).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from core.errors import ApplicationError, ValidationFailed
from jobs.models import IdempotencyKey

LIFETIME = timedelta(hours=24)
HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 255


@dataclass(frozen=True)
class IdempotencyRequest:
    key: str
    fingerprint: str


@dataclass(frozen=True)
class Replay:
    status: int
    body: dict


class ReplayInstead(Exception):
    """Raised inside create_job when a twin request with the key committed first."""

    def __init__(self, replay: Replay):
        super().__init__("replay")
        self.replay = replay


def request_for(key: str | None, *, method: str, path: str, body) -> IdempotencyRequest | None:
    """Parses the header value; None when absent. A bad key is a 400."""
    if key is None:
        return None
    if not key.strip() or len(key) > MAX_KEY_LENGTH:
        raise ValidationFailed({HEADER: [f"Must be 1 to {MAX_KEY_LENGTH} characters"]})
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    digest = hashlib.sha256(f"{method} {path}\n{canonical}".encode()).hexdigest()
    return IdempotencyRequest(key=key, fingerprint=digest)


def _reused() -> ApplicationError:
    return ApplicationError(
        422,
        "IDEMPOTENCY_KEY_REUSED",
        "This Idempotency-Key was already used with a different request body. Use a new key for a new request",
    )


def _live_row(account, livemode: bool, key: str) -> IdempotencyKey | None:
    return IdempotencyKey.objects.filter(
        account=account, livemode=livemode, key=key, created_at__gte=timezone.now() - LIFETIME,
        response_status__isnull=False,
    ).first()


def find_replay(account, livemode: bool, request: IdempotencyRequest | None) -> Replay | None:
    """The stored response for this key and body, None when there is none
    yet; raises 422 IDEMPOTENCY_KEY_REUSED for the key with another body."""
    if request is None:
        return None
    row = _live_row(account, livemode, request.key)
    if row is None:
        return None
    if row.fingerprint != request.fingerprint:
        raise _reused()
    return Replay(status=row.response_status, body=row.response_body)


def claim(account, livemode: bool, request: IdempotencyRequest | None) -> IdempotencyKey | None:
    """Inserts the key row at the start of the create transaction (see the
    module docstring). Raises ReplayInstead or 422 when a twin got there first."""
    if request is None:
        return None
    # A row past its 24 h is forgotten: the key may be used afresh.
    IdempotencyKey.objects.filter(
        account=account, livemode=livemode, key=request.key, created_at__lt=timezone.now() - LIFETIME
    ).delete()
    try:
        with transaction.atomic():
            return IdempotencyKey.objects.create(
                account=account, livemode=livemode, key=request.key, fingerprint=request.fingerprint
            )
    except IntegrityError:
        replay = find_replay(account, livemode, request)
        if replay is None:  # pragma: no cover - the twin committed a row without a response
            raise _reused() from None
        raise ReplayInstead(replay) from None


def remember(row: IdempotencyKey | None, *, status: int, body: dict, job=None) -> None:
    if row is None:
        return
    IdempotencyKey.objects.filter(pk=row.pk).update(response_status=status, response_body=body, job=job)


def prune_expired() -> int:
    deleted, _ = IdempotencyKey.objects.filter(created_at__lt=timezone.now() - LIFETIME).delete()
    return deleted
