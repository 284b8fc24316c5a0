"""Sending deliveries to real local receivers: headers, signatures, failures,
retries. (The outbox, claims, recovery and auto-disable: test_delivery_recovery.py.)"""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from tests.httpservers import HANG, Response, closed_port, redirect, serve
from tests.webhooks.conftest import register
from tests.webhooks.deliveries import only_delivery
from tests.webhooks.verifiers import standard_webhooks_accepts
from webhooks import signing
from webhooks.models import Delivery, DeliveryAttempt, WebhookEndpoint
from webhooks.services import delivery as delivery_services


def test_a_delivery_carries_every_header_and_both_signatures_verify(pro, receiver, send):
    endpoint = register(pro, receiver.url + "/hook")
    event = send(pro)
    request = receiver.wait_for_requests(2)[-1]
    headers = request.header_dict
    delivery = only_delivery(endpoint)
    assert request.method == "POST"
    assert headers["content-type"] == "application/json"
    assert headers["user-agent"].startswith("AIPROD-Webhooks/")
    assert headers["x-aiprod-event"] == "quota.warning"
    assert headers["x-aiprod-delivery"] == delivery.id
    assert headers["webhook-id"] == event.id
    assert abs(int(headers["x-aiprod-timestamp"]) - timezone.now().timestamp()) < 60
    payload = json.loads(request.body)
    assert payload == {
        "id": event.id, "event": "quota.warning", "created_at": payload["created_at"], "livemode": True,
        "data": {"percent": 80},
    }
    assert payload["created_at"].endswith("Z")
    # docs/webhooks.md's recipe (section 3) on the raw body, "sha256=" stripped:
    import hashlib
    import hmac

    expected = hmac.new(endpoint.secret.encode(), request.body, hashlib.sha256).hexdigest()
    assert headers["x-aiprod-signature"] == "sha256=" + expected
    signing.verify(endpoint.secret, request.body, headers)
    # And the Standard Webhooks scheme, checked by the independent verifier on what the receiver got.
    assert standard_webhooks_accepts(endpoint.secret, headers, request.body)
    assert delivery.status == "delivered" and delivery.response_code == 200 and delivery.attempt_count == 1


def test_a_500_then_a_200_is_delivered_on_the_immediate_retry(pro, receiver, send):
    endpoint = register(pro, receiver.url + "/hook")
    answers = iter([500, 200])
    receiver.routes["/hook"] = lambda request: next(answers)
    send(pro)
    delivery = only_delivery(endpoint)
    assert delivery.status == "delivered" and delivery.attempt_count == 2
    attempts = list(DeliveryAttempt.objects.filter(delivery=delivery).values_list("number", "status", "response_code", "error"))
    assert attempts == [(1, "failed", 500, "500 Internal Server Error"), (2, "delivered", 200, "")]
    bodies = [r.body for r in receiver.requests[1:]]
    assert bodies[0] == bodies[1]  # the same bytes, the same event id, on every attempt


def test_retries_follow_the_schedule_through_the_dispatcher(pro, receiver, send, settings):
    settings.AIPROD_WEBHOOK_RETRY_SCHEDULE = [0, 300, 1800]
    endpoint = register(pro, receiver.url + "/hook")
    receiver.routes["/hook"] = 503
    start = timezone.now()
    send(pro)
    delivery = only_delivery(endpoint)
    assert delivery.attempt_count == 2 and delivery.status == "failed"
    wait = (delivery.next_attempt_at - start).total_seconds()
    assert 300 <= wait <= 300 * 1.1 + 5  # the 5-minute step, with at most 10 % jitter
    assert delivery_services.dispatch_due()["queued"] == 0  # not due yet

    receiver.routes["/hook"] = 200
    with time_machine.travel(delivery.next_attempt_at + timedelta(seconds=1), tick=False):
        assert delivery_services.dispatch_due()["queued"] == 1
    delivery.refresh_from_db()
    assert delivery.status == "delivered" and delivery.attempt_count == 3


