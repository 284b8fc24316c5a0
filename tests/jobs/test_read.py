"""GET /jobs, GET /jobs/{id}, POST /jobs/batch: scoping, filters, cursors."""

from __future__ import annotations

import base64
from datetime import datetime, timedelta, timezone

import pytest
from django.utils import timezone as dj_timezone

from jobs.models import Job, JobStatus

from core.timefmt import month_start
from webhooks.models import Delivery, DeliveryAttempt
from tests.jobs.helpers import create_job, created, unique_name


def make_jobs(account, count: int, *, livemode: bool = True, start: datetime | None = None, **fields) -> list[Job]:
    """Rows straight into the table (the API path is tested elsewhere), one second apart."""
    start = start or dj_timezone.now() - timedelta(hours=1)
    jobs = []
    for i in range(count):
        at = start + timedelta(seconds=i)
        jobs.append(Job(account=account, livemode=livemode, name=unique_name("bulk"),
                        type=fields.get("type", "media.probe"), requested_type=fields.get("type", "media.probe"),
                        status=fields.get("status", JobStatus.PENDING), input_url="https://example.com/a.png",
                        timeout=300, created_at=at, created_month=month_start(at), last_activity_at=at))
    return Job.objects.bulk_create(jobs)


def ids(response) -> list[str]:
    assert response.status_code == 200, response.content
    return [job["id"] for job in response.json()["data"]]


def test_get_returns_the_job(free, files):
    job = created(create_job(free.api, files))
    response = free.api.get(f"/jobs/{job['id']}")
    assert response.status_code == 200
    assert response.json() == job


def test_another_accounts_job_is_not_found(free, pro, files):
    job = created(create_job(free.api, files))
    response = pro.api.get(f"/jobs/{job['id']}")
    assert response.status_code == 404
    assert response.json()["code"] == "NOT_FOUND"
    assert response.json()["message"] == "Job not found"


def test_the_other_environments_job_is_not_found(free, files):
    job = created(create_job(free.api, files))
    assert free.test_api.get(f"/jobs/{job['id']}").status_code == 404
    assert ids(free.test_api.get("/jobs")) == []


def test_reading_needs_jobs_read(personas, files):
    creator = personas("free", scopes=["jobs.create"])
    job = created(create_job(creator.api, files))
    assert creator.api.get(f"/jobs/{job['id']}").json()["code"] == "INSUFFICIENT_SCOPE"


def test_the_list_is_newest_first_with_the_list_shape(free):
    jobs = make_jobs(free.account, 3)
    body = free.api.get("/jobs").json()
    assert body["object"] == "list"
    assert body["has_more"] is False and body["next_cursor"] is None
    assert [j["id"] for j in body["data"]] == [j.pk for j in reversed(jobs)]


def test_the_list_only_shows_the_keys_account(free, pro):
    make_jobs(pro.account, 2)
    mine = make_jobs(free.account, 1)
    assert ids(free.api.get("/jobs")) == [mine[0].pk]


def test_cursor_pages_stay_stable_while_jobs_are_created(free):
    jobs = make_jobs(free.account, 5)
    first = free.api.get("/jobs?limit=2").json()
    assert [j["id"] for j in first["data"]] == [jobs[4].pk, jobs[3].pk]
    assert first["has_more"] is True
    make_jobs(free.account, 3, start=dj_timezone.now())  # newer rows arrive meanwhile
    second = free.api.get(f"/jobs?limit=2&cursor={first['next_cursor']}").json()
    assert [j["id"] for j in second["data"]] == [jobs[2].pk, jobs[1].pk]
    third = free.api.get(f"/jobs?limit=2&cursor={second['next_cursor']}").json()
    assert [j["id"] for j in third["data"]] == [jobs[0].pk]
    assert third["has_more"] is False


def test_rows_with_the_same_created_at_are_neither_skipped_nor_repeated(free):
    at = dj_timezone.now()
    same = Job.objects.bulk_create([
        Job(account=free.account, name=f"tie {i}", timeout=300, input_url="https://x/a.png", created_at=at,
            created_month=month_start(at), last_activity_at=at)
        for i in range(5)
    ])
    seen, cursor = [], None
    while True:
        response = free.api.get("/jobs?limit=2" + (f"&cursor={cursor}" if cursor else "")).json()
        seen += [j["id"] for j in response["data"]]
        cursor = response["next_cursor"]
        if not cursor:
            break
    assert sorted(seen) == sorted(j.pk for j in same) and len(seen) == 5


