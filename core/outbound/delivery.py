"""The webhook delivery client: one POST, any HTTP answer returned as a result.

Only transport failures raise (code DELIVERY_FAILED, never permanent: the
delivery is retried on its schedule, see docs/webhooks.md); a URL refused by
policy raises code INVALID_URL, permanent.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Mapping

from urllib3.util import Timeout

from .connection import TRANSPORT_ERRORS, TRANSPORT_KINDS, Deadline, classify, open_response
from .errors import CODE_DELIVERY_FAILED, Kind, OutboundError
from .policy import current_policy
from .target import ResolutionError, resolve_target

# classify()'s answer as the attempt log words it.
_MESSAGES = {
    "timeout": "Response timeout",
    "connect_timeout": "Connection timeout",
    "refused": "Connection refused",
    "ssl": "SSL certificate error",
    "unreachable": "Host unreachable",
    "reset": "Connection reset",
    "protocol": "Invalid HTTP response",
}


@dataclass(frozen=True)
class PostResult:
    status_code: int
    headers: Mapping[str, str]  # case-insensitive (urllib3 HTTPHeaderDict)
    body_prefix: bytes
    duration_ms: int


def post(
    url: str,
    body: bytes,
    headers: dict,
    *,
    timeout: float = 10.0,
    max_response_bytes: int = 1024,
    label: str = "Webhook URL",
) -> PostResult:
    """POST ``body`` to ``url`` once (webhook delivery). Redirects are not followed.

    The whole exchange (connect, send, response headers, body prefix) is bound
    by ``timeout`` seconds. Any HTTP answer, 3xx/4xx/5xx included, is returned
    as a PostResult; only ``max_response_bytes`` of its body are read, then the
    connection is closed.

    Raises OutboundError(code DELIVERY_FAILED, permanent=False), wording (kind):
    "Connection refused" (refused), "Connection timeout" / "Response timeout"
    (timeout), "SSL certificate error" (tls), "Could not resolve host" (dns),
    "Host unreachable" / "Connection reset" / "Invalid HTTP response" /
    "Connection failed" (connection);
    and (code INVALID_URL, permanent=True) "{label} must use HTTPS" (blocked),
    "{label} is not a valid URL" (invalid_url), "{label} resolves to a private
    address" (blocked).
    """
    started = time.monotonic()
    policy = current_policy()
    try:
        target = resolve_target(url, label, policy)
    except ResolutionError:
        raise OutboundError("Could not resolve host", kind=Kind.DNS, code=CODE_DELIVERY_FAILED,
                            permanent=False) from None
    with Deadline(timeout) as deadline:
        remaining = deadline.remaining()
        try:
            response = open_response(
                "POST",
                target,
                timeout=Timeout(connect=remaining, read=remaining),
                deadline=deadline,
                headers=headers,
                body=body,
            )
        except TRANSPORT_ERRORS as exc:
            failure = classify(exc, deadline)
            raise OutboundError(_MESSAGES.get(failure, "Connection failed"), kind=TRANSPORT_KINDS[failure],
                                code=CODE_DELIVERY_FAILED, permanent=False) from None
        try:
            # read1 returns what has arrived, so a receiver that stalls or is
            # cut off by the deadline still leaves the bytes it did send.
            prefix = bytearray()
            while len(prefix) < max_response_bytes:
                try:
                    chunk = response.raw.read1(max_response_bytes - len(prefix), decode_content=False)
                except TRANSPORT_ERRORS:
                    break  # the status line and headers are the answer; the body is only logged
                if not chunk:
                    break
                prefix += chunk
            return PostResult(
                status_code=response.raw.status,
                headers=response.raw.headers.copy(),
                body_prefix=bytes(prefix[:max_response_bytes]),
                duration_ms=int((time.monotonic() - started) * 1000),
            )
        finally:
            response.close()
