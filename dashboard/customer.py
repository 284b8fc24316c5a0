"""Who is looking at the dashboard, in which mode, and the one decorator every
customer page goes through.

A customer is a Django user linked to an Account (Account.user). The mode
switch (live/test, like Stripe's) lives in the session. Every object a page
looks up by id goes through `Customer.get`/`Customer.scoped`, i.e.
`accounts.scoping.scoped`; lists use the API's own account-and-mode selectors
(`api_keys_for`, `endpoints_for`, `request_logs_for`). Another account's id,
or the other mode's, is a 404 exactly as in the API.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import wraps

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme

from accounts.models import Account
from accounts.scoping import scoped
from core.errors import ApplicationError, ValidationFailed

MODE_SESSION_KEY = "dashboard_livemode"


@dataclass
class Customer:
    account: Account
    livemode: bool

    @property
    def environment(self) -> str:
        return "live" if self.livemode else "test"

    def scoped(self, queryset):
        return scoped(queryset, self.account.id, self.livemode)

    def get(self, queryset, pk: str, what: str):
        """The object with this id in the account and mode, else ApplicationError 404."""
        obj = self.scoped(queryset).filter(pk=pk).first()
        if obj is None:
            raise ApplicationError(404, "NOT_FOUND", f"{what} not found")
        return obj


def error_text(exc: Exception) -> str:
    """One line for a message banner from a service's ApplicationError or ValidationFailed."""
    if isinstance(exc, ValidationFailed):
        parts = []
        for field, problems in exc.details.items():
            problems = problems if isinstance(problems, list) else [problems]
            parts.append(f"{field}: {'; '.join(str(p) for p in problems)}")
        return ". ".join(parts) or "Validation failed"
    return getattr(exc, "message", None) or str(exc)


def not_found_page(request, message: str = "This page does not exist."):
    return render(request, "dashboard/not_found.html", {"message": message}, status=404)


def back(request, default: str = "/dashboard/"):
    """Where to return after a POST: ?next= or the Referer when it is this site's, else `default`."""
    for candidate in (request.POST.get("next"), request.GET.get("next"), request.META.get("HTTP_REFERER")):
        if candidate and url_has_allowed_host_and_scheme(
            candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        ):
            return redirect(candidate)
    return redirect(default)


def customer_view(view):
    """Login required; attaches `request.customer`; turns service errors into
    page messages (never a 500, never the API's JSON).

    A POST that a service refuses redirects back with the error as a message
    (post/redirect/get); a GET whose object is not the customer's is a 404 page.
    """

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        account = Account.objects.filter(user_id=request.user.pk).first()
        if account is None:
            return render(request, "dashboard/no_account.html", status=403)
        request.customer = Customer(account=account, livemode=request.session.get(MODE_SESSION_KEY, True))
        if request.method == "POST":
            # Back where the form was: request.path may be a POST-only action.
            if account.suspended:
                messages.error(request, "This account is suspended, so changes are disabled. Contact support@aiprod.com")
                return back(request)
            # Pages stay readable in maintenance; changes wait, as the API's do
            # (ops' MaintenanceMiddleware sets the notice on dashboard POSTs).
            maintenance_notice = getattr(request, "maintenance_notice", "")
            if maintenance_notice:
                messages.error(request, f"Changes are paused: {maintenance_notice}")
                return back(request)
        try:
            return view(request, *args, **kwargs)
        except (ApplicationError, ValidationFailed) as exc:
            if getattr(exc, "status", None) == 404:
                return not_found_page(request, error_text(exc))
            messages.error(request, error_text(exc))
            if request.method == "POST":
                return back(request)
            return render(request, "dashboard/error.html", {"status": getattr(exc, "status", 400)},
                          status=getattr(exc, "status", 400))

    return login_required(wrapper)
