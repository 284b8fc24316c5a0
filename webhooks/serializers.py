"""HTTP shapes of webhook endpoints, deliveries and their inputs."""

from __future__ import annotations

import json
from datetime import datetime, timezone

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.fields import StrictBooleanField, StrictChoiceField, StrictCharField, StrictListField, StrictSerializer
from core.openapi import HTTP_URL_PATTERN
from core.timefmt import iso
from webhooks.models import SUBSCRIBABLE_EVENTS, DeliveryStatus, EndpointStatus, TargetKind

# The API shows a claimed (in-flight) delivery as pending.
_PUBLIC_STATUS = {DeliveryStatus.SENDING: DeliveryStatus.PENDING}


def endpoint_data(endpoint, *, include_secret: bool = False, logs=None) -> dict:
    data = {
        "id": endpoint.id,
        "object": "webhook_endpoint",
        "url": endpoint.url,
        "events": list(endpoint.events),
        "status": endpoint.status,
        "active": endpoint.active,
        "disabled_reason": endpoint.disabled_reason or None,
        "livemode": endpoint.livemode,
        "created_at": iso(endpoint.created_at),
        "verified_at": iso(endpoint.verified_at),
    }
    if include_secret:
        data["secret"] = endpoint.secret
    if logs is not None:
        data["logs"] = [delivery_log_data(d) for d in logs]
    return data


def delivery_log_data(delivery) -> dict:
    """One entry of ``logs`` (the fields docs/webhooks.md lists first)."""
    return {
        "id": delivery.id,
        "timestamp": iso(delivery.last_attempt_at or delivery.created_at),
        "event": delivery.event_type,
        "status": _PUBLIC_STATUS.get(delivery.status, delivery.status),
        "response_code": delivery.response_code,
        "error": delivery.error or None,
        "attempt": delivery.attempt_count,
        "duration_ms": delivery.duration_ms,
        "event_id": delivery.event_id,
        "url": delivery.url,
        "next_attempt_at": iso(delivery.next_attempt_at),
    }


def attempt_data(attempt) -> dict:
    return {
        "attempt": attempt.number,
        "timestamp": iso(attempt.created_at),
        "url": attempt.url,
        "status": attempt.status,
        "response_code": attempt.response_code,
        "error": attempt.error or None,
        "duration_ms": attempt.duration_ms,
        "response_body": attempt.response_body,
    }


def delivery_data(delivery, attempts) -> dict:
    """GET /account/webhooks/deliveries/{id}: the delivery, its payload and every attempt."""
    return {
        **delivery_log_data(delivery),
        "object": "webhook_delivery",
        "webhook_id": delivery.endpoint_id,
        "target": delivery.target,
        "livemode": delivery.livemode,
        "created_at": iso(delivery.created_at),
        "delivered_at": iso(delivery.delivered_at),
        "payload": json.loads(delivery.event.body),
        "attempts": [attempt_data(a) for a in attempts],
    }


def event_data(event, *, deliveries=None) -> dict:
    """GET /events items. ``data`` is the payload's data, as webhooks carry it;
    the webhook body is {"id", "event": type, "created_at", "livemode", "data"}."""
    payload = json.loads(event.body)
    data = {
        "id": event.id,
        "object": "event",
        "type": event.type,
        "created_at": payload["created_at"],
        "livemode": event.livemode,
        "job_id": event.job_id,
        "data": payload["data"],
    }
    if deliveries is not None:
        data["deliveries"] = [
            {**delivery_log_data(d), "webhook_id": d.endpoint_id, "target": d.target} for d in deliveries
        ]
    return data


def secret_data(row) -> dict:
    return {
        "object": "webhook_secret",
        "secret": row.secret,
        "livemode": row.livemode,
        "created_at": iso(row.created_at),
        "rotated_at": iso(row.rotated_at),
    }


class EventsField(StrictListField):
    def __init__(self, **kwargs):
        # min_length only documents it: allow_empty answers "This list may not be empty" first.
        super().__init__(
            child=StrictChoiceField(choices=SUBSCRIBABLE_EVENTS), allow_empty=False, min_length=1, **kwargs
        )


@extend_schema_field({"type": "string", "format": "uri", "maxLength": 2048, "pattern": HTTP_URL_PATTERN})
class WebhookUrlField(StrictCharField):
    def __init__(self, **kwargs):
        super().__init__(max_length=2048, **kwargs)


class EndpointCreateInput(StrictSerializer):
    url = WebhookUrlField()
    events = EventsField(required=False)


class EndpointUpdateInput(StrictSerializer):
    url = WebhookUrlField(required=False)
    events = EventsField(required=False)
    active = StrictBooleanField(required=False)


class TestEventInput(StrictSerializer):
    event = StrictChoiceField(choices=SUBSCRIBABLE_EVENTS, required=False, default="job.completed")


@extend_schema_field(OpenApiTypes.DATETIME)
class IsoDateTimeField(serializers.Field):
    default_error_messages = {"invalid": "Expected an ISO 8601 timestamp, e.g. 2026-02-04T10:00:00Z"}

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        try:
            value = datetime.fromisoformat(data.strip())
            value = value if value.tzinfo else value.replace(tzinfo=timezone.utc)
            # In UTC: PostgreSQL refuses offsets beyond 15:59 that ISO 8601 allows.
            return value.astimezone(timezone.utc)
        except (ValueError, OverflowError):
            self.fail("invalid")

    def to_representation(self, value):
        return iso(value)


