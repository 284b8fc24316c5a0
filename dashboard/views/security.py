"""The IP allow-list, through accounts.services.security: the same lockout
guard as PATCH /account/security, fed the address this request comes from."""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import redirect, render

from accounts.client_ip import client_ip
from accounts.services import security
from core.errors import ApplicationError, ValidationFailed
from dashboard.customer import customer_view, error_text
from dashboard.forms import AllowlistAddForm, AllowlistToggleForm
from accounts.plans import PAID_TIERS


def _require_paid(account):
    security.require_allowlist_feature(account)


@customer_view
def security_page(request):
    return _render(request)


def _render(request, add_form=None):
    account = request.customer.account
    return render(
        request,
        "dashboard/security.html",
        {
            "section": "security",
            "allowlist": security.allowlist(account),
            "client_ip": client_ip(request),
            "paid": account.tier in PAID_TIERS,
            "add_form": add_form or AllowlistAddForm(),
            "toggle_form": AllowlistToggleForm(),
        },
    )


@customer_view
def allowlist_add(request):
    if request.method != "POST":
        return redirect("dashboard:security")
    account = request.customer.account
    _require_paid(account)
    form = AllowlistAddForm(request.POST)
    if form.is_valid():
        try:
            (cidr,) = security.normalise_cidrs([form.cleaned_data["ip"]], field="ip")
        except ValidationFailed as exc:
            form.add_error("ip", exc.details["ip"])
        else:
            security.add_allowlist_entry(account, cidr)
            messages.success(request, f"{cidr} added to the allow-list.")
            return redirect("dashboard:security")
    return _render(request, add_form=form)


@customer_view
def allowlist_remove(request):
    if request.method != "POST":
        return redirect("dashboard:security")
    account = request.customer.account
    _require_paid(account)
    (cidr,) = security.normalise_cidrs([request.POST.get("ip", "")], field="ip")
    security.remove_allowlist_entry(
        account, cidr, requester_ip=client_ip(request), force=request.POST.get("force") == "on"
    )
    messages.success(request, f"{cidr} removed from the allow-list.")
    return redirect("dashboard:security")


@customer_view
def allowlist_toggle(request):
    if request.method != "POST":
        return redirect("dashboard:security")
    account = request.customer.account
    _require_paid(account)
    form = AllowlistToggleForm(request.POST)
    form.is_valid()
    enabled = form.cleaned_data.get("enabled", False)
    try:
        security.set_allowlist(
            account, enabled=enabled, cidrs=None, requester_ip=client_ip(request), force=form.cleaned_data.get("force", False)
        )
    except ApplicationError as exc:  # LOCKOUT_PREVENTED: the page offers the force box
        messages.error(request, error_text(exc))
        return redirect("dashboard:security")
    messages.success(request, "The allow-list is on: API requests from other addresses get 403 IP_NOT_ALLOWED."
                     if enabled else "The allow-list is off: API keys work from any address.")
    return redirect("dashboard:security")