def test_the_list_filters_by_status_type_and_name(free):
    make_jobs(free.account, 2, status=JobStatus.COMPLETED, type="media.probe")
    failed = make_jobs(free.account, 1, status=JobStatus.FAILED, type="image.transform")
    assert ids(free.api.get("/jobs?status=failed")) == [failed[0].pk]
    assert ids(free.api.get("/jobs?type=image.transform")) == [failed[0].pk]
    assert len(ids(free.api.get("/jobs?status=completed&type=media.probe"))) == 2
    assert ids(free.api.get(f"/jobs?name={failed[0].name}")) == [failed[0].pk]


def test_the_list_filters_by_creation_time(free):
    start = datetime(2026, 11, 1, 12, 0, tzinfo=timezone.utc)
    jobs = make_jobs(free.account, 3, start=start)  # 12:00:00, :01, :02
    assert ids(free.api.get("/jobs?created_after=2026-11-01T12:00:01Z")) == [jobs[2].pk, jobs[1].pk]
    assert ids(free.api.get("/jobs?created_before=2026-11-01T12:00:01Z")) == [jobs[0].pk]
    # An unencoded "+00:00" arrives as " 00:00"; a bare date means its midnight UTC.
    assert len(ids(free.api.get("/jobs?created_after=2026-11-01T12:00:01+00:00"))) == 2
    assert len(ids(free.api.get("/jobs?created_after=2026-11-01&created_before=2026-11-02"))) == 3


@pytest.mark.parametrize(
    ("query", "field", "message"),
    [
        ("status=running", "status", "Must be one of: pending, processing, completed, failed, cancelled"),
        ("type=video.teleport", "type", "Unknown choice. Must be one of: auto, audio.convert, audio.transcribe, document.extract_text, image.transform, media.probe, video.convert, video.thumbnail"),
        ("created_after=yesterday", "created_after", "Must be an ISO 8601 date or datetime, e.g. 2026-11-29T06:00:00Z"),
        ("created_before=2026-13-01", "created_before", "Must be an ISO 8601 date or datetime, e.g. 2026-11-29T06:00:00Z"),
        ("limit=0", "limit", "Must be between 1 and 100"),
        ("cursor=garbage!", "cursor", "Invalid cursor"),
    ],
)
def test_bad_list_parameters_are_a_400(free, query, field, message):
    response = free.api.get(f"/jobs?{query}")
    assert response.status_code == 400
    assert response.json()["details"] == {field: [message]}


@pytest.mark.parametrize("count", [1, 40])
def test_listing_costs_the_same_queries_however_many_jobs(free, django_assert_max_num_queries, count):
    make_jobs(free.account, count)
    free.api.get("/jobs")  # warm the key's last_used_at
    with django_assert_max_num_queries(6):
        assert len(ids(free.api.get("/jobs?limit=100&status=pending"))) == count


# --------------------------------------------------------------------------- batch


def test_batch_returns_found_jobs_in_order_and_lists_the_rest(pro, free):
    mine = make_jobs(pro.account, 2)
    theirs = make_jobs(free.account, 1)
    response = pro.api.post("/jobs/batch", {"ids": [mine[1].pk, "job_nope", theirs[0].pk, mine[0].pk, mine[1].pk]})
    assert response.status_code == 200
    body = response.json()
    assert [j["id"] for j in body["data"]] == [mine[1].pk, mine[0].pk]
    assert body["not_found"] == ["job_nope", theirs[0].pk]


def test_batch_reads_the_jobs_in_one_query(pro, django_assert_max_num_queries):
    jobs = make_jobs(pro.account, 50)
    pro.api.get("/jobs")
    with django_assert_max_num_queries(6):
        response = pro.api.post("/jobs/batch", {"ids": [j.pk for j in jobs]})
    assert len(response.json()["data"]) == 50


