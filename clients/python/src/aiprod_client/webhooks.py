"""Verify (and, for ``aiprod listen``, produce) AIPROD webhook signatures.

Two schemes arrive on every delivery:

* Standard Webhooks (https://www.standardwebhooks.com/): ``webhook-id``,
  ``webhook-timestamp``, ``webhook-signature: v1,<base64>`` (several,
  space-separated, while a secret is being rotated), HMAC-SHA256 keyed with
  the base64-decoded part of ``whsec_...`` over ``"{id}.{timestamp}.{body}"``.
  The timestamp is signed, so refusing stale ones stops replays. This is what
  ``verify`` requires by default.
* AIPROD's own (docs/webhooks.md section 3, kept for compatibility): ``X-AIPROD-Signature:
  sha256=<hex>`` (several, space or comma separated, during rotation),
  HMAC-SHA256 keyed with the whole secret string over the raw body, and
  ``X-AIPROD-Timestamp``, which is NOT covered by the signature: a captured
  delivery replayed with a fresh timestamp still matches. ``verify`` accepts
  it only with ``allow_body_only=True`` (and then only when the Standard
  Webhooks headers are absent).

``secret`` may be a list, for a receiver that rotates its own configuration.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import time
from typing import Any, Dict, Mapping, Optional, Sequence, Union

from aiprod_client.errors import AiprodError

SECRET_PREFIX = "whsec_"
DEFAULT_TOLERANCE = 300

Secrets = Union[str, Sequence[str]]


class WebhookVerificationError(AiprodError):
    """The signature is missing, malformed, stale or does not match."""


def _key(secret: str) -> bytes:
    encoded = secret[len(SECRET_PREFIX):] if secret.startswith(SECRET_PREFIX) else secret
    try:
        return base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise WebhookVerificationError("The secret is not whsec_ followed by base64") from None


def standard_signature(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    signed = f"{msg_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(_key(secret), signed, hashlib.sha256).digest()).decode()


def aiprod_signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def sign(body: bytes, secret: str, *, msg_id: str, timestamp: Optional[int] = None) -> Dict[str, str]:
    """Every signature header for ``body``, as AIPROD sends them."""
    timestamp = int(time.time()) if timestamp is None else int(timestamp)
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": standard_signature(secret, msg_id, timestamp, body),
        "X-AIPROD-Timestamp": str(timestamp),
        "X-AIPROD-Signature": aiprod_signature(secret, body),
    }


def _fresh(raw: Optional[str], tolerance: float, now: Optional[float]) -> int:
    try:
        timestamp = int((raw or "").strip())
    except ValueError:
        raise WebhookVerificationError("Missing or malformed timestamp header") from None
    now = time.time() if now is None else now
    if timestamp < now - tolerance:
        raise WebhookVerificationError(f"Timestamp is older than {tolerance:g} seconds (a replay?)")
    if timestamp > now + tolerance:
        raise WebhookVerificationError(f"Timestamp is more than {tolerance:g} seconds in the future")
    return timestamp


def verify(
    body: Union[bytes, str],
    headers: Mapping[str, str],
    secret: Secrets,
    tolerance: float = DEFAULT_TOLERANCE,
    *,
    now: Optional[float] = None,
    allow_body_only: bool = False,
) -> Any:
    """Checks the delivery and returns its parsed JSON payload; raises
    ``WebhookVerificationError`` otherwise. Pass the raw body bytes exactly as
    received (not re-serialised JSON).

    The Standard Webhooks headers are required. ``allow_body_only=True`` also
    accepts a delivery carrying only ``X-AIPROD-Signature`` (the body-only
    scheme): its timestamp is unsigned, so such a delivery can be replayed
    with a fresh timestamp; opt in only for legacy senders and de-duplicate on
    the event ``id`` yourself."""
    raw = body.encode() if isinstance(body, str) else bytes(body)
    secrets = [secret] if isinstance(secret, str) else list(secret)
    if not secrets:
        raise WebhookVerificationError("No secret to verify with")
    lower = {k.lower(): v for k, v in headers.items()}
    if "webhook-signature" in lower:
        msg_id = lower.get("webhook-id")
        if not msg_id:
            raise WebhookVerificationError("Missing webhook-id header")
        timestamp = _fresh(lower.get("webhook-timestamp"), tolerance, now)
        offered = [p.encode() for p in lower["webhook-signature"].split() if p.startswith("v1,")]
        expected = [standard_signature(s, msg_id, timestamp, raw).encode() for s in secrets]
    elif "x-aiprod-signature" in lower and not allow_body_only:
        raise WebhookVerificationError(
            "Only the body-only X-AIPROD-Signature is present; it does not cover the timestamp, so it can be"
            " replayed. Require the webhook-id/-timestamp/-signature headers, or pass allow_body_only=True"
        )
    elif "x-aiprod-signature" in lower:
        _fresh(lower.get("x-aiprod-timestamp"), tolerance, now)
        offered = [p.encode() for p in lower["x-aiprod-signature"].replace(",", " ").split() if p.startswith("sha256=")]
        expected = [aiprod_signature(s, raw).encode() for s in secrets]
    else:
        raise WebhookVerificationError("No signature header (webhook-id, webhook-timestamp, webhook-signature)")
    if not any(hmac.compare_digest(e, o) for e in expected for o in offered):
        raise WebhookVerificationError("Signature mismatch")
    try:
        return json.loads(raw)
    except ValueError:
        raise WebhookVerificationError("The body is not JSON") from None
