"""Login and logout: Django's auth views; failed logins are limited per
client address by the limiter the admin login shares (accounts.login_limit)."""

from __future__ import annotations

from django.contrib.auth import views as auth_views
from django.utils.decorators import method_decorator

from accounts.login_limit import limit_failed_logins


@method_decorator(lambda view: limit_failed_logins(view, template="dashboard/too_many.html"), name="dispatch")
class LoginView(auth_views.LoginView):
    template_name = "dashboard/login.html"
    redirect_authenticated_user = True
    next_page = "dashboard:overview"


class LogoutView(auth_views.LogoutView):
    next_page = "dashboard:login"