class RecoverInput(StrictSerializer):
    since = IsoDateTimeField()


# --------------------------------------------------------------------------- OpenAPI shapes (documentation only)

# A delivery's status as the API shows it (a claimed "sending" one shows as pending).
PUBLIC_DELIVERY_STATUSES = ["delivered", "failed", "pending", "skipped"]
ENDPOINT_STATUSES = EndpointStatus.values


class DeliveryLogOut(serializers.Serializer):
    id = serializers.CharField()
    timestamp = serializers.DateTimeField()
    event = serializers.CharField()
    status = serializers.ChoiceField(choices=PUBLIC_DELIVERY_STATUSES)
    response_code = serializers.IntegerField(allow_null=True)
    error = serializers.CharField(allow_null=True)
    attempt = serializers.IntegerField()
    duration_ms = serializers.IntegerField(allow_null=True)
    event_id = serializers.CharField()
    url = serializers.CharField()
    next_attempt_at = serializers.DateTimeField(allow_null=True)


class AttemptOut(serializers.Serializer):
    attempt = serializers.IntegerField()
    timestamp = serializers.DateTimeField()
    url = serializers.CharField()
    status = serializers.CharField()
    response_code = serializers.IntegerField(allow_null=True)
    error = serializers.CharField(allow_null=True)
    duration_ms = serializers.IntegerField()
    response_body = serializers.CharField(help_text="First 1 KB of the answer")


class DeliveryOut(DeliveryLogOut):
    object = serializers.CharField(help_text='Always "webhook_delivery"')
    webhook_id = serializers.CharField(allow_null=True)
    target = serializers.ChoiceField(choices=TargetKind.values)
    livemode = serializers.BooleanField()
    created_at = serializers.DateTimeField()
    delivered_at = serializers.DateTimeField(allow_null=True)
    payload = serializers.DictField()
    attempts = AttemptOut(many=True)


class EndpointOut(serializers.Serializer):
    id = serializers.CharField()
    object = serializers.CharField(help_text='Always "webhook_endpoint"')
    url = serializers.CharField()
    events = serializers.ListField(child=serializers.ChoiceField(choices=SUBSCRIBABLE_EVENTS))
    status = serializers.ChoiceField(choices=ENDPOINT_STATUSES)
    active = serializers.BooleanField()
    disabled_reason = serializers.CharField(allow_null=True)
    livemode = serializers.BooleanField()
    created_at = serializers.DateTimeField()
    verified_at = serializers.DateTimeField(allow_null=True)
    secret = serializers.CharField(required=False, help_text="On create, GET of one and rotate-secret only")
    logs = DeliveryLogOut(many=True, required=False, help_text="With ?include_logs=true: the 20 latest, newest first")


class EndpointListOut(serializers.Serializer):
    object = serializers.CharField(help_text='Always "list"')
    data = EndpointOut(many=True)
    has_more = serializers.BooleanField()
    next_cursor = serializers.CharField(allow_null=True)


class VerificationResultOut(serializers.Serializer):
    result = serializers.ChoiceField(choices=["verified"])
    message = serializers.CharField()
    delivery = DeliveryLogOut()


class VerificationOut(EndpointOut):
    verification = VerificationResultOut()


class SecretOut(serializers.Serializer):
    object = serializers.CharField(help_text='Always "webhook_secret"')
    secret = serializers.CharField()
    livemode = serializers.BooleanField()
    created_at = serializers.DateTimeField()
    rotated_at = serializers.DateTimeField(allow_null=True)


class RecoveryOut(serializers.Serializer):
    object = serializers.CharField(help_text='Always "webhook_recovery"')
    webhook_id = serializers.CharField()
    requeued = serializers.IntegerField()
    delivery_ids = serializers.ListField(child=serializers.CharField(), help_text="The first 100")


class EventDeliveryOut(DeliveryLogOut):
    webhook_id = serializers.CharField(allow_null=True, help_text="Null for a job's own webhook_url")
    target = serializers.ChoiceField(choices=TargetKind.values)


class EventOut(serializers.Serializer):
    id = serializers.CharField()
    object = serializers.CharField(help_text='Always "event"')
    type = serializers.ChoiceField(choices=SUBSCRIBABLE_EVENTS, help_text='The webhook payload\'s "event"')
    created_at = serializers.DateTimeField()
    livemode = serializers.BooleanField()
    job_id = serializers.CharField(allow_null=True)
    data = serializers.DictField(help_text="As in the webhook payload (a job event: the job object)")


class EventDetailOut(EventOut):
    deliveries = EventDeliveryOut(
        many=True, help_text="One per target (endpoint or the job's webhook_url), oldest first; "
        "GET /account/webhooks/deliveries/{id} shows every attempt"
    )


class EventListOut(serializers.Serializer):
    object = serializers.CharField(help_text='Always "list"')
    data = EventOut(many=True)
    has_more = serializers.BooleanField()
    next_cursor = serializers.CharField(allow_null=True)
