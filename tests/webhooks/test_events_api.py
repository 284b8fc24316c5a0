"""GET /events and GET /events/{id}: the account's outbox, scoped, filtered, paginated, kept 30 days."""

from __future__ import annotations

import json
from datetime import timedelta
from io import StringIO

import pytest
import time_machine
from django.core.management import call_command
from django.utils import timezone

from jobs.services import transitions
from tests.webhooks.conftest import make_job, register
from webhooks.models import Event
from jobs.serializers import job_data
from webhooks.services.events import emit_account_event, emit_job_event


@pytest.fixture
def on_commit(django_capture_on_commit_callbacks):
    return lambda: django_capture_on_commit_callbacks(execute=True)


def quota_warning(persona, *, livemode=True, percent=80) -> Event:
    return emit_account_event(
        persona.account, livemode=livemode, event_type="quota.warning", data={"percent": percent}
    )


def ids(response) -> list[str]:
    assert response.status_code == 200, response.content
    return [e["id"] for e in response.json()["data"]]


def test_events_are_listed_newest_first_with_the_webhook_payloads_data(pro):
    job = make_job(pro)
    first = emit_job_event(job, "job.processing", job_data(job, for_webhook=True))
    second = quota_warning(pro)
    body = pro.api.get("/events").json()
    assert body["object"] == "list" and body["has_more"] is False and body["next_cursor"] is None
    assert [e["id"] for e in body["data"]] == [second.id, first.id]
    item = body["data"][1]
    payload = json.loads(first.body)
    assert item == {
        "id": first.id,
        "object": "event",
        "type": "job.processing",
        "created_at": payload["created_at"],
        "livemode": True,
        "job_id": job.id,
        "data": payload["data"],
    }
    assert item["data"]["id"] == job.id and item["created_at"].endswith("Z")
    assert "deliveries" not in item


def test_verification_and_test_sends_are_not_events_of_the_account(pro, receiver):
    endpoint = register(pro, receiver.url + "/hook")  # sends webhook.verification
    assert pro.api.post(f"/account/webhooks/{endpoint.id}/test", {"event": "job.completed"}).status_code == 200
    assert Event.objects.filter(account=pro.account).count() == 2
    assert ids(pro.api.get("/events")) == []


def test_another_accounts_or_environments_events_are_invisible(pro, personas):
    other = personas("pro")
    mine = quota_warning(pro)
    theirs = quota_warning(other)
    sandbox = quota_warning(pro, livemode=False)
    assert ids(pro.api.get("/events")) == [mine.id]
    assert ids(pro.test_api.get("/events")) == [sandbox.id]
    assert pro.api.get(f"/events/{theirs.id}").status_code == 404
    missing = pro.api.get(f"/events/{sandbox.id}")
    assert missing.status_code == 404 and missing.json()["code"] == "NOT_FOUND"


def test_type_is_repeatable_and_matches_any_of_the_given_types(pro):
    job = make_job(pro)
    processing = emit_job_event(job, "job.processing", job_data(job, for_webhook=True))
    failed = emit_job_event(job, "job.failed", job_data(job, for_webhook=True))
    warning = quota_warning(pro)
    assert ids(pro.api.get("/events?type=job.failed")) == [failed.id]
    assert ids(pro.api.get("/events?type=quota.warning&type=job.processing")) == [warning.id, processing.id]
    assert ids(pro.api.get("/events?type=")) == [warning.id, failed.id, processing.id]


def test_an_unknown_type_is_a_400_listing_the_choices(pro):
    response = pro.api.get("/events?type=job.completed&type=job.done")
    assert response.status_code == 400
    assert response.json()["details"]["type"][0].startswith("Unknown choice. Must be one of: job.processing, job.completed")


