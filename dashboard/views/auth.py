"""Login and logout: Django's auth views, with a per-address limit on login attempts."""

from __future__ import annotations

import logging

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.shortcuts import render
from django_ratelimit.core import get_usage

from accounts.client_ip import client_ip
from aiprod.errors import retry_after_seconds

logger = logging.getLogger(__name__)

LOGIN_RATE = getattr(settings, "AIPROD_DASHBOARD_LOGIN_RATE", "10/m")


def _login_attempts(request):
    """Counts one login attempt (POST) for the client address; None when the
    cache is down (fail open: the password check still decides, as the API's
    limiters do)."""
    try:
        return get_usage(
            request,
            group="dashboard-login",
            key=lambda group, req: client_ip(req) or "unknown",
            rate=LOGIN_RATE,
            method="POST",
            increment=True,
        )
    except Exception:
        logger.warning("dashboard login limiter unavailable; failing open", exc_info=True)
        return None


class LoginView(auth_views.LoginView):
    template_name = "dashboard/login.html"
    redirect_authenticated_user = True
    next_page = "dashboard:overview"

    def post(self, request, *args, **kwargs):
        usage = _login_attempts(request)
        if usage and usage["should_limit"]:
            wait = retry_after_seconds(usage["time_left"])
            response = render(request, "dashboard/too_many.html", {"wait": wait}, status=429)
            response["Retry-After"] = str(wait)
            return response
        return super().post(request, *args, **kwargs)


class LogoutView(auth_views.LogoutView):
    next_page = "dashboard:login"
