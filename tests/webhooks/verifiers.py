"""Receivers' verifiers, written from docs/webhooks.md and the Standard Webhooks
spec, independent of webhooks.signing."""

import base64
import hashlib
import hmac


def guide_recipe_accepts(secret: str, body: bytes, header: str) -> bool:
    """docs/webhooks.md's Flask example (section 3): strip "sha256=" first."""
    expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(header.removeprefix("sha256="), expected)


def standard_webhooks_accepts(secret: str, headers: dict, body: bytes) -> bool:
    """An independent Standard Webhooks verifier, written from the spec."""
    key = base64.b64decode(secret.split("_", 1)[1])
    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    return any(
        sig.split(",", 1)[0] == "v1" and hmac.compare_digest(sig.split(",", 1)[1], expected)
        for sig in headers["webhook-signature"].split(" ")
    )
