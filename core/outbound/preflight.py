"""Is the input there? A HEAD (or body-less GET) before a job is accepted.

Every failure answers 422 INVALID_URL to the customer (code INVALID_URL),
so the ``kind`` is what tells a timeout from a refusal or a 404.
"""

from __future__ import annotations

from dataclasses import dataclass

from urllib3.util import Timeout

from .connection import (
    TRANSPORT_ERRORS,
    TRANSPORT_KINDS,
    TRANSPORT_REASONS,
    Deadline,
    classify,
    content_length,
    open_response,
)
from .errors import Kind, OutboundError, seconds_text
from .policy import current_policy
from .target import next_hop, resolve_target

MAX_REDIRECTS = 2


@dataclass(frozen=True)
class PreflightResult:
    status_code: int
    content_type: str | None
    content_length: int | None
    final_url: str


def preflight(url: str, *, label: str = "Input URL", timeout: float = 10.0) -> PreflightResult:
    """Ask the server whether ``url`` is there, without downloading it.

    HEAD (a body-less GET when HEAD answers 405/501), at most 2 redirects
    (each resolved, checked and pinned again), a 2xx within ``timeout``
    seconds overall. Raises OutboundError(code INVALID_URL), wording (kind):
    "{label} is unreachable: connection timeout after {timeout}s" (timeout),
    "{label} returned HTTP {status}" (http_status, status_code set),
    "{label} is unreachable: connection refused" (refused),
    "{label} is unreachable: SSL certificate error" (tls),
    "{label} is unreachable: too many redirects" (redirect),
    "{label} is unreachable: host unreachable" / "connection reset" /
    "invalid HTTP response" / "connection failed" (connection),
    and the check_url messages.
    """
    policy = current_policy()
    target = resolve_target(url, label, policy)
    method = "HEAD"
    redirects = 0
    timeout_message = f"{label} is unreachable: connection timeout after {seconds_text(timeout)}s"
    with Deadline(timeout) as deadline:
        while True:
            remaining = deadline.remaining()
            try:
                response = open_response(
                    method, target, timeout=Timeout(connect=remaining, read=remaining), deadline=deadline
                )
            except TRANSPORT_ERRORS as exc:
                failure = classify(exc, deadline)
                kind = TRANSPORT_KINDS[failure]
                if kind == Kind.TIMEOUT:
                    raise OutboundError(timeout_message, kind=kind, permanent=False) from None
                reason = TRANSPORT_REASONS.get(failure, "connection failed")
                raise OutboundError(f"{label} is unreachable: {reason}", kind=kind, permanent=False) from None
            try:
                status = response.raw.status
                if method == "HEAD" and status in (405, 501):
                    method = "GET"
                    continue
                next_target = next_hop(status, response.raw.headers, target, label, policy)
                if next_target is not None:
                    redirects += 1
                    if redirects > MAX_REDIRECTS:
                        raise OutboundError(f"{label} is unreachable: too many redirects", kind=Kind.REDIRECT)
                    target = next_target
                    continue
                if not 200 <= status < 300:
                    raise OutboundError(
                        f"{label} returned HTTP {status}", kind=Kind.HTTP_STATUS,
                        permanent=status < 500 and status not in (408, 429), status_code=status,
                    )
                return PreflightResult(
                    status_code=status,
                    content_type=response.raw.headers.get("Content-Type"),
                    content_length=content_length(response.raw.headers),
                    final_url=target.url,
                )
            finally:
                response.close()  # never read a GET body
