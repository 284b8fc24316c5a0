"""The one error contract (docs/errors.md), for DRF views and plain Django alike.

400: {"error": "Validation failed", "details": {...}, "request_id": ...}
else: {"error": <title>, "code": <UPPER_SNAKE>, "message": ..., "request_id": ...}

Services raise `ApplicationError`; this module maps it, DRF's exceptions and
Django's own (404, 413, database down) onto that shape exactly once.
"""

from __future__ import annotations

import logging
import math

from django.core.exceptions import PermissionDenied, RequestDataTooBig, SuspiciousOperation
from django.db import DatabaseError, InterfaceError, OperationalError
from django.http import Http404, JsonResponse
from django_ratelimit.exceptions import Ratelimited
from rest_framework import exceptions as drf_exceptions

logger = logging.getLogger(__name__)

TITLES = {
    400: "Validation failed",
    401: "Invalid or expired credentials",
    403: "Insufficient permissions for this operation",
    404: "Not found",
    405: "Method not allowed",
    406: "Not acceptable",
    409: "Conflict",
    410: "Gone",
    413: "Payload too large",
    415: "Unsupported media type",
    422: "Unprocessable entity",
    429: "Rate limit exceeded",
    500: "Internal server error",
    503: "Service unavailable",
}

WWW_AUTHENTICATE = 'Bearer realm="AIPROD API"'


class ApplicationError(Exception):
    """A failure with a status, a stable code and a message telling what to do."""

    def __init__(self, status: int, code: str, message: str, headers: dict | None = None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}


class ValidationFailed(Exception):
    """A 400 with per-field details, raised outside serializers."""

    def __init__(self, details: dict[str, list[str]]):
        super().__init__("Validation failed")
        self.details = details


def not_found(what: str = "Resource") -> ApplicationError:
    return ApplicationError(404, "NOT_FOUND", f"{what} not found")


def invalid_state(message: str) -> ApplicationError:
    return ApplicationError(422, "INVALID_STATE", message)


def _request_id(request) -> str | None:
    if request is None:
        return None
    request = getattr(request, "_request", request)
    return getattr(request, "request_id", None)


def error_response(request, status: int, code: str, message: str, headers: dict | None = None) -> JsonResponse:
    body = {"error": TITLES.get(status, "Error"), "code": code, "message": message, "request_id": _request_id(request)}
    response = JsonResponse(body, status=status)
    for name, value in (headers or {}).items():
        response[name] = value
    if status == 401:
        response["WWW-Authenticate"] = WWW_AUTHENTICATE
    response.aiprod_error = (code, message)
    return response


def validation_response(request, details: dict) -> JsonResponse:
    body = {"error": "Validation failed", "details": _clean_details(details), "request_id": _request_id(request)}
    response = JsonResponse(body, status=400)
    response.aiprod_error = ("VALIDATION_FAILED", _summarise(body["details"]))
    return response


def _clean_message(message) -> str:
    # Messages carry no trailing period (docs/errors.md: "This field is required").
    text = str(message)
    return text[:-1] if text.endswith(".") and not text.endswith("..") else text


def _clean_details(details):
    if isinstance(details, dict):
        return {str(k): _clean_details(v) for k, v in details.items()}
    if isinstance(details, list):
        if all(not isinstance(item, (dict, list)) for item in details):
            return [_clean_message(item) for item in details]
        # A list of nested errors (e.g. per-item): keep only items with errors.
        return {str(i): _clean_details(item) for i, item in enumerate(details) if item}
    return [_clean_message(details)]


def _summarise(details: dict) -> str:
    for field, messages in details.items():
        first = messages[0] if isinstance(messages, list) and messages else messages
        return f"{field}: {first}"[:500]
    return "Validation failed"


def retry_after_seconds(seconds: float) -> int:
    return max(1, math.ceil(seconds))