def test_after_the_last_retry_the_delivery_stays_failed(pro, receiver, send, settings):
    settings.AIPROD_WEBHOOK_RETRY_SCHEDULE = [0, 0]
    endpoint = register(pro, receiver.url + "/hook")
    receiver.routes["/hook"] = 502
    send(pro)
    delivery = only_delivery(endpoint)
    assert delivery.attempt_count == 3 and delivery.status == "failed"
    assert delivery.next_attempt_at is None and delivery.error == "502 Bad Gateway"


def test_retry_after_on_429_postpones_the_retry_within_the_cap(pro, receiver, send, settings):
    settings.AIPROD_WEBHOOK_RETRY_SCHEDULE = [0, 5]
    settings.AIPROD_WEBHOOK_RETRY_AFTER_MAX = 600
    endpoint = register(pro, receiver.url + "/hook")
    receiver.routes["/hook"] = Response(status=429, headers={"Retry-After": "120"})
    start = timezone.now()
    send(pro)
    delivery = only_delivery(endpoint)
    assert delivery.attempt_count == 1  # the "immediately" step waited for Retry-After instead
    assert 120 <= (delivery.next_attempt_at - start).total_seconds() < 130
    receiver.routes["/hook"] = Response(status=503, headers={"Retry-After": "86400"})
    with time_machine.travel(delivery.next_attempt_at + timedelta(seconds=1), tick=False):
        delivery_services.dispatch_due()
        delivery.refresh_from_db()
        assert delivery.attempt_count == 2
        assert (delivery.next_attempt_at - timezone.now()).total_seconds() == pytest.approx(600, abs=2)


def test_redirects_are_not_followed(pro, receiver, send, settings):
    settings.AIPROD_WEBHOOK_RETRY_SCHEDULE = []
    endpoint = register(pro, receiver.url + "/hook")
    receiver.routes["/hook"] = redirect("/elsewhere", status=301)
    send(pro)
    delivery = only_delivery(endpoint)
    assert delivery.status == "failed" and delivery.response_code == 301
    assert delivery.error == "Redirects are not followed (HTTP 301)"
    assert [r.path for r in receiver.requests].count("/elsewhere") == 0


def test_a_hanging_receiver_is_cut_at_the_timeout(pro, receiver, send, fast_webhooks):
    fast_webhooks.AIPROD_WEBHOOK_RETRY_SCHEDULE = []
    endpoint = register(pro, receiver.url + "/hook")
    receiver.routes["/hook"] = Response(delay=HANG)
    send(pro)
    delivery = only_delivery(endpoint)
    assert delivery.status == "failed" and delivery.error == "Response timeout"
    assert delivery.response_code is None
    assert delivery.next_attempt_at is None
    # The log says how long the receiver was waited for (the 1 s timeout).
    attempt = delivery.attempts.get()
    assert 900 <= attempt.duration_ms == delivery.duration_ms < 5000


def test_a_hanging_receiver_holds_one_worker_per_backoff_window_not_one_per_event(
    pro, receiver, send, fast_webhooks
):
    fast_webhooks.AIPROD_WEBHOOK_RETRY_SCHEDULE = [0, 5]
    endpoint = register(pro, receiver.url + "/hook")
    receiver.routes["/hook"] = Response(delay=HANG)
    for _ in range(4):
        send(pro)
    assert len(receiver.requests) == 2  # the verification, then one timed-out attempt
    deliveries = list(Delivery.objects.filter(endpoint=endpoint, event_type="quota.warning").order_by("created_at"))
    endpoint.refresh_from_db()
    assert endpoint.backoff_until is not None
    assert [d.attempt_count for d in deliveries] == [1, 0, 0, 0]  # waiting is not an attempt
    assert all(d.next_attempt_at == endpoint.backoff_until for d in deliveries[1:])
    assert deliveries[0].error == "Response timeout"

    receiver.routes["/hook"] = 200
    with time_machine.travel(endpoint.backoff_until + timedelta(seconds=1), tick=False):
        delivery_services.dispatch_due()
    statuses = set(Delivery.objects.filter(endpoint=endpoint, event_type="quota.warning").values_list("status", flat=True))
    assert statuses == {"delivered"}
    endpoint.refresh_from_db()
    assert endpoint.backoff_until is None and endpoint.failing_since is None


