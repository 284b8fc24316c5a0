"""Helpers of the delivery tests: emit an event, find its delivery."""

from __future__ import annotations

from webhooks.models import Delivery
from webhooks.services.events import emit_account_event


def emit(persona, *, livemode=True, data=None):
    return emit_account_event(
        persona.account, livemode=livemode, event_type="quota.warning", data=data or {"percent": 80}
    )


def only_delivery_of(event, endpoint) -> Delivery:
    return Delivery.objects.get(event=event, endpoint=endpoint)


def only_delivery(endpoint) -> Delivery:
    return Delivery.objects.exclude(event__type="webhook.verification").get(endpoint=endpoint)
