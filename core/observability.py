"""The outermost middleware: binds the request to the log context, counts
and times every answer for /metrics, and hands the request's ids to
gunicorn's JSON access log through the WSGI environ (core/gunicorn_logging.py)."""

from __future__ import annotations

import time

from django.urls import Resolver404, resolve

from core import metrics
from core.logcontext import log_context

UNMATCHED = "<unmatched>"


def route_of(request) -> str:
    """The URL pattern that served the request (``jobs/<str:job_id>``): a
    label with a bounded set of values, unlike the path."""
    match = request.resolver_match
    if match is None:  # answered before URL resolution (maintenance, NUL bytes)
        try:
            match = resolve(request.path_info)
        except Resolver404:
            return UNMATCHED
    return match.route or UNMATCHED


class ObservabilityMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        started = time.monotonic()
        with log_context(request=request):
            response = self.get_response(request)
        seconds = time.monotonic() - started
        code = getattr(response, "aiprod_error", (None, None))[0]
        route = route_of(request)
        account_id = getattr(request, "aiprod_account_id", None)
        metrics.observe_request(request.method, route, response.status_code, seconds, error_code=code,
                                authenticated=account_id is not None)
        # request.META is the WSGI environ gunicorn's access log receives.
        request.META["aiprod.request_id"] = getattr(request, "request_id", None)
        request.META["aiprod.account_id"] = account_id
        request.META["aiprod.route"] = route
        return response