def test_a_closed_port_is_connection_refused(pro, receiver, send, settings):
    settings.AIPROD_WEBHOOK_RETRY_SCHEDULE = [0, 5]
    endpoint = register(pro, receiver.url + "/hook")
    with closed_port() as port:
        WebhookEndpoint.objects.filter(pk=endpoint.pk).update(url=f"http://127.0.0.1:{port}/hook")
        send(pro)
    delivery = only_delivery(endpoint)
    assert delivery.status == "failed" and delivery.error == "Connection refused"
    assert delivery.attempt_count == 2 and delivery.next_attempt_at is not None  # 5 s step: the dispatcher's


@pytest.mark.parametrize(
    "status, error", [(404, "404 Not Found"), (401, "401 Unauthorized"), (500, "500 Internal Server Error")]
)
def test_http_errors_use_the_guides_wording_and_keep_the_response_body(pro, receiver, send, settings, status, error):
    settings.AIPROD_WEBHOOK_RETRY_SCHEDULE = []
    endpoint = register(pro, receiver.url + "/hook")
    receiver.routes["/hook"] = (status, {}, b'{"error": "Invalid signature"}' + b"x" * 4000)
    send(pro)
    delivery = only_delivery(endpoint)
    assert delivery.error == error and delivery.response_code == status
    attempt = delivery.attempts.get()
    assert attempt.response_body.startswith('{"error": "Invalid signature"}') and len(attempt.response_body) == 1024


def test_410_gone_deactivates_the_endpoint_at_once_and_tells_the_others(pro, receiver, send):
    gone = register(pro, receiver.url + "/hook")
    with serve({"/other": 200}) as other_receiver:
        other = register(pro, other_receiver.url + "/other")
        receiver.routes["/hook"] = 410
        send(pro)
        delivery = only_delivery(gone)
        assert delivery.attempt_count == 1 and delivery.next_attempt_at is None
        gone.refresh_from_db()
        assert gone.active is False and gone.disabled_reason == "The endpoint answered 410 Gone"
        notices = [json.loads(r.body) for r in other_receiver.requests if r.header_dict["x-aiprod-event"] == "webhook.disabled"]
        assert len(notices) == 1 and notices[0]["data"]["id"] == gone.id
        assert not Delivery.objects.filter(endpoint=gone, event_type="webhook.disabled").exists()
        assert Delivery.objects.get(endpoint=other, event_type="webhook.disabled").status == "delivered"


def test_unverified_and_disabled_endpoints_get_a_skipped_delivery_with_the_reason(pro, receiver, send):
    unverified = register(pro, receiver.url + "/hook", verify=False)
    disabled = register(pro, receiver.url + "/hook")
    pro.api.patch(f"/account/webhooks/{disabled.id}", {"active": False})
    not_subscribed = register(pro, receiver.url + "/hook", events=["job.completed"])
    send(pro)
    skipped = only_delivery(unverified)
    assert skipped.status == "skipped"
    assert skipped.error == f"Endpoint is unverified: POST /account/webhooks/{unverified.id}/verify"
    assert only_delivery(disabled).error.startswith("Endpoint is disabled: ")
    assert not Delivery.objects.filter(endpoint=not_subscribed).exclude(event_type="webhook.verification").exists()
    logs = pro.api.get(f"/account/webhooks/{unverified.id}?include_logs=true").json()["logs"]
    assert logs[0]["status"] == "skipped" and logs[0]["error"] == skipped.error
    assert len(receiver.requests) == 2  # the two verifications, no event


def test_test_mode_endpoints_receive_test_mode_events_only(pro, receiver, send):
    live = register(pro, receiver.url + "/hook")
    test = register(pro, receiver.url + "/hook", test=True)
    send(pro, livemode=False)
    assert only_delivery(test).status == "delivered"
    assert not Delivery.objects.filter(endpoint=live, event_type="quota.warning").exists()
    assert json.loads(receiver.requests[-1].body)["livemode"] is False
