"""POST .../verify, .../test and .../rotate-secret against real receivers."""

import json

import pytest

from tests.httpservers import HANG, Response, closed_port
from tests.webhooks.conftest import register
from webhooks import signing
from webhooks.models import SUBSCRIBABLE_EVENTS, Delivery


def test_verify_sends_a_signed_challenge_and_a_2xx_makes_the_endpoint_verified(pro, receiver):
    endpoint = register(pro, receiver.url + "/hook", verify=False)
    receiver.routes["/hook"] = 202
    response = pro.api.post(f"/account/webhooks/{endpoint.id}/verify")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "verified" and body["verified_at"]
    assert body["verification"]["result"] == "verified"
    assert "202" in body["verification"]["message"]
    request = receiver.last_request
    payload = json.loads(request.body)
    assert payload["event"] == "webhook.verification" and request.header_dict["x-aiprod-event"] == "webhook.verification"
    assert len(payload["data"]["challenge"]) >= 24 and payload["data"]["webhook_id"] == endpoint.id
    signing.verify(endpoint.secret, request.body, request.header_dict)


def test_each_verification_has_a_new_challenge(pro, receiver):
    endpoint = register(pro, receiver.url + "/hook")
    pro.api.post(f"/account/webhooks/{endpoint.id}/verify")
    first, second = (json.loads(r.body)["data"]["challenge"] for r in receiver.requests)
    assert first != second


@pytest.mark.parametrize(
    "route, said",
    [
        (404, "404 Not Found"),
        (500, "500 Internal Server Error"),
        (Response(status=302, headers={"Location": "/x"}), "Redirects are not followed (HTTP 302)"),
    ],
)
def test_a_failed_verification_is_422_and_says_what_the_endpoint_answered(pro, receiver, route, said):
    endpoint = register(pro, receiver.url + "/hook", verify=False)
    receiver.routes["/hook"] = route
    response = pro.api.post(f"/account/webhooks/{endpoint.id}/verify")
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "VERIFICATION_FAILED"
    assert said in body["message"] and endpoint.url in body["message"]
    assert pro.api.get(f"/account/webhooks/{endpoint.id}").json()["status"] == "unverified"
    assert len(receiver.requests) == 1  # verification is one attempt, never retried


def test_verifying_a_dead_endpoint_reports_the_connection_error(pro, receiver, fast_webhooks):
    endpoint = register(pro, receiver.url + "/hook", verify=False)
    with closed_port() as port:
        pro.api.patch(f"/account/webhooks/{endpoint.id}", {"url": f"http://127.0.0.1:{port}/hook"})
        refused = pro.api.post(f"/account/webhooks/{endpoint.id}/verify").json()
    assert "Connection refused" in refused["message"]
    pro.api.patch(f"/account/webhooks/{endpoint.id}", {"url": receiver.url + "/hook"})
    receiver.routes["/hook"] = Response(delay=HANG)
    slow = pro.api.post(f"/account/webhooks/{endpoint.id}/verify").json()
    assert "Response timeout" in slow["message"] and "within 1s" in slow["message"]


def test_a_failed_reverification_keeps_a_verified_endpoint_verified(pro, receiver):
    endpoint = register(pro, receiver.url + "/hook")
    receiver.routes["/hook"] = 503
    assert pro.api.post(f"/account/webhooks/{endpoint.id}/verify").status_code == 422
    assert pro.api.get(f"/account/webhooks/{endpoint.id}").json()["status"] == "verified"


@pytest.mark.parametrize("event", SUBSCRIBABLE_EVENTS)
def test_test_sends_a_sample_event_to_that_endpoint_only(pro, receiver, event):
    endpoint = register(pro, receiver.url + "/hook", verify=False)
    receiver.routes["/other"] = 200
    register(pro, receiver.url + "/other")
    before = len(receiver.requests)
    response = pro.api.post(f"/account/webhooks/{endpoint.id}/test", {"event": event})
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "delivered" and response.json()["event"] == event
    sent = receiver.requests[before:]
    assert [r.path for r in sent] == ["/hook"]
    payload = json.loads(sent[0].body)
    assert payload["event"] == event and payload["data"]["sample"] is True
    assert payload["id"].startswith("evt_") and payload["livemode"] is True
    if event.startswith("job."):
        assert payload["data"]["object"] == "job" and payload["data"]["status"] == event.split(".")[1]
    signing.verify(endpoint.secret, sent[0].body, sent[0].header_dict)


def test_test_defaults_to_job_completed_and_reports_a_failure(pro, receiver):
    endpoint = register(pro, receiver.url + "/hook")
    receiver.routes["/hook"] = 500
    response = pro.api.post(f"/account/webhooks/{endpoint.id}/test", {})
    assert response.status_code == 200
    body = response.json()
    assert body["event"] == "job.completed"
    assert body["status"] == "failed" and body["response_code"] == 500 and body["error"] == "500 Internal Server Error"
    assert pro.api.post(f"/account/webhooks/{endpoint.id}/test", {"event": "job.exploded"}).status_code == 400


