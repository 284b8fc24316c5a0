"""Webhook signatures: one secret, two header schemes (SPEC §10, docs/webhooks.md).

A secret is ``whsec_`` followed by the standard base64 of 24 random bytes.

AIPROD scheme (the guide's recipe)::

    X-AIPROD-Signature: sha256=<hex HMAC-SHA256(key=the whole secret string
                                  "whsec_..." as UTF-8, msg=raw body bytes)>
    X-AIPROD-Timestamp: <Unix seconds of this attempt>   (not covered by the signature)

Standard Webhooks scheme (https://www.standardwebhooks.com/)::

    webhook-id:        the event id (evt_...), the same on every retry
    webhook-timestamp: <Unix seconds of this attempt>
    webhook-signature: v1,<base64 HMAC-SHA256(key=base64-decode(secret after "whsec_"),
                                              msg="{webhook-id}.{webhook-timestamp}." + raw body)>

The Standard Webhooks signature covers the timestamp, so a receiver can
reject replays older than the tolerance (5 minutes).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import time
from typing import Mapping

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 24
DEFAULT_TOLERANCE = 300  # seconds


class SignatureError(Exception):
    """The signature headers are missing, stale or do not match."""


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode("ascii")


def aiprod_signature(secret: str, body: bytes) -> str:
    """``sha256=<hex>``: HMAC-SHA256 keyed with the secret string itself, over the raw body."""
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def standard_key(secret: str) -> bytes:
    """The Standard Webhooks key: the base64-decoded part after ``whsec_``."""
    encoded = secret[len(SECRET_PREFIX):] if secret.startswith(SECRET_PREFIX) else secret
    try:
        return base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise SignatureError("The secret is not whsec_ followed by base64") from None


def standard_signature(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """``v1,<base64>`` over ``{msg_id}.{timestamp}.{body}``."""
    signed = f"{msg_id}.{timestamp}.".encode("utf-8") + body
    digest = hmac.new(standard_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


def sign(secret: str, body: bytes, *, msg_id: str, timestamp: int | None = None) -> dict[str, str]:
    """Every signature header for one delivery attempt of ``body``."""
    timestamp = int(time.time()) if timestamp is None else int(timestamp)
    return {
        "X-AIPROD-Timestamp": str(timestamp),
        "X-AIPROD-Signature": aiprod_signature(secret, body),
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": standard_signature(secret, msg_id, timestamp, body),
    }


def _check_timestamp(raw: str | None, tolerance: int, now: float | None) -> int:
    try:
        timestamp = int(raw or "")
    except ValueError:
        raise SignatureError("Missing or malformed timestamp header") from None
    now = time.time() if now is None else now
    if abs(now - timestamp) > tolerance:
        raise SignatureError(f"Timestamp is more than {tolerance} seconds from now")
    return timestamp


def verify(
    secret: str,
    body: bytes,
    headers: Mapping[str, str],
    *,
    tolerance: int = DEFAULT_TOLERANCE,
    now: float | None = None,
) -> None:
    """Raises SignatureError unless ``headers`` carry a valid, fresh signature of ``body``.

    Every scheme present is checked (at least one must be): the Standard
    Webhooks one (timestamp signed, so the tolerance means something), and
    the ``X-AIPROD-Signature`` one with ``X-AIPROD-Timestamp``.
    """
    lower = {k.lower(): v for k, v in headers.items()}
    standard = lower.get("webhook-signature")
    ours = lower.get("x-aiprod-signature")
    if standard is None and ours is None:
        raise SignatureError("No signature header (X-AIPROD-Signature or webhook-signature)")
    if standard is not None:
        msg_id = lower.get("webhook-id")
        if not msg_id:
            raise SignatureError("Missing webhook-id header")
        timestamp = _check_timestamp(lower.get("webhook-timestamp"), tolerance, now)
        expected = standard_signature(secret, msg_id, timestamp, body).encode("ascii")
        # The header may list several space-separated signatures (key rotation).
        offered = [part.encode("ascii", "replace") for part in standard.split() if part.startswith("v1,")]
        if not any(hmac.compare_digest(expected, candidate) for candidate in offered):
            raise SignatureError("Signature mismatch")
    if ours is not None:
        _check_timestamp(lower.get("x-aiprod-timestamp"), tolerance, now)
        expected = aiprod_signature(secret, body).encode("ascii")
        if not hmac.compare_digest(expected, ours.strip().encode("ascii", "replace")):
            raise SignatureError("Signature mismatch")
