"""One exception class per error ``code`` of the AIPROD contract.

Every HTTP error answer is JSON: ``{"error", "code", "message", "request_id"}``
(400 has ``details`` instead of ``code``). Classes are grouped by status
(``AuthenticationError`` for every 401, ``PermissionDeniedError`` for every
403, ...), so ``except AuthenticationError`` catches ``RevokedKeyError`` too.
A code this client does not know yet maps to its status's group class.
"""

from __future__ import annotations

from typing import Any, Dict, Mapping, Optional, Type


class AiprodError(Exception):
    """Base of every error raised by this client."""

    #: How many times the request was sent before this error (1 = no retry).
    attempts: int = 1

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class APIConnectionError(AiprodError):
    """No HTTP answer (connection refused/reset, DNS, timeout) after every retry."""


class WaitTimeoutError(AiprodError, TimeoutError):
    """``jobs.wait`` gave up before the job reached a final status."""

    def __init__(self, message: str, job: Mapping[str, Any]):
        super().__init__(message)
        self.job = dict(job)


class APIError(AiprodError):
    """An HTTP error answer. ``status``, ``code``, ``message``, ``request_id``
    (quote it to support), ``body`` (the parsed JSON) and ``headers``."""

    status: int = 0
    code: Optional[str] = None

    def __init__(
        self,
        message: str,
        *,
        status: int,
        code: Optional[str] = None,
        request_id: Optional[str] = None,
        body: Any = None,
        headers: Optional[Mapping[str, str]] = None,
    ):
        super().__init__(message)
        self.status = status
        self.code = code
        self.request_id = request_id
        self.body = body
        self.headers: Dict[str, str] = dict(headers or {})

    def __str__(self) -> str:
        parts = [f"{self.status}"]
        if self.code:
            parts.append(self.code)
        text = " ".join(parts) + f": {self.message}"
        if self.request_id:
            text += f" (request_id {self.request_id})"
        return text


# ---------------------------------------------------------------- by status


class ValidationError(APIError):
    """400 Validation failed; ``details`` maps each field to its messages."""

    @property
    def details(self) -> Dict[str, Any]:
        if isinstance(self.body, dict) and isinstance(self.body.get("details"), dict):
            return self.body["details"]
        return {}


class AuthenticationError(APIError):
    """401: the key is missing, malformed, unknown, expired, revoked or for the other environment."""


class PermissionDeniedError(APIError):
    """403: the key may not do this (scope, tier, suspended account, IP allow-list)."""


class NotFoundError(APIError):
    """404: no such object for this key's account and environment."""


class MethodNotAllowedError(APIError):
    """405."""


class NotAcceptableError(APIError):
    """406."""


class ConflictError(APIError):
    """409, and the 422s that conflict with the current state (duplicate name, wrong status, reused key)."""


class GoneError(APIError):
    """410."""


class PayloadTooLargeError(APIError):
    """413: the body or the file is over the limit."""


class UnsupportedMediaTypeError(APIError):
    """415."""


class UnprocessableEntityError(APIError):
    """422 that is not a conflict (bad URL, unsupported input, quota, ...)."""


class RateLimitError(APIError):
    """429 RATE_LIMITED; ``retry_after`` is the server's Retry-After in seconds (or None)."""

    @property
    def retry_after(self) -> Optional[float]:
        return parse_retry_after(self.headers.get("Retry-After") or self.headers.get("retry-after"))


class InternalServerError(APIError):
    """500: a bug on the server; quote ``request_id`` to support."""


class ServiceUnavailableError(APIError):
    """503: maintenance or an outage; ``retry_after`` as the server announced it."""

    @property
    def retry_after(self) -> Optional[float]:
        return parse_retry_after(self.headers.get("Retry-After") or self.headers.get("retry-after"))


# ---------------------------------------------------------------- by code


class MissingCredentialsError(AuthenticationError):
    code = "MISSING_CREDENTIALS"


class MalformedCredentialsError(AuthenticationError):
    code = "MALFORMED_CREDENTIALS"


class InvalidCredentialsError(AuthenticationError):
    code = "INVALID_CREDENTIALS"


class ExpiredKeyError(AuthenticationError):
    code = "EXPIRED_KEY"


class RevokedKeyError(AuthenticationError):
    code = "REVOKED_KEY"


class WrongEnvironmentError(AuthenticationError):
    code = "WRONG_ENVIRONMENT"


class InsufficientScopeError(PermissionDeniedError):
    code = "INSUFFICIENT_SCOPE"


class TierRequiredError(PermissionDeniedError):
    code = "TIER_REQUIRED"


class AccountSuspendedError(PermissionDeniedError):
    code = "ACCOUNT_SUSPENDED"


