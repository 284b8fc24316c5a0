"""The one error every outbound call raises, and what kind of failure it was.

Callers decide on ``kind`` (a :class:`Kind`), never on the wording: the
``message`` is the customer-facing text quoted in docs/webhooks.md and the
error documentation, and may be reworded without touching any caller.
"""

from __future__ import annotations

from enum import StrEnum

CODE_INVALID_URL = "INVALID_URL"
CODE_INPUT_TOO_LARGE = "INPUT_TOO_LARGE"
CODE_FETCH_FAILED = "INPUT_FETCH_FAILED"
CODE_DELIVERY_FAILED = "DELIVERY_FAILED"


class Kind(StrEnum):
    """What went wrong, for callers to branch on (a str: compares equal to its value)."""

    INVALID_URL = "invalid_url"  # not a URL we can use (syntax, port, redirect Location)
    BLOCKED = "blocked"  # refused by policy: plain http, or an address that is not public
    DNS = "dns"  # the host name did not resolve
    REFUSED = "refused"  # the server's port refused the connection
    TIMEOUT = "timeout"  # connect, headers, a stalled body, or the caller's deadline
    TLS = "tls"  # the handshake or the certificate failed
    CONNECTION = "connection"  # unreachable, reset, closed early, not HTTP
    HTTP_STATUS = "http_status"  # the server answered with a non-2xx status (status_code set)
    REDIRECT = "redirect"  # more redirects than allowed
    TOO_LARGE = "too_large"  # the body is over the caller's byte limit


class OutboundError(Exception):
    """An outbound request was refused or failed.

    ``message``: the customer-facing wording; ``kind``: what went wrong;
    ``code``: the API error code it becomes (e.g. INVALID_URL);
    ``permanent``: retrying will not help; ``status_code``: the HTTP status
    when the failure is the server's answer.
    """

    def __init__(
        self,
        message: str,
        *,
        kind: Kind,
        code: str = CODE_INVALID_URL,
        permanent: bool = True,
        status_code: int | None = None,
    ):
        super().__init__(message)
        self.message = message
        self.kind = Kind(kind)
        self.code = code
        self.permanent = permanent
        self.status_code = status_code

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return (
            f"OutboundError({self.message!r}, kind={self.kind.value!r}, code={self.code!r}, "
            f"permanent={self.permanent!r}, status_code={self.status_code!r})"
        )


def seconds_text(seconds: float) -> str:
    """0.5 -> "0.5", 10.0 -> "10": how a timeout reads in a message."""
    return f"{seconds:g}"
