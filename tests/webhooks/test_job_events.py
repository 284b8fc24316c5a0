"""Job events: emitted by the job transitions, delivered to endpoints and to the
job's own webhook_url (signed with the default secret)."""

from __future__ import annotations

import json

import pytest
from django.db import transaction

from jobs.serializers import job_data
from jobs.services import transitions
from tests.httpservers import serve
from tests.webhooks.conftest import make_job, register
from webhooks import signing
from webhooks.models import Delivery, Event
from webhooks.selectors import deliveries_for_job
from webhooks.services.endpoints import default_secret
from webhooks.services.events import emit_job_event


def events_received(server) -> list[dict]:
    return [json.loads(r.body) for r in server.requests if r.header_dict["x-aiprod-event"].startswith("job.")]


@pytest.fixture
def on_commit(django_capture_on_commit_callbacks):
    return lambda: django_capture_on_commit_callbacks(execute=True)


def test_a_jobs_lifecycle_reaches_its_endpoints_with_the_job_object(pro, receiver, on_commit):
    endpoint = register(pro, receiver.url + "/hook")
    job = make_job(pro)
    with on_commit():
        job = transitions.claim_job(job.id, worker="w1")
    with on_commit():
        assert transitions.complete_job(job, output={"format": "mp4"})
    received = events_received(receiver)
    assert [e["event"] for e in received] == ["job.processing", "job.completed"]
    completed = received[-1]
    job.refresh_from_db()
    expected = job_data(job)
    assert completed["data"]["id"] == job.id and completed["data"]["status"] == "completed"
    assert completed["data"]["output"] == {"format": "mp4"}
    assert set(completed["data"]) == set(expected)
    assert completed["livemode"] is True and completed["id"].startswith("evt_")
    assert all(d.status == "delivered" for d in Delivery.objects.filter(endpoint=endpoint, event__job_id=job.id))


def test_failed_and_cancelled_jobs_emit_their_events(pro, receiver, on_commit):
    register(pro, receiver.url + "/hook", events=["job.failed", "job.cancelled"])
    failing, cancelled = make_job(pro, name="a"), make_job(pro, name="b")
    with on_commit():
        failing = transitions.claim_job(failing.id, worker="w1")
        transitions.fail_job(failing, code="INVALID_INPUT", message="Invalid input: URL returned HTTP 403")
        transitions.cancel_job(cancelled)
    received = events_received(receiver)
    assert [(e["event"], e["data"]["id"]) for e in received] == [("job.failed", failing.id), ("job.cancelled", cancelled.id)]
    assert received[0]["data"]["error"] == "Invalid input: URL returned HTTP 403"


def test_the_jobs_own_webhook_url_gets_its_events_signed_with_the_default_secret(pro, on_commit):
    with serve({"/job-hook": 200}) as job_receiver:
        job = make_job(pro, webhook_url=job_receiver.url + "/job-hook")
        with on_commit():
            job = transitions.claim_job(job.id, worker="w1")
            transitions.complete_job(job, output={})
        requests = job_receiver.wait_for_requests(2)
        secret = pro.api.get("/account/webhooks/default/secret").json()["secret"]
        assert secret == default_secret(pro.account.id, True).secret
        for request in requests:
            signing.verify(secret, request.body, request.header_dict)
        assert [json.loads(r.body)["event"] for r in requests] == ["job.processing", "job.completed"]
    deliveries = Delivery.objects.filter(event__job_id=job.id)
    assert {(d.target, d.status) for d in deliveries} == {("job_url", "delivered")}


def test_test_mode_jobs_go_to_test_mode_endpoints_only(pro, receiver, on_commit):
    live = register(pro, receiver.url + "/hook")
    test = register(pro, receiver.url + "/hook", test=True)
    job = make_job(pro, livemode=False)
    with on_commit():
        transitions.cancel_job(job)
    assert Delivery.objects.get(event__job_id=job.id).endpoint_id == test.id
    assert not Delivery.objects.filter(endpoint=live, event__job_id=job.id).exists()
    assert events_received(receiver)[-1]["livemode"] is False


@pytest.mark.django_db(transaction=True)
def test_a_rolled_back_job_change_sends_nothing(personas, receiver):
    pro = personas("pro")
    register(pro, receiver.url + "/hook")
    job = make_job(pro)
    with pytest.raises(RuntimeError):
        with transaction.atomic():
            transitions.cancel_job(job)
            raise RuntimeError("something after the cancel failed")
    job.refresh_from_db()
    assert job.status == "pending"
    assert not Event.objects.filter(job_id=job.id).exists()
    assert events_received(receiver) == []
    transitions.cancel_job(job)  # committed this time: sent after the commit
    receiver.wait_for_requests(2)
    assert [e["event"] for e in events_received(receiver)] == ["job.cancelled"]


def test_an_unverified_endpoint_shows_why_the_jobs_webhook_did_not_fire(pro, receiver, on_commit):
    endpoint = register(pro, receiver.url + "/hook", verify=False)
    job = make_job(pro)
    with on_commit():
        transitions.cancel_job(job)
    (entry,) = deliveries_for_job(job.id)
    assert entry["status"] == "skipped" and entry["event"] == "job.cancelled"
    assert entry["error"] == f"Endpoint is unverified: POST /account/webhooks/{endpoint.id}/verify"
    assert entry["attempt"] == 0


def test_the_job_timeline_lists_every_attempt_oldest_first(pro, receiver, on_commit, settings):
    settings.AIPROD_WEBHOOK_RETRY_SCHEDULE = [0]
    register(pro, receiver.url + "/hook")
    answers = iter([500, 200])
    receiver.routes["/hook"] = lambda request: next(answers, 200)
    job = make_job(pro)
    with on_commit():
        transitions.cancel_job(job)
    entries = deliveries_for_job(job.id)
    assert [(e["attempt"], e["status"], e["response_code"], e["error"]) for e in entries] == [
        (1, "failed", 500, "500 Internal Server Error"),
        (2, "delivered", 200, None),
    ]
    assert entries[0]["delivery_id"] == entries[1]["delivery_id"]
    assert set(entries[0]) == {"timestamp", "event", "delivery_id", "status", "response_code", "error", "attempt", "url"}
    assert entries[0]["timestamp"] <= entries[1]["timestamp"]


def test_emit_job_event_refuses_non_job_events(pro):
    with pytest.raises(ValueError):
        emit_job_event(make_job(pro), "quota.warning", {})


def test_after_the_default_secret_is_rotated_job_urls_get_both_signatures_for_a_day(pro, on_commit):
    old = pro.api.get("/account/webhooks/default/secret").json()["secret"]
    new = pro.api.post("/account/webhooks/default/rotate-secret").json()["secret"]
    assert new != old
    with serve({"/job-hook": 200}) as job_receiver:
        job = make_job(pro, webhook_url=job_receiver.url + "/job-hook")
        with on_commit():
            transitions.claim_job(job.id, worker="w1")
        (request,) = job_receiver.wait_for_requests(1)
        for secret in (new, old):
            signing.verify(secret, request.body, request.header_dict)
        assert request.header_dict["x-aiprod-signature"] == signing.aiprod_signature(new, request.body)
