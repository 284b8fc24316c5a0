"""API keys: list, create (the key is shown once), revoke with a confirmation step.

Keys are issued and revoked by accounts.services.api_keys, and the input is
checked by the API's own ApiKeyCreateInput, so the page and POST
/account/api-keys apply the same rules.
"""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.cache import never_cache

from accounts import selectors
from accounts.models import SCOPES
from accounts.serializers import ApiKeyCreateInput
from accounts.services.api_keys import create_api_key, revoke_api_key
from core.errors import ApplicationError
from dashboard.customer import customer_view
from dashboard.forms import NewKeyForm


def _keys(customer):
    # Keys of the mode being viewed, as Stripe lists them.
    return selectors.api_keys_for(customer.account).filter(environment=customer.environment)


def _key_or_404(customer, key_id):
    key = _keys(customer).filter(pk=key_id).first()
    if key is None:
        raise ApplicationError(404, "NOT_FOUND", "API key not found")
    return key


@customer_view
def key_list(request):
    now = timezone.now()
    everything = set(SCOPES)
    keys = [(key, key.status(now), set(key.scopes) >= everything) for key in _keys(request.customer)[:100]]
    return render(request, "dashboard/keys.html", {"section": "keys", "keys": keys})


@never_cache
@customer_view
def key_new(request):
    customer = request.customer
    if request.method == "POST":
        form = NewKeyForm(request.POST)
        if form.is_valid():
            values = form.cleaned_data
            check = ApiKeyCreateInput(
                data={
                    "name": values["name"],
                    "environment": values["environment"],
                    "scopes": values["scopes"],
                    "expires_in_days": values["expires_in_days"],
                }
            )
            if check.is_valid():
                key, plaintext = create_api_key(
                    customer.account,
                    environment=check.validated_data["environment"],
                    name=check.validated_data["name"],
                    scopes=check.validated_data["scopes"],
                    expires_in_days=check.validated_data["expires_in_days"],
                )
                # Rendered in the POST's own response and never stored: reload
                # or leave the page and the key is gone, as on the API.
                return render(request, "dashboard/key_created.html", {"section": "keys", "key": key, "plaintext": plaintext})
            for field, problems in check.errors.items():
                form.add_error(field if field in form.fields else None, [str(p) for p in problems])
    else:
        form = NewKeyForm(initial={"environment": customer.environment, "scopes": list(SCOPES), "expires_in_days": "730"})
    return render(request, "dashboard/key_new.html", {"section": "keys", "form": form})


@customer_view
def key_revoke(request, key_id):
    key = _key_or_404(request.customer, key_id)
    if request.method == "POST":
        revoke_api_key(key)
        messages.success(request, f"Key {key.prefix}… ({key.name or key.id}) is revoked. Requests with it now get 401 REVOKED_KEY.")
        return redirect("dashboard:keys")
    return render(request, "dashboard/key_revoke.html", {"section": "keys", "key": key, "status": key.status()})