def count_text(n: int, noun: str) -> str:
    """ "1 request", "5 requests": a count with its noun in the right number."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def seconds_text(n: int) -> str:
    """ "1 second", "5 seconds": for messages people read."""
    return count_text(n, "second")


def rate_limited_message(wait: int, why: str = "") -> str:
    """The 429 message (docs/limits.md): "Rate limit exceeded. Retry after N seconds"."""
    return f"Rate limit exceeded. Retry after {seconds_text(wait)}{why}"


def database_unavailable(request) -> JsonResponse:
    return error_response(
        request,
        503,
        "SERVICE_UNAVAILABLE",
        "The database is unavailable. Retry in a few seconds; see /status for incidents.",
        {"Retry-After": "5"},
    )


def response_for_exception(request, exc) -> JsonResponse | None:
    """Map any known exception to the contract; None means 'a real bug'."""
    if isinstance(exc, ApplicationError):
        return error_response(request, exc.status, exc.code, exc.message, exc.headers)
    if isinstance(exc, ValidationFailed):
        return validation_response(request, exc.details)
    if isinstance(exc, drf_exceptions.ValidationError):
        detail = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
        return validation_response(request, detail)
    if isinstance(exc, drf_exceptions.ParseError):
        return validation_response(request, {"body": [str(exc.detail)]})
    if isinstance(exc, drf_exceptions.UnsupportedMediaType):
        return validation_response(
            request, {"Content-Type": [f"{exc.detail} Send application/json"]}
        )
    if isinstance(exc, (drf_exceptions.NotAuthenticated, drf_exceptions.AuthenticationFailed)):
        return error_response(request, 401, "MISSING_CREDENTIALS", str(exc.detail))
    if isinstance(exc, drf_exceptions.MethodNotAllowed):
        return error_response(request, 405, "METHOD_NOT_ALLOWED", str(exc.detail))
    if isinstance(exc, drf_exceptions.NotAcceptable):
        return error_response(request, 406, "NOT_ACCEPTABLE", str(exc.detail))
    if isinstance(exc, (drf_exceptions.NotFound, Http404)):
        return error_response(request, 404, "NOT_FOUND", "The requested resource does not exist")
    if isinstance(exc, Ratelimited):
        return error_response(request, 429, "RATE_LIMITED", rate_limited_message(1), {"Retry-After": "1"})
    if isinstance(exc, drf_exceptions.Throttled):
        wait = retry_after_seconds(exc.wait or 1)
        return error_response(
            request, 429, "RATE_LIMITED", rate_limited_message(wait), {"Retry-After": str(wait)}
        )
    if isinstance(exc, (PermissionDenied, drf_exceptions.PermissionDenied)):
        return error_response(request, 403, "FORBIDDEN", "You may not perform this operation")
    if isinstance(exc, RequestDataTooBig):
        return error_response(request, 413, "PAYLOAD_TOO_LARGE", "Request body is larger than 1 MB")
    if isinstance(exc, SuspiciousOperation):
        return validation_response(request, {"request": [str(exc) or "Bad request"]})
    if isinstance(exc, (OperationalError, InterfaceError)):
        return database_unavailable(request)
    if isinstance(exc, drf_exceptions.APIException):
        return error_response(request, exc.status_code, "ERROR", str(exc.detail))
    if isinstance(exc, DatabaseError) and "NUL" in str(exc):
        return validation_response(request, {"request": ["NUL characters are not allowed"]})
    return None


def exception_handler(exc, context):
    """DRF's EXCEPTION_HANDLER: unknown exceptions propagate to the middleware."""
    return response_for_exception(context.get("request"), exc)


def ratelimited_view(request, exception):
    return response_for_exception(request, exception)


def handler404(request, exception=None):
    return error_response(request, 404, "NOT_FOUND", f"No such endpoint: {request.path}")


def handler500(request):
    return error_response(
        request, 500, "INTERNAL_ERROR", "Something went wrong on our side. Contact support with the request id."
    )


def handler400(request, exception=None):
    return validation_response(request, {"request": ["Bad request"]})


def handler403(request, exception=None):
    return error_response(request, 403, "FORBIDDEN", "You may not perform this operation")
