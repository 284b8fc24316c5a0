"""One limiter for every password login: the dashboard's and the admin's.

Failed logins are counted per client address (trusted-proxy aware) in the
rate-limit cache; once an address has AIPROD_LOGIN_FAILURE_LIMIT failures in
the window (10 a minute), every login POST from it is answered 429 with
Retry-After until the window ends, before the password is checked, so a
right guess looks like a wrong one. Successful logins are not counted. When
the cache is down the limiter fails open (the password check still decides),
as the API's limiters do.
"""

from __future__ import annotations

import functools
import logging

from django.conf import settings
from django.shortcuts import render
from django_ratelimit.core import get_usage

from accounts.client_ip import client_ip
from core.errors import retry_after_seconds

logger = logging.getLogger(__name__)

GROUP = "password-login-failures"


def _failures(request, *, count: bool) -> dict | None:
    try:
        return get_usage(
            request,
            group=GROUP,
            key=lambda group, req: client_ip(req) or "unknown",
            rate=settings.AIPROD_LOGIN_FAILURE_LIMIT,
            method="POST",
            increment=count,
        )
    except Exception:
        logger.warning("login failure limiter unavailable; failing open", exc_info=True)
        return None


def seconds_blocked(request) -> int | None:
    """Seconds until this address may try a password again, or None."""
    usage = _failures(request, count=False)
    if usage and usage["count"] >= usage["limit"]:
        return retry_after_seconds(usage["time_left"])
    return None


def count_failure(request) -> None:
    """Counts one failed login for the client address (a cache write)."""
    _failures(request, count=True)


def limit_failed_logins(view, *, template: str):
    """Wraps a login view (Django's LoginView or AdminSite.login): a blocked
    address gets ``template`` with status 429; a POST after which the view
    did not log anyone in is counted as a failure. (``login()`` replaces
    ``request.user``; "is authenticated" alone would let a customer logged in
    to the dashboard guess admin passwords uncounted.)"""

    @functools.wraps(view)
    def limited(request, *args, **kwargs):
        if request.method != "POST":
            return view(request, *args, **kwargs)
        wait = seconds_blocked(request)
        if wait is not None:
            response = render(request, template, {"wait": wait}, status=429)
            response["Retry-After"] = str(wait)
            return response
        before = request.user
        response = view(request, *args, **kwargs)
        if request.user is before or not request.user.is_authenticated:
            count_failure(request)
        return response

    return limited
