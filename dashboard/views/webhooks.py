"""Webhooks: endpoints (create, verify, rotate the secret, enable/disable,
delete, send a test event) and their recent deliveries with redelivery.

Everything goes through webhooks.services and webhooks.selectors, the same
functions /account/webhooks uses; input is checked by its serializers.
"""

from __future__ import annotations

import json

from django.contrib import messages
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from core.errors import ApplicationError, ValidationFailed
from dashboard.customer import customer_view, error_text
from dashboard.forms import WebhookForm
from webhooks import selectors
from webhooks.models import SUBSCRIBABLE_EVENTS, Delivery, DeliveryStatus, WebhookEndpoint
from webhooks.serializers import EndpointCreateInput, TestEventInput, delivery_data
from webhooks.services import attempts
from webhooks.services import delivery as delivery_services
from webhooks.services import endpoints as endpoint_services

DELIVERIES_SHOWN = 20


def _endpoint(request, webhook_id) -> WebhookEndpoint:
    return request.customer.get(WebhookEndpoint.objects.all(), webhook_id, "Webhook endpoint")


def _form(data=None):
    return WebhookForm(data, events=SUBSCRIBABLE_EVENTS)


@customer_view
def webhook_list(request):
    return _render_list(request)


def _render_list(request, form=None, status=200):
    customer = request.customer
    endpoints = list(selectors.endpoints_for(customer.account.id, customer.livemode).order_by("-created_at")[:100])
    latest = selectors.latest_deliveries([e.id for e in endpoints], per_endpoint=1)
    return render(
        request,
        "dashboard/webhooks.html",
        {
            "section": "webhooks",
            "endpoints": [(e, (latest.get(e.id) or [None])[0]) for e in endpoints],
            "form": form or _form(),
            "default_secret": endpoint_services.default_secret(customer.account.id, customer.livemode),
        },
        status=status,
    )


@require_POST
@customer_view
def webhook_create(request):
    customer = request.customer
    form = _form(request.POST)
    if form.is_valid():
        values = {"url": form.cleaned_data["url"]}
        if form.cleaned_data["events"]:
            values["events"] = form.cleaned_data["events"]
        check = EndpointCreateInput(data=values)
        if check.is_valid():
            try:
                endpoint = endpoint_services.create_endpoint(
                    customer.account, livemode=customer.livemode, url=check.validated_data["url"],
                    events=check.validated_data.get("events"),
                )
            except (ApplicationError, ValidationFailed) as exc:  # INVALID_URL, WEBHOOK_LIMIT_REACHED, bad URL
                form.add_error("url", error_text(exc).removeprefix("url: "))
            else:
                messages.success(
                    request, "Endpoint added. Verify it next: AIPROD sends events only to verified endpoints."
                )
                return redirect("dashboard:webhook_detail", webhook_id=endpoint.id)
        else:
            for field, problems in check.errors.items():
                form.add_error(field if field in form.fields else None, [str(p) for p in problems])
    return _render_list(request, form, status=400)


@never_cache
@customer_view
def webhook_detail(request, webhook_id):
    endpoint = _endpoint(request, webhook_id)
    deliveries = selectors.latest_deliveries([endpoint.id], per_endpoint=DELIVERIES_SHOWN).get(endpoint.id, [])
    return render(
        request,
        "dashboard/webhook_detail.html",
        {
            "section": "webhooks",
            "endpoint": endpoint,
            "deliveries": deliveries,
            "events": SUBSCRIBABLE_EVENTS,
            "subscribed_all": set(endpoint.events) >= set(SUBSCRIBABLE_EVENTS),
        },
    )


def _act(request, webhook_id, action):
    """Runs `action(endpoint)` → message text; service errors become a message."""
    endpoint = _endpoint(request, webhook_id)
    try:
        text = action(endpoint)
    except ApplicationError as exc:
        messages.error(request, error_text(exc))
    else:
        if text:
            messages.success(request, text)
    return redirect("dashboard:webhook_detail", webhook_id=endpoint.id)


def _answer(d: Delivery) -> str:
    return d.error or f"HTTP {d.response_code}"


@require_POST
@customer_view
def webhook_verify(request, webhook_id):
    def verify(endpoint):
        d = delivery_services.verify_endpoint(endpoint)
        if d.status != DeliveryStatus.DELIVERED:
            messages.error(
                request,
                f"Verification failed: POST {endpoint.url} got {_answer(d)} (delivery {d.id}). "
                f"Make the endpoint answer 2xx within {attempts.timeout_seconds():g}s, then verify again.",
            )
            return None
        return f"Verified: the endpoint answered HTTP {d.response_code}; it now receives events."

    return _act(request, webhook_id, verify)


@require_POST
@customer_view
def webhook_test(request, webhook_id):
    def send(endpoint):
        check = TestEventInput(data={"event": request.POST.get("event", "job.completed")})
        if not check.is_valid():
            raise ApplicationError(400, "VALIDATION_FAILED", "Pick one of the listed events")
        d = delivery_services.send_test_event(endpoint, check.validated_data["event"])
        if d.status == DeliveryStatus.DELIVERED:
            return f"Test {d.event_type} delivered: HTTP {d.response_code}."
        messages.error(request, f"Test {d.event_type} failed: {_answer(d)} (delivery {d.id}).")
        return None

    return _act(request, webhook_id, send)


@require_POST
@customer_view
def webhook_rotate(request, webhook_id):
    return _act(
        request, webhook_id,
        lambda e: endpoint_services.rotate_secret(e) and "New signing secret made; the old one also signs (webhook-signature) for 24 hours, then nothing.",
    )


@require_POST
@customer_view
def webhook_toggle(request, webhook_id):
    active = request.POST.get("active") == "true"

    def toggle(endpoint):
        endpoint_services.update_endpoint(endpoint, active=active)
        return ("Endpoint enabled. Verify it again to receive events." if active else "Endpoint disabled.")

    return _act(request, webhook_id, toggle)


@require_POST
@customer_view
def webhook_delete(request, webhook_id):
    endpoint = _endpoint(request, webhook_id)
    endpoint_services.delete_endpoint(endpoint)
    messages.success(request, f"Endpoint {endpoint.url} deleted. Its delivery logs are kept.")
    return redirect("dashboard:webhooks")


@never_cache
@customer_view
def delivery_detail(request, delivery_id):
    delivery = request.customer.get(Delivery.objects.select_related("event"), delivery_id, "Webhook delivery")
    data = delivery_data(delivery, selectors.attempts_of(delivery))
    return render(
        request,
        "dashboard/delivery_detail.html",
        {"section": "webhooks", "delivery": delivery, "data": data, "payload": json.dumps(data["payload"], indent=2)},
    )


@require_POST
@customer_view
def delivery_redeliver(request, delivery_id):
    delivery = request.customer.get(Delivery.objects.all(), delivery_id, "Webhook delivery")
    try:
        delivery = delivery_services.redeliver(delivery)
    except ApplicationError as exc:
        messages.error(request, error_text(exc))
    else:
        messages.success(request, f"Delivery {delivery.id} queued again.")
    if delivery.endpoint_id and request.POST.get("from") != "delivery":
        return redirect("dashboard:webhook_detail", webhook_id=delivery.endpoint_id)
    return redirect("dashboard:delivery_detail", delivery_id=delivery.id)