class IpNotAllowedError(PermissionDeniedError):
    code = "IP_NOT_ALLOWED"


class ForbiddenError(PermissionDeniedError):
    code = "FORBIDDEN"


class InvalidSignatureError(PermissionDeniedError):
    """403 on a signed output link whose signature does not match."""

    code = "INVALID_SIGNATURE"


class LinkExpiredError(PermissionDeniedError):
    code = "LINK_EXPIRED"


class DuplicateJobError(ConflictError):
    code = "DUPLICATE_JOB"


class InvalidStateError(ConflictError):
    code = "INVALID_STATE"


class IdempotencyKeyReusedError(ConflictError):
    code = "IDEMPOTENCY_KEY_REUSED"


class LockoutPreventedError(ConflictError):
    code = "LOCKOUT_PREVENTED"


class UploadUsedError(ConflictError):
    """409: this direct upload already made a job (each upload makes one)."""

    code = "UPLOAD_USED"


class QuotaExceededError(UnprocessableEntityError):
    code = "QUOTA_EXCEEDED"


class InvalidUrlError(UnprocessableEntityError):
    code = "INVALID_URL"


class UnsupportedInputError(UnprocessableEntityError):
    code = "UNSUPPORTED_INPUT"


class InvalidInputError(UnprocessableEntityError):
    code = "INVALID_INPUT"


class WebhookLimitReachedError(UnprocessableEntityError):
    code = "WEBHOOK_LIMIT_REACHED"


class VerificationFailedError(UnprocessableEntityError):
    code = "VERIFICATION_FAILED"


class InputTooLargeError(PayloadTooLargeError):
    code = "INPUT_TOO_LARGE"


class MaintenanceError(ServiceUnavailableError):
    code = "MAINTENANCE"


class StorageUnavailableError(ServiceUnavailableError):
    """The server's object store (bucket) did not answer; retry in a moment."""

    code = "STORAGE_UNAVAILABLE"


BY_STATUS: Dict[int, Type[APIError]] = {
    400: ValidationError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    405: MethodNotAllowedError,
    406: NotAcceptableError,
    409: ConflictError,
    410: GoneError,
    413: PayloadTooLargeError,
    415: UnsupportedMediaTypeError,
    422: UnprocessableEntityError,
    429: RateLimitError,
    500: InternalServerError,
    503: ServiceUnavailableError,
}


def _by_code() -> Dict[str, Type[APIError]]:
    found: Dict[str, Type[APIError]] = {
        "VALIDATION_FAILED": ValidationError,
        "NOT_FOUND": NotFoundError,
        "METHOD_NOT_ALLOWED": MethodNotAllowedError,
        "NOT_ACCEPTABLE": NotAcceptableError,
        "PAYLOAD_TOO_LARGE": PayloadTooLargeError,
        "RATE_LIMITED": RateLimitError,
        "INTERNAL_ERROR": InternalServerError,
        "SERVICE_UNAVAILABLE": ServiceUnavailableError,
    }
    pending = list(APIError.__subclasses__())
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        if "code" in cls.__dict__ and cls.__dict__["code"]:
            found[cls.__dict__["code"]] = cls
    return found


BY_CODE: Dict[str, Type[APIError]] = _by_code()


def parse_retry_after(value: Optional[str]) -> Optional[float]:
    """Retry-After in seconds: delta-seconds or an HTTP date; None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
        return float(value)
    from email.utils import parsedate_to_datetime
    from datetime import datetime, timezone

    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None or when.tzinfo is None:
        return None
    return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())


def error_for(status: int, body: Any, headers: Mapping[str, str]) -> APIError:
    """The exception for one HTTP error answer (status ≥ 400)."""
    code = None
    message = ""
    request_id = headers.get("X-Request-ID") or headers.get("x-request-id")
    if isinstance(body, dict):
        code = body.get("code") if isinstance(body.get("code"), str) else None
        message = str(body.get("message") or body.get("error") or "")
        request_id = body.get("request_id") or request_id
        if status == 400 and code is None and "details" in body:
            code = "VALIDATION_FAILED"
            message = _summarise(body.get("details")) or message
    if not message:
        message = f"HTTP {status}"
    cls = BY_CODE.get(code or "")
    if cls is None:
        cls = BY_STATUS.get(status) or (InternalServerError if status >= 500 else APIError)
    return cls(message, status=status, code=code, request_id=request_id, body=body, headers=headers)


def _summarise(details: Any) -> str:
    if not isinstance(details, dict) or not details:
        return "Validation failed"
    parts = []
    for field, messages in details.items():
        first = messages[0] if isinstance(messages, list) and messages else messages
        parts.append(f"{field}: {first}")
    return "Validation failed: " + "; ".join(parts)