def test_created_after_is_inclusive_and_created_before_exclusive(pro):
    start = timezone.now().replace(microsecond=0) - timedelta(days=3)
    made = []
    for day in range(3):
        with time_machine.travel(start + timedelta(days=day), tick=False):
            made.append(quota_warning(pro, percent=80 + day))
    day1 = (start + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    day2 = (start + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert ids(pro.api.get(f"/events?created_after={day1}")) == [made[2].id, made[1].id]
    assert ids(pro.api.get(f"/events?created_before={day2}")) == [made[1].id, made[0].id]
    assert ids(pro.api.get(f"/events?created_after={day1}&created_before={day2}")) == [made[1].id]


@pytest.mark.parametrize("field", ["created_after", "created_before"])
def test_a_malformed_instant_is_a_400_naming_the_field(pro, field):
    response = pro.api.get(f"/events?{field}=yesterday")
    assert response.status_code == 400
    assert response.json()["details"] == {field: ["Must be an ISO 8601 date or datetime, e.g. 2026-11-29T06:00:00Z"]}


def test_cursor_pagination_walks_every_event_once(pro):
    made = [quota_warning(pro, percent=p) for p in (80, 90, 100, 80, 90)]
    seen, cursor = [], None
    for _ in range(5):
        page = pro.api.get("/events?limit=2" + (f"&cursor={cursor}" if cursor else "")).json()
        seen += [e["id"] for e in page["data"]]
        cursor = page["next_cursor"]
        if not page["has_more"]:
            assert cursor is None
            break
    assert seen == [e.id for e in reversed(made)]
    assert pro.api.get("/events?cursor=garbage").status_code == 400
    assert pro.api.get("/events?limit=0").status_code == 400


def test_one_event_shows_each_delivery_with_target_status_and_attempts(pro, receiver, on_commit):
    endpoint = register(pro, receiver.url + "/hook")
    unverified = register(pro, receiver.url + "/hook", verify=False)
    job = make_job(pro, webhook_url=receiver.url + "/hook")
    with on_commit():  # django-q2 sync mode: the deliveries are attempted now
        job = transitions.claim_job(job.id, worker="w1")
    event = Event.objects.get(job_id=job.id, type="job.processing")

    response = pro.api.get(f"/events/{event.id}")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["id"] == event.id and body["type"] == "job.processing" and body["data"]["status"] == "processing"
    by_target = {(d["target"], d["webhook_id"]): d for d in body["deliveries"]}
    assert set(by_target) == {("endpoint", endpoint.id), ("endpoint", unverified.id), ("job_url", None)}
    delivered = by_target[("endpoint", endpoint.id)]
    assert delivered["status"] == "delivered" and delivered["attempt"] == 1 and delivered["response_code"] == 200
    assert delivered["id"].startswith("dlv_") and delivered["event_id"] == event.id
    skipped = by_target[("endpoint", unverified.id)]
    assert skipped["status"] == "skipped" and skipped["attempt"] == 0 and "unverified" in skipped["error"]
    assert by_target[("job_url", None)]["status"] == "delivered"


def test_events_need_the_account_read_scope(personas):
    persona = personas("pro", scopes=["jobs.read"])
    event = quota_warning(persona)
    for path in ("/events", f"/events/{event.id}"):
        response = persona.api.get(path)
        assert response.status_code == 403 and response.json()["code"] == "INSUFFICIENT_SCOPE"


def test_events_past_retention_are_hidden_and_pruned_by_default(pro, settings):
    settings.AIPROD_EVENT_RETENTION_DAYS = 7
    with time_machine.travel(timezone.now() - timedelta(days=8), tick=False):
        old = quota_warning(pro)
    with time_machine.travel(timezone.now() - timedelta(days=6), tick=False):
        recent = quota_warning(pro)
    assert ids(pro.api.get("/events")) == [recent.id]
    assert pro.api.get(f"/events/{old.id}").status_code == 404

    out = StringIO()
    call_command("prune", "--json", stdout=out)
    assert json.loads(out.getvalue())["deliveries_deleted"] == 0  # no endpoints: events without deliveries
    assert list(Event.objects.filter(account=pro.account).values_list("id", flat=True)) == [recent.id]


def test_the_events_api_is_in_the_openapi_document(anonymous):
    paths = anonymous.get("/openapi.json").json()["paths"]
    listing = paths["/events"]["get"]
    assert {p["name"] for p in listing["parameters"]} >= {"type", "created_after", "created_before", "limit", "cursor"}
    detail = paths["/events/{event_id}"]["get"]
    schema = detail["responses"]["200"]["content"]["application/json"]["schema"]
    assert schema["$ref"].endswith("/EventDetailOut")
