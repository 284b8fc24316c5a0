"""Deliveries that survive failures: the outbox, claims left by killed
workers, redeliver/recover, auto-disable, retention, TLS trust."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
import time_machine
from django.db import transaction
from django.utils import timezone

from core.outbound import LOCAL_DEVELOPMENT_HINT
from tests.httpservers import Response, serve
from tests.webhooks.conftest import register
from tests.webhooks.deliveries import emit, only_delivery, only_delivery_of
from webhooks import signing
from webhooks.models import Delivery, DeliveryAttempt, Event, WebhookEndpoint
from webhooks.services import attempts
from webhooks.services import delivery as delivery_services
from webhooks.services.retention import prune_deliveries


@pytest.mark.django_db(transaction=True)
def test_a_rolled_back_change_sends_nothing(personas, receiver):
    pro = personas("pro")
    register(pro, receiver.url + "/hook")
    with pytest.raises(RuntimeError):
        with transaction.atomic():
            emit(pro)
            raise RuntimeError("the job change failed")
    assert not Event.objects.filter(type="quota.warning").exists()
    assert not Delivery.objects.filter(event_type="quota.warning").exists()
    assert len(receiver.requests) == 1  # the verification only
    with transaction.atomic():
        emit(pro)
        assert len(receiver.requests) == 1  # nothing leaves before the commit
    receiver.wait_for_requests(2)


def test_a_crash_between_commit_and_queueing_loses_nothing(pro, receiver):
    endpoint = register(pro, receiver.url + "/hook")
    emit(pro)  # the on-commit callback never runs here: as if the process died after COMMIT
    delivery = only_delivery(endpoint)
    assert delivery.status == "pending"
    assert delivery_services.dispatch_due()["queued"] == 0  # its task may still be in the queue
    with time_machine.travel(timezone.now() + timedelta(minutes=6), tick=False):
        assert delivery_services.dispatch_due()["queued"] == 1
    delivery.refresh_from_db()
    assert delivery.status == "delivered"


def test_a_claim_left_by_a_killed_worker_is_sent_again_after_the_lease(pro, receiver):
    endpoint = register(pro, receiver.url + "/hook")
    emit(pro)
    delivery = only_delivery(endpoint)
    # A worker claims the delivery, POSTs it, and is killed before recording.
    assert attempts.claim(delivery.id)
    assert not attempts.claim(delivery.id)  # nobody else may send this attempt now
    delivery.refresh_from_db()
    from core import outbound

    body = delivery.event.body.encode()
    outbound.post(endpoint.url, body, attempts.headers_for(delivery, body, endpoint.secret))
    assert Delivery.objects.get(pk=delivery.pk).status == "sending"
    assert delivery_services.dispatch_due()["queued"] == 0  # the lease still holds

    with time_machine.travel(timezone.now() + attempts.lease() + timedelta(seconds=1), tick=False):
        assert delivery_services.dispatch_due()["queued"] == 1
    delivery.refresh_from_db()
    assert delivery.status == "delivered" and delivery.attempt_count == 2
    first, second = receiver.requests[-2:]
    # At least once: the receiver saw it twice and can dedupe on the event id.
    assert json.loads(first.body)["id"] == json.loads(second.body)["id"] == delivery.event_id
    assert first.header_dict["webhook-id"] == second.header_dict["webhook-id"]
    assert first.header_dict["x-aiprod-delivery"] == second.header_dict["x-aiprod-delivery"]


def test_a_stale_worker_cannot_overwrite_the_result_of_a_newer_attempt(pro, receiver):
    endpoint = register(pro, receiver.url + "/hook")
    emit(pro)
    delivery = only_delivery(endpoint)
    assert attempts.claim(delivery.id)
    stale = Delivery.objects.select_related("event", "endpoint").get(pk=delivery.pk)
    with time_machine.travel(timezone.now() + attempts.lease() + timedelta(seconds=1), tick=False):
        assert attempts.attempt_delivery(delivery.id) == "delivered"
    attempts._record(stale, attempts.Outcome("failed", error="Response timeout"))
    delivery.refresh_from_db()
    assert delivery.status == "delivered" and delivery.attempt_count == 2
    assert delivery.attempts.count() == 2  # both attempts are still in the log


def test_a_job_url_target_with_a_private_address_fails_without_retries(pro, receiver, settings):
    settings.AIPROD_ALLOW_INSECURE_URLS = False
    event = emit(pro)
    delivery = Delivery.objects.create(
        event=event, account=pro.account, livemode=True, event_type=event.type, target="job_url",
        url="https://127.0.0.1/hook", next_attempt_at=timezone.now(),
    )
    assert attempts.attempt_delivery(delivery.id) == "failed"
    delivery.refresh_from_db()
    assert delivery.error == "Webhook URL resolves to a private address" + LOCAL_DEVELOPMENT_HINT
    assert delivery.next_attempt_at is None


def test_redeliver_sends_a_delivery_again_with_a_fresh_schedule(
    pro, receiver, send, settings, django_capture_on_commit_callbacks
):
    settings.AIPROD_WEBHOOK_RETRY_SCHEDULE = []
    endpoint = register(pro, receiver.url + "/hook")
    receiver.routes["/hook"] = 500
    send(pro)
    delivery = only_delivery(endpoint)
    assert delivery.status == "failed"
    receiver.routes["/hook"] = 200
    with django_capture_on_commit_callbacks(execute=True):
        response = pro.api.post(f"/account/webhooks/deliveries/{delivery.id}/redeliver")
    assert response.status_code == 202, response.content
    assert response.json()["status"] == "pending"  # queued; answered before the send
    delivery.refresh_from_db()
    assert delivery.attempt_count == 2 and delivery.retry_base == 1
    detail = pro.api.get(f"/account/webhooks/deliveries/{delivery.id}").json()
    assert [a["status"] for a in detail["attempts"]] == ["failed", "delivered"]
    assert detail["payload"]["id"] == delivery.event_id


def test_recover_resends_every_failed_delivery_since_a_time(pro, receiver, django_capture_on_commit_callbacks, settings):
    settings.AIPROD_WEBHOOK_RETRY_SCHEDULE = []
    endpoint = register(pro, receiver.url + "/hook")
    receiver.routes["/hook"] = 500
    with time_machine.travel(timezone.now() - timedelta(hours=3), tick=False):
        with django_capture_on_commit_callbacks(execute=True):
            emit(pro, data={"n": "old"})
    since = timezone.now() - timedelta(hours=1)
    with django_capture_on_commit_callbacks(execute=True):
        emit(pro, data={"n": 1})
        emit(pro, data={"n": 2})
    receiver.routes["/hook"] = 200
    before = len(receiver.requests)
    with django_capture_on_commit_callbacks(execute=True):
        response = pro.api.post(f"/account/webhooks/{endpoint.id}/recover", {"since": since.isoformat()})
    assert response.status_code == 202, response.content
    assert response.json()["requeued"] == 2
    resent = [json.loads(r.body)["data"]["n"] for r in receiver.requests[before:]]
    assert sorted(resent) == [1, 2]
    statuses = {d.event.body: d.status for d in Delivery.objects.filter(endpoint=endpoint, event_type="quota.warning")}
    assert sorted(statuses.values()) == ["delivered", "delivered", "failed"]
    bad = pro.api.post(f"/account/webhooks/{endpoint.id}/recover", {"since": "yesterday"})
    assert bad.status_code == 400 and "ISO 8601" in bad.json()["details"]["since"][0]


def test_an_endpoint_failing_every_delivery_for_five_days_is_disabled(
    pro, receiver, send, settings, django_capture_on_commit_callbacks
):
    settings.AIPROD_WEBHOOK_RETRY_SCHEDULE = []
    failing = register(pro, receiver.url + "/hook")
    with serve({"/ok": 200}) as healthy_receiver:
        healthy = register(pro, healthy_receiver.url + "/ok")
        WebhookEndpoint.objects.filter(pk=healthy.pk).update(events=["webhook.disabled"])
        receiver.routes["/hook"] = 500
        start = timezone.now()
        send(pro)
        with time_machine.travel(start + timedelta(days=4, hours=23), tick=False):
            send(pro)
            failing.refresh_from_db()
            assert failing.active is True and failing.failing_since is not None
        with time_machine.travel(start + timedelta(days=5, minutes=1), tick=False):
            with django_capture_on_commit_callbacks(execute=True):
                assert delivery_services.dispatch_due()["disabled"] == 1
        failing.refresh_from_db()
        assert failing.active is False
        assert failing.disabled_reason.startswith("Every delivery failed for 5 days")
        notice = json.loads(healthy_receiver.requests[-1].body)
        assert notice["event"] == "webhook.disabled" and notice["data"]["id"] == failing.id
        assert notice["data"]["disabled_reason"] == failing.disabled_reason

    # Re-enabling needs a new verification before events flow again.
    with time_machine.travel(start + timedelta(days=5, minutes=2), tick=True):
        reenabled = pro.api.patch(f"/account/webhooks/{failing.id}", {"active": True}).json()
        assert reenabled["status"] == "unverified" and reenabled["active"] is True
        receiver.routes["/hook"] = 200
        assert only_delivery_of(send(pro), failing).status == "skipped"
        assert pro.api.post(f"/account/webhooks/{failing.id}/verify").status_code == 200
        assert only_delivery_of(send(pro), failing).status == "delivered"


def test_a_success_resets_the_failure_streak(pro, receiver, send, settings):
    settings.AIPROD_WEBHOOK_RETRY_SCHEDULE = []
    endpoint = register(pro, receiver.url + "/hook")
    receiver.routes["/hook"] = 500
    start = timezone.now()
    send(pro)
    with time_machine.travel(start + timedelta(days=3), tick=False):
        receiver.routes["/hook"] = 200
        send(pro)
    with time_machine.travel(start + timedelta(days=6), tick=False):
        receiver.routes["/hook"] = 500
        send(pro)
        assert delivery_services.dispatch_due()["disabled"] == 0
    endpoint.refresh_from_db()
    assert endpoint.active is True


def test_prune_deletes_old_events_with_their_deliveries_and_attempts(pro, receiver, send):
    register(pro, receiver.url + "/hook")
    with time_machine.travel(timezone.now() - timedelta(days=40), tick=False):
        send(pro)
    send(pro)
    assert prune_deliveries(timedelta(days=30)) == 1
    assert Event.objects.filter(type="quota.warning").count() == 1
    assert DeliveryAttempt.objects.filter(delivery__event_type="quota.warning").count() == 1


@pytest.fixture
def tls_pair(tmp_path):
    from tests.certificates import TLS_UNAVAILABLE_REASON, self_signed_cert

    pair = self_signed_cert(tmp_path)
    if pair is None:
        pytest.skip(TLS_UNAVAILABLE_REASON)
    return pair


def test_an_untrusted_certificate_is_an_ssl_certificate_error_and_a_trusted_one_delivers(
    pro, receiver, send, settings, tls_pair
):
    settings.AIPROD_WEBHOOK_RETRY_SCHEDULE = []
    endpoint = register(pro, receiver.url + "/hook")
    with serve({"/hook": 200}, tls=tls_pair) as https_receiver:
        WebhookEndpoint.objects.filter(pk=endpoint.pk).update(url=https_receiver.url_for("/hook", host="localhost"))
        send(pro)
        assert only_delivery(endpoint).error == "SSL certificate error"
        settings.AIPROD_OUTBOUND_CA_BUNDLE = tls_pair[0]
        event = send(pro)
        delivered = Delivery.objects.get(event=event, endpoint=endpoint)
        assert delivered.status == "delivered"
        request = https_receiver.last_request
        signing.verify(endpoint.secret, request.body, request.header_dict)


def test_a_retry_after_that_is_not_a_number_falls_back_to_the_schedule(pro, receiver, send, settings):
    # Was an exception in the delivery: "²" passed str.isdigit() and float() refused it.
    settings.AIPROD_WEBHOOK_RETRY_SCHEDULE = [0, 5]
    endpoint = register(pro, receiver.url + "/hook")
    receiver.routes["/hook"] = Response(status=429, headers={"Retry-After": "²"})
    send(pro)
    delivery = only_delivery(endpoint)
    assert delivery.status == "failed" and delivery.response_code == 429
    assert delivery.attempt_count == 2  # the "immediately" step ran: no Retry-After was taken


def test_redelivering_a_test_send_of_a_deleted_endpoint_is_skipped_not_a_crash(
    pro, receiver, settings, django_capture_on_commit_callbacks
):
    # Found by the fuzzer: test/verify sends skipped the "endpoint deleted" check and
    # crashed reading the deleted endpoint's secret (a 500 with django-q2 in sync mode).
    settings.AIPROD_WEBHOOK_RETRY_SCHEDULE = []
    endpoint = register(pro, receiver.url + "/hook")
    with django_capture_on_commit_callbacks(execute=True):
        sent = pro.api.post(f"/account/webhooks/{endpoint.id}/test", {"event": "job.completed"}).json()
    assert pro.api.delete(f"/account/webhooks/{endpoint.id}").status_code == 204
    with django_capture_on_commit_callbacks(execute=True):
        response = pro.api.post(f"/account/webhooks/deliveries/{sent['id']}/redeliver")
    assert response.status_code == 202, response.content
    delivery = Delivery.objects.get(pk=sent["id"])
    assert delivery.status == "skipped" and delivery.error == "Endpoint was deleted"


@pytest.mark.parametrize(("since", "status"), [("0301-02-19T10:27:24+17:11", 202), ("0001-01-01T00:00:00+01:00", 400)])
def test_recover_takes_any_utc_offset_and_refuses_instants_before_year_one(pro, receiver, since, status):
    # Found by the fuzzer: PostgreSQL refuses offsets beyond 15:59 ("+17:11" was a 500).
    endpoint = register(pro, receiver.url + "/hook")
    response = pro.api.post(f"/account/webhooks/{endpoint.id}/recover", {"since": since})
    assert response.status_code == status, response.content
