"""Cross-cutting request handling: request ids, the error contract for
non-DRF paths, refusal of NUL bytes, and the per-request log row."""

from __future__ import annotations

import logging
import re
import time

from django.db import DatabaseError

from core.errors import error_response, handler500, response_for_exception, validation_response
from core.ids import new_request_id

logger = logging.getLogger(__name__)

_SANE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")
# Paths whose requests are not API calls and so are not in the customer's log.
_UNLOGGED_PREFIXES = ("/admin/", "/dashboard/", "/static/", "/health", "/status", "/api/status.json", "/docs", "/openapi.json")


def _client_request_id(request) -> str | None:
    value = request.META.get("HTTP_X_REQUEST_ID", "")
    return value if _SANE_REQUEST_ID.match(value) else None


def _has_nul(request) -> bool:
    query = request.META.get("QUERY_STRING", "")
    return "\x00" in request.path or "%00" in query.lower() or "\x00" in query


# HTML apps answer for themselves; everywhere else an error is JSON.
_HTML_PREFIXES = ("/admin/", "/dashboard/")


def _json_method_not_allowed(request, response):
    """Plain Django views (require_safe and the like) answer 405 with an empty
    HTML body; outside the HTML apps it is the error contract's JSON."""
    if request.path.startswith(_HTML_PREFIXES):
        return response
    headers = {"Allow": response["Allow"]} if response.has_header("Allow") else None
    return error_response(request, 405, "METHOD_NOT_ALLOWED", f'Method "{request.method}" not allowed', headers)


class RequestContextMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.request_id = _client_request_id(request) or new_request_id()
        request.started_monotonic = time.monotonic()
        if _has_nul(request):
            response = validation_response(request, {"request": ["NUL characters are not allowed in the URL"]})
        else:
            response = self.get_response(request)
            if response.status_code == 405 and not hasattr(response, "aiprod_error"):
                response = _json_method_not_allowed(request, response)
        response["X-Request-ID"] = request.request_id
        self._log(request, response)
        return response

    def process_exception(self, request, exception):
        response = response_for_exception(request, exception)
        if response is None:
            logger.exception("Unhandled error on %s %s", request.method, request.path)
            return handler500(request)
        return response

    def _log(self, request, response) -> None:
        account_id = getattr(request, "aiprod_account_id", None)
        if account_id is None or request.path.startswith(_UNLOGGED_PREFIXES):
            return
        from accounts.services.request_logs import record_request

        code, message = getattr(response, "aiprod_error", (None, None))
        try:
            record_request(
                request_id=request.request_id,
                account_id=account_id,
                livemode=getattr(request, "aiprod_livemode", True),
                method=request.method,
                path=request.path[:500],
                status=response.status_code,
                duration_ms=int((time.monotonic() - request.started_monotonic) * 1000),
                ip=getattr(request, "aiprod_client_ip", None),
                api_key_prefix=getattr(request, "aiprod_key_prefix", ""),
                error_code=code,
                message=message,
                object_id=getattr(request, "aiprod_object_id", None),
            )
        except DatabaseError:
            # The response is already decided; a log row lost while the
            # database is down must not turn it into a 500.
            logger.warning("request log not written for %s", request.request_id)