def test_after_rotate_secret_both_secrets_sign_for_24_hours_then_only_the_new_one(pro, receiver):
    from datetime import timedelta

    import time_machine
    from django.utils import timezone
    from standardwebhooks.webhooks import Webhook, WebhookVerificationError

    endpoint = register(pro, receiver.url + "/hook")
    old_secret = endpoint.secret
    rotated_at = timezone.now()
    new_secret = pro.api.post(f"/account/webhooks/{endpoint.id}/rotate-secret").json()["secret"]
    assert new_secret != old_secret

    with time_machine.travel(rotated_at + timedelta(hours=23, minutes=59), tick=False):
        pro.api.post(f"/account/webhooks/{endpoint.id}/test", {})
        request = receiver.last_request
        assert len(request.header_dict["webhook-signature"].split(" ")) == 2
        for secret in (new_secret, old_secret):
            signing.verify(secret, request.body, request.header_dict)
            Webhook(secret).verify(request.body, request.header_dict)  # the Standard Webhooks library

    with time_machine.travel(rotated_at + timedelta(hours=24, minutes=1), tick=False):
        pro.api.post(f"/account/webhooks/{endpoint.id}/test", {})
        request = receiver.last_request
        assert len(request.header_dict["webhook-signature"].split(" ")) == 1
        signing.verify(new_secret, request.body, request.header_dict)
        with pytest.raises(signing.SignatureError):
            signing.verify(old_secret, request.body, request.header_dict)
        with pytest.raises(WebhookVerificationError):
            Webhook(old_secret).verify(request.body, request.header_dict)
    # The delivery that found the old secret expired erased it from the database.
    endpoint.refresh_from_db()
    assert (endpoint.previous_secret, endpoint.previous_secret_expires_at) == ("", None)


def test_prune_erases_previous_secrets_past_their_overlap_and_keeps_those_inside_it(pro, free, receiver):
    import io
    import json
    from datetime import timedelta

    import time_machine
    from django.core.management import call_command
    from django.utils import timezone

    from webhooks.models import DefaultSecret
    from webhooks.services.endpoints import default_secret, rotate_default_secret

    rotated_at = timezone.now()
    expired = register(pro, receiver.url + "/hook")
    old_secret = expired.secret
    pro.api.post(f"/account/webhooks/{expired.id}/rotate-secret")
    default_secret(pro.account.pk, True)
    rotate_default_secret(pro.account.pk, True)
    with time_machine.travel(rotated_at + timedelta(hours=23), tick=False):
        recent = register(free, receiver.url + "/hook")
        free.api.post(f"/account/webhooks/{recent.id}/rotate-secret")
    recent.refresh_from_db()
    assert recent.previous_secret and recent.previous_secret_expires_at

    with time_machine.travel(rotated_at + timedelta(hours=24, minutes=1), tick=False):
        out = io.StringIO()
        call_command("prune", "--json", stdout=out)
    assert json.loads(out.getvalue())["previous_webhook_secrets_erased"] == 2
    expired.refresh_from_db()
    assert (expired.previous_secret, expired.previous_secret_expires_at) == ("", None)
    assert old_secret not in {expired.secret, expired.previous_secret}
    row = DefaultSecret.objects.get(account=pro.account, livemode=True)
    assert (row.previous_secret, row.previous_secret_expires_at) == ("", None)
    recent.refresh_from_db()  # still inside its 24 h: it keeps signing
    assert recent.previous_secret and recent.previous_secret_expires_at


def test_a_second_rotation_drops_the_first_secret_at_once(pro, receiver):
    endpoint = register(pro, receiver.url + "/hook")
    first = endpoint.secret
    second = pro.api.post(f"/account/webhooks/{endpoint.id}/rotate-secret").json()["secret"]
    third = pro.api.post(f"/account/webhooks/{endpoint.id}/rotate-secret").json()["secret"]
    pro.api.post(f"/account/webhooks/{endpoint.id}/test", {})
    request = receiver.last_request
    signing.verify(third, request.body, request.header_dict)
    signing.verify(second, request.body, request.header_dict)
    with pytest.raises(signing.SignatureError):
        signing.verify(first, request.body, request.header_dict)


def test_a_pending_retry_is_signed_with_the_secret_current_when_it_is_sent(
    pro, receiver, settings, django_capture_on_commit_callbacks
):
    from datetime import timedelta

    import time_machine

    from webhooks.services import delivery as delivery_services
    from webhooks.services.events import emit_account_event

    settings.AIPROD_WEBHOOK_RETRY_SCHEDULE = [300]
    endpoint = register(pro, receiver.url + "/hook")
    receiver.routes["/hook"] = 500
    with django_capture_on_commit_callbacks(execute=True):
        emit_account_event(pro.account, livemode=True, event_type="quota.warning", data={})
    delivery = Delivery.objects.get(endpoint=endpoint, event_type="quota.warning")
    assert delivery.status == "failed" and delivery.next_attempt_at is not None
    new_secret = pro.api.post(f"/account/webhooks/{endpoint.id}/rotate-secret").json()["secret"]
    receiver.routes["/hook"] = 200
    with time_machine.travel(delivery.next_attempt_at + timedelta(seconds=1), tick=False):
        delivery_services.dispatch_due()
        request = receiver.last_request
        signing.verify(new_secret, request.body, request.header_dict)
        assert request.header_dict["x-aiprod-signature"] == signing.aiprod_signature(new_secret, request.body)
        # Inside the rotation overlap the old secret signs too.
        signing.verify(endpoint.secret, request.body, request.header_dict)
