"""Webhook endpoints API (docs/webhooks.md). Scope webhooks.manage; every lookup is
scoped to the key's account and environment (another one's id is a 404)."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter
from rest_framework.response import Response

from accounts.scoping import get_owned_or_404, owned_by
from core.api import ApiView
from core.errors import ApplicationError, ValidationFailed
from core.openapi import CURSOR_PATTERN, api_doc, int_query, request_examples, str_query
from core.pagination import list_body, paginate
from webhooks import selectors
from webhooks.models import Delivery, DeliveryStatus, WebhookEndpoint
from webhooks.serializers import (
    DeliveryLogOut,
    DeliveryOut,
    EndpointCreateInput,
    EndpointListOut,
    EndpointOut,
    EndpointUpdateInput,
    RecoverInput,
    RecoveryOut,
    SecretOut,
    TestEventInput,
    VerificationOut,
    delivery_data,
    delivery_log_data,
    endpoint_data,
    secret_data,
)
from webhooks.services import attempts
from webhooks.services import delivery as delivery_services
from webhooks.services import endpoints as endpoint_services


INCLUDE_LOGS = OpenApiParameter(
    "include_logs",
    {"type": "string", "pattern": "^([Tt][Rr][Uu][Ee]|[Ff][Aa][Ll][Ss][Ee]|1|0)$"},
    description="true/1: add each endpoint's 20 latest deliveries as `logs` (default false)",
)
LIST_PARAMS = [
    INCLUDE_LOGS,
    int_query("limit", minimum=1, maximum=100, description="default 20"),
    str_query("cursor", description="next_cursor of the previous page", pattern=CURSOR_PATTERN),
]


def _include_logs(request) -> bool:
    raw = request.query_params.get("include_logs", "false").lower()
    if raw not in ("true", "false", "1", "0"):
        raise ValidationFailed({"include_logs": ["Must be one of: true, false"]})
    return raw in ("true", "1")


def _valid(serializer_class, request) -> dict:
    # A bodiless POST (curl -X POST ...) means "all defaults", whatever its Content-Type.
    empty = request.META.get("CONTENT_LENGTH") in (None, "", "0")
    serializer = serializer_class(data={} if empty else request.data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


class WebhookView(ApiView):
    required_scopes = "webhooks.manage"

    def endpoint(self, request, webhook_id: str) -> WebhookEndpoint:
        return get_owned_or_404(WebhookEndpoint, request, webhook_id, "Webhook endpoint")


class WebhookListView(WebhookView):
    @api_doc(summary="List webhook endpoints (?include_logs=true adds their latest deliveries)",
             response=EndpointListOut, operation_id="webhooks_list", parameters=LIST_PARAMS)
    def get(self, request):
        rows, has_more, cursor = paginate(owned_by(WebhookEndpoint.objects.all(), request), request.query_params)
        logs = selectors.latest_deliveries([r.id for r in rows]) if _include_logs(request) else None
        data = [endpoint_data(r, logs=logs.get(r.id, []) if logs is not None else None) for r in rows]
        return Response(list_body(data, has_more, cursor))

    @api_doc(summary="Register a webhook endpoint (the secret is in the answer)", request=EndpointCreateInput,
             response=EndpointOut, status=201, errors=(413, 422),
             examples=request_examples(Job_outcomes={"url": "https://example.com/hooks/aiprod",
                                                     "events": ["job.completed", "job.failed"]}))
    def post(self, request):
        values = _valid(EndpointCreateInput, request)
        endpoint = endpoint_services.create_endpoint(
            request.user, livemode=request.auth.livemode, url=values["url"], events=values.get("events")
        )
        return Response(endpoint_data(endpoint, include_secret=True), status=201)


class WebhookDetailView(WebhookView):
    @api_doc(summary="Retrieve a webhook endpoint, with its secret", response=EndpointOut, errors=(404,),
             parameters=[INCLUDE_LOGS])
    def get(self, request, webhook_id):
        endpoint = self.endpoint(request, webhook_id)
        logs = selectors.latest_deliveries([endpoint.id]).get(endpoint.id, []) if _include_logs(request) else None
        return Response(endpoint_data(endpoint, include_secret=True, logs=logs))

    @api_doc(summary="Change url, events or active (a new url or re-enabling needs verifying again)",
             request=EndpointUpdateInput, response=EndpointOut, errors=(404, 413, 422),
             examples=request_examples(Pause={"active": False}))
    def patch(self, request, webhook_id):
        endpoint = self.endpoint(request, webhook_id)
        values = _valid(EndpointUpdateInput, request)
        endpoint = endpoint_services.update_endpoint(
            endpoint, url=values.get("url"), events=values.get("events"), active=values.get("active")
        )
        return Response(endpoint_data(endpoint))

    @api_doc(summary="Delete a webhook endpoint (its delivery log stays)", status=204, errors=(404,))
    def delete(self, request, webhook_id):
        endpoint_services.delete_endpoint(self.endpoint(request, webhook_id))
        return Response(status=204)


class VerifyView(WebhookView):
    @api_doc(summary="Send webhook.verification now; a 2xx answer makes the endpoint verified",
             response=VerificationOut, errors=(404, 422))
    def post(self, request, webhook_id):
        endpoint = self.endpoint(request, webhook_id)
        delivery = delivery_services.verify_endpoint(endpoint)
        if delivery.status != DeliveryStatus.DELIVERED:
            answer = delivery.error or f"HTTP {delivery.response_code}"
            raise ApplicationError(
                422,
                "VERIFICATION_FAILED",
                f"Verification failed: POST {endpoint.url} got {answer!s} (delivery {delivery.id}). "
                f"Make the endpoint answer 2xx within {attempts.timeout_seconds():g}s, then verify again",
            )
        return Response(
            {
                **endpoint_data(endpoint),
                "verification": {
                    "result": "verified",
                    "message": f"Endpoint answered HTTP {delivery.response_code}; it now receives events",
                    "delivery": delivery_log_data(delivery),
                },
            }
        )


class RotateSecretView(WebhookView):
    @api_doc(summary="Replace the signing secret (the old one keeps signing, as a second v1 signature, for 24 h)",
             response=EndpointOut, errors=(404,))
    def post(self, request, webhook_id):
        endpoint = endpoint_services.rotate_secret(self.endpoint(request, webhook_id))
        return Response(endpoint_data(endpoint, include_secret=True))


class TestEventView(WebhookView):
    @api_doc(summary="Send a sample event to this endpoint now", request=TestEventInput, response=DeliveryLogOut,
             errors=(404, 413), examples=request_examples(Completed={"event": "job.completed"}))
    def post(self, request, webhook_id):
        endpoint = self.endpoint(request, webhook_id)
        values = _valid(TestEventInput, request)
        delivery = delivery_services.send_test_event(endpoint, values["event"])
        return Response(delivery_log_data(delivery))


class RecoverView(WebhookView):
    @api_doc(summary="Re-send every failed delivery since a time", request=RecoverInput, response=RecoveryOut,
             status=202, errors=(404, 413), examples=request_examples(Since={"since": "2026-02-04T10:00:00Z"}))
    def post(self, request, webhook_id):
        endpoint = self.endpoint(request, webhook_id)
        since = _valid(RecoverInput, request)["since"]
        ids = delivery_services.recover(endpoint, since)
        return Response(
            {"object": "webhook_recovery", "webhook_id": endpoint.id, "requeued": len(ids), "delivery_ids": ids[:100]},
            status=202,
        )


class DeliveryDetailView(WebhookView):
    def delivery(self, request, delivery_id: str) -> Delivery:
        return get_owned_or_404(Delivery.objects.select_related("event"), request, delivery_id, "Webhook delivery")

    @api_doc(summary="A delivery, its payload and every attempt", response=DeliveryOut, errors=(404,))
    def get(self, request, delivery_id):
        delivery = self.delivery(request, delivery_id)
        return Response(delivery_data(delivery, selectors.attempts_of(delivery)))


class RedeliverView(DeliveryDetailView):
    http_method_names = ["post", "options"]  # not GET: that is the delivery's own URL

    @api_doc(summary="Send a delivery again", response=DeliveryLogOut, status=202, errors=(404, 422))
    def post(self, request, delivery_id):
        delivery = delivery_services.redeliver(self.delivery(request, delivery_id))
        return Response(delivery_log_data(delivery), status=202)


class DefaultSecretView(WebhookView):
    @api_doc(summary="The default secret (signs deliveries to jobs' own webhook_url)", response=SecretOut)
    def get(self, request):
        return Response(secret_data(endpoint_services.default_secret(request.user.pk, request.auth.livemode)))


class DefaultSecretRotateView(WebhookView):
    @api_doc(summary="Replace the default secret (the old one keeps signing, as a second v1 signature, for 24 h)",
             response=SecretOut)
    def post(self, request):
        return Response(secret_data(endpoint_services.rotate_default_secret(request.user.pk, request.auth.livemode)))
