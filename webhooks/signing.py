"""Webhook signatures: one secret, two header schemes (docs/webhooks.md).

A secret is ``whsec_`` followed by the standard base64 of 24 random bytes.

AIPROD scheme (docs/webhooks.md, section 3)::

    X-AIPROD-Signature: sha256=<hex HMAC-SHA256(key=the whole secret string
                                  "whsec_..." as UTF-8, msg=raw body bytes)>
    X-AIPROD-Timestamp: <Unix seconds of this attempt>   (not covered by the signature)

Standard Webhooks scheme (https://www.standardwebhooks.com/)::

    webhook-id:        the event id (evt_...), the same on every retry
    webhook-timestamp: <Unix seconds of this attempt>
    webhook-signature: v1,<base64 HMAC-SHA256(key=base64-decode(secret after "whsec_"),
                                              msg="{webhook-id}.{webhook-timestamp}." + raw body)>

The Standard Webhooks signature covers the timestamp, so a receiver can
reject replays older than the tolerance (5 minutes). ``X-AIPROD-Signature``
covers the body only (kept for receivers written before Standard Webhooks): a captured delivery
replayed with a new ``X-AIPROD-Timestamp`` still matches it, so ``verify``
refuses a delivery that carries no Standard Webhooks signature.

After a secret rotation both secrets sign for a while: ``webhook-signature``
then lists two space-separated ``v1,`` signatures (new first), as Standard
Webhooks allows; ``X-AIPROD-Signature`` (one value) uses the new secret.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import time
from typing import Mapping, Sequence

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


def sign(secret: str, body: bytes, *, msg_id: str, timestamp: int | None = None,
         previous_secrets: Sequence[str] = ()) -> dict[str, str]:
    """Every signature header for one delivery attempt of ``body``.

    ``previous_secrets``: secrets still inside their rotation overlap; each
    adds its own ``v1,`` signature to ``webhook-signature``."""
    timestamp = int(time.time()) if timestamp is None else int(timestamp)
    standard = [standard_signature(s, msg_id, timestamp, body) for s in (secret, *previous_secrets)]
    return {
        "X-AIPROD-Timestamp": str(timestamp),
        "X-AIPROD-Signature": aiprod_signature(secret, body),
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(standard),
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

    The Standard Webhooks signature is required: it covers the timestamp, so
    a timestamp more than ``tolerance`` seconds (default 300) from now is
    refused and cannot be replaced. ``X-AIPROD-Signature`` is not consulted:
    it covers the body only (a captured delivery could be replayed with a new
    timestamp), and during a rotation overlap it carries the new secret only
    while ``webhook-signature`` carries both.
    """
    lower = {k.lower(): v for k, v in headers.items()}
    standard = lower.get("webhook-signature")
    if standard is None:
        if "x-aiprod-signature" in lower:
            raise SignatureError(
                "No webhook-signature header: X-AIPROD-Signature covers the body only and could be replayed "
                "with a new timestamp; verify the Standard Webhooks headers (webhook-id, webhook-timestamp, "
                "webhook-signature)"
            )
        raise SignatureError("No signature header (webhook-signature)")
    msg_id = lower.get("webhook-id")
    if not msg_id:
        raise SignatureError("Missing webhook-id header")
    timestamp = _check_timestamp(lower.get("webhook-timestamp"), tolerance, now)
    expected = standard_signature(secret, msg_id, timestamp, body).encode("ascii")
    # The header may list several space-separated signatures (key rotation).
    offered = [part.encode("ascii", "replace") for part in standard.split() if part.startswith("v1,")]
    if not any(hmac.compare_digest(expected, candidate) for candidate in offered):
        raise SignatureError("Signature mismatch")