@pytest.mark.parametrize(
    ("body", "details"),
    [
        ({}, {"ids": ["This field is required"]}),
        ({"ids": []}, {"ids": ["Must contain between 1 and 100 ids"]}),
        ({"ids": [f"job_{i}" for i in range(101)]}, {"ids": ["Must contain between 1 and 100 ids"]}),
        ({"ids": ["job_a", 7]}, {"ids": {"1": ["Expected string, got integer"]}}),
        ({"ids": "job_a"}, {"ids": ["Expected array, got string"]}),
    ],
)
def test_batch_validates_its_ids(pro, body, details):
    response = pro.api.post("/jobs/batch", body)
    assert response.status_code == 400
    assert response.json()["details"] == details


def test_batch_needs_pro_or_enterprise(free):
    response = free.api.post("/jobs/batch", {"ids": ["job_a"]})
    assert response.status_code == 403
    assert response.json()["code"] == "TIER_REQUIRED"


def test_a_creation_time_with_any_valid_utc_offset_filters_by_its_instant(free):
    # Found by the fuzzer: PostgreSQL refuses offsets beyond 15:59 ("+17:11" was a 500).
    start = datetime(2026, 11, 1, 12, 0, tzinfo=timezone.utc)
    jobs = make_jobs(free.account, 3, start=start)  # 12:00:00, :01, :02
    response = free.api.get("/jobs", data={"created_after": "2026-11-02T05:11:01+17:11"})  # = 12:00:01Z
    assert response.status_code == 200, response.content
    assert ids(response) == [jobs[2].pk, jobs[1].pk]


@pytest.mark.parametrize("moment", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"])
def test_a_creation_time_outside_the_calendar_in_utc_is_a_400(free, moment):
    response = free.api.get("/jobs", data={"created_after": moment})
    assert response.status_code == 400
    assert response.json()["details"] == {
        "created_after": ["Must be an ISO 8601 date or datetime, e.g. 2026-11-29T06:00:00Z"]
    }


@pytest.mark.parametrize(("moment", "status"), [("2026-11-01T12:00:00+17:11", 200), ("0001-01-01T00:00:00+01:00", 400)])
def test_a_forged_cursor_with_an_odd_utc_offset_is_never_a_500(free, moment, status):
    cursor = base64.urlsafe_b64encode(f"{moment}|job_x".encode()).decode().rstrip("=")
    response = free.api.get("/jobs", data={"cursor": cursor})
    assert response.status_code == status, response.content


# --------------------------------------------------------------------------- timeline


def job_with_a_story(persona, files, cycles: int) -> str:
    """A job cancelled and retried `cycles` times through the API, read after
    each: requests, state changes and job.cancelled deliveries pile up on its
    timeline; each delivery gets two attempts, as if it had been retried."""
    job_id = created(create_job(persona.api, files, webhook_url="https://hooks.example.com/aiprod"))["id"]
    for _ in range(cycles):
        assert persona.api.post(f"/jobs/{job_id}/cancel").status_code == 200
        assert persona.api.post(f"/jobs/{job_id}/retry").status_code == 200
        persona.api.get(f"/jobs/{job_id}")
    deliveries = Delivery.objects.filter(event__job_id=job_id)
    assert deliveries.count() == cycles
    DeliveryAttempt.objects.bulk_create(
        DeliveryAttempt(delivery=delivery, number=number, url=delivery.url, status="failed", response_code=500)
        for delivery in deliveries for number in (1, 2)
    )
    return job_id


@pytest.mark.parametrize("cycles", [1, 15])
def test_the_timeline_costs_the_same_queries_however_long_the_story(pro, files, django_assert_max_num_queries, cycles):
    job_id = job_with_a_story(pro, files, cycles)
    # The job; its request logs; its transitions; its deliveries and their
    # attempts (prefetched); this request's own log row. Key and rate limit: cache.
    with django_assert_max_num_queries(6):
        response = pro.api.get(f"/jobs/{job_id}/timeline")
    assert response.status_code == 200, response.content
    kinds = [entry["kind"] for entry in response.json()["data"]]
    # Created + 2 per cycle; the create, 3 per cycle (the timeline read itself is logged after it answers);
    # 2 attempts of each cycle's job.cancelled delivery.
    assert (kinds.count("state_change"), kinds.count("request"), kinds.count("webhook")) == (
        1 + 2 * cycles, 1 + 3 * cycles, 2 * cycles)
