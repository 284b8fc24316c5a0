"""GET /account/usage and GET /account/metrics (docs/limits.md) against rows made
in the test."""

from __future__ import annotations

from datetime import datetime

import pytest
import time_machine

from accounts.models import Account, RequestLog
from jobs.models import Job
from core.timefmt import month_start as job_month
from quotas.models import MonthlyUsage
from accounts.plans import GB
from jobs.reports import account_metrics, percentile_cont
from quotas.services import consume_data, reserve_job
from core.timefmt import month_start
from webhooks.models import Delivery, Event

NOW = "2026-03-10T12:00:00Z"


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


# --------------------------------------------------------------------------- usage

def test_a_new_free_account_has_its_whole_quota(free):
    with time_machine.travel("2026-03-10T12:00:00Z", tick=False):
        response = free.api.get("/account/usage")
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {
        "jobs_this_month", "jobs_limit", "jobs_remaining", "data_used_gb", "data_limit_gb",
        "rate_limit_remaining", "rate_limit_resets_at", "tier", "period_start", "period_end", "livemode",
    }
    assert body["jobs_this_month"] == 0
    assert body["jobs_limit"] == body["jobs_remaining"] == 100
    assert body["data_used_gb"] == 0
    assert body["data_limit_gb"] == 1
    assert body["tier"] == "free"
    assert body["rate_limit_remaining"] == 9
    assert body["period_start"] == "2026-03-01T00:00:00.000Z"
    assert body["period_end"] == "2026-04-01T00:00:00.000Z"


def test_usage_counts_live_jobs_and_bytes_read(pro):
    for _ in range(3):
        reserve_job(pro.account, livemode=True)
    reserve_job(pro.account, livemode=False)
    consume_data(pro.account, livemode=True, nbytes=250_000_000)
    consume_data(pro.account, livemode=False, nbytes=GB)
    body = pro.api.get("/account/usage").json()
    assert (body["jobs_this_month"], body["jobs_limit"], body["jobs_remaining"]) == (3, 10_000, 9_997)
    assert (body["data_used_gb"], body["data_limit_gb"]) == (0.25, 100)
    assert body["tier"] == "pro"


def test_a_test_key_reads_test_mode_usage_not_the_live_quota(free):
    with time_machine.travel(NOW, tick=False):
        reserve_job(free.account, livemode=True)
        consume_data(free.account, livemode=True, nbytes=250_000_000)
        make_job(free.account, created="2026-03-09T10:00:00Z", size=3000, livemode=False)
        make_job(free.account, created="2026-03-10T10:00:00Z", size=GB // 2, livemode=False)
        make_job(free.account, created="2026-02-27T10:00:00Z", size=7000, livemode=False)  # last month
        test_body = free.test_api.get("/account/usage").json()
        live_body = free.api.get("/account/usage").json()
    assert (test_body["livemode"], test_body["jobs_this_month"], test_body["data_used_gb"]) == (False, 2, 0.5)
    assert test_body["jobs_remaining"] == 98
    assert (live_body["livemode"], live_body["jobs_this_month"], live_body["data_used_gb"]) == (True, 1, 0.25)


def test_enterprise_usage_shows_the_values_staff_set(personas):
    persona = personas("enterprise")
    Account.objects.filter(pk=persona.account.pk).update(jobs_per_month=250_000, data_gb_per_month=5000)
    body = persona.api.get("/account/usage").json()
    assert (body["jobs_limit"], body["data_limit_gb"], body["tier"]) == (250_000, 5000, "enterprise")


def test_remaining_is_never_negative_after_a_downgrade(pro):
    MonthlyUsage.objects.create(account=pro.account, month=month_start(), jobs_count=150)
    Account.objects.filter(pk=pro.account.pk).update(tier="free")
    body = pro.api.get("/account/usage").json()
    assert (body["jobs_this_month"], body["jobs_limit"], body["jobs_remaining"]) == (150, 100, 0)


@pytest.mark.parametrize("path", ["/account/usage", "/account/metrics"])
def test_usage_and_metrics_need_the_account_read_scope(personas, path):
    persona = personas("free", scopes=["jobs.read"])
    response = persona.api.get(path)
    assert response.status_code == 403
    assert "account.read" in response.json()["message"]


# --------------------------------------------------------------------------- metrics

def make_job(account, *, created: str, status: str = "completed", type: str = "image.transform",  # noqa: A002
             completed: str | None = None, duration_ms: int | None = None, size: int | None = None,
             livemode: bool = True) -> Job:
    created_at = at(created)
    return Job.objects.create(
        account=account, livemode=livemode, name=f"job {Job.objects.count()}", type=type, status=status,
        timeout=300, created_at=created_at, created_month=job_month(created_at),
        completed_at=at(completed) if completed else None, duration_ms=duration_ms, input_size_bytes=size,
    )


def delivery(account, status: str, *, created: str, kind: str = "event", livemode: bool = True) -> Delivery:
    event = Event.objects.create(account=account, livemode=livemode, type="job.completed", body="{}", created_at=at(created))
    return Delivery.objects.create(
        event=event, account=account, livemode=livemode, event_type="job.completed", url="https://example.com/hook",
        status=status, kind=kind, created_at=at(created),
    )


def log(account, status: int, *, created: str, livemode: bool = True) -> RequestLog:
    return RequestLog.objects.create(
        request_id=f"req_{RequestLog.objects.count()}", account=account, livemode=livemode, created_at=at(created),
        method="GET", path="/jobs", status=status,
    )


@pytest.fixture
def history(pro, personas):
    """A pro account's jobs, requests and deliveries around 2026-03-10 12:00 UTC."""
    a = pro.account
    make_job(a, created="2026-03-10T10:00:00Z", completed="2026-03-10T10:00:01Z", duration_ms=100, size=1000)
    make_job(a, created="2026-03-09T12:30:00Z", completed="2026-03-09T12:30:01Z", duration_ms=200, size=2000)
    make_job(a, created="2026-03-08T09:00:00Z", completed="2026-03-08T09:00:05Z", status="failed",
             type="audio.convert", duration_ms=50, size=500)
    make_job(a, created="2026-03-05T09:00:00Z", completed="2026-03-05T09:01:00Z", type="audio.convert",
             duration_ms=400, size=4000)
    make_job(a, created="2026-03-10T11:00:00Z", status="pending", type="video.convert")
    # Created before the 7-day window, finished inside the 1-day one.
    make_job(a, created="2026-02-25T09:00:00Z", completed="2026-03-09T18:00:00Z", type="video.thumbnail",
             duration_ms=300, size=700)
    make_job(a, created="2026-03-01T09:00:00Z", completed="2026-03-01T09:00:10Z", duration_ms=1000, size=10_000)
    make_job(a, created="2026-02-01T09:00:00Z", completed="2026-02-01T09:00:10Z", duration_ms=5, size=1)  # > 30 d
    make_job(a, created="2026-03-10T10:00:00Z", completed="2026-03-10T10:00:02Z", duration_ms=9, livemode=False)
    make_job(personas("pro").account, created="2026-03-10T10:00:00Z", completed="2026-03-10T10:00:02Z", duration_ms=9)

    for status, created in [(200, "2026-03-10T09:00:00Z"), (404, "2026-03-09T13:00:00Z"), (429, "2026-03-06T00:00:00Z"),
                            (500, "2026-02-20T00:00:00Z"), (200, "2026-01-01T00:00:00Z")]:
        log(a, status, created=created)
    log(a, 400, created="2026-03-10T09:00:00Z", livemode=False)

    delivery(a, "delivered", created="2026-03-10T10:00:02Z")
    delivery(a, "delivered", created="2026-03-05T09:01:00Z")
    delivery(a, "failed", created="2026-03-08T09:00:06Z")
    delivery(a, "pending", created="2026-03-10T11:00:00Z")
    delivery(a, "delivered", created="2026-03-10T10:00:00Z", kind="verification")  # not an event
    delivery(a, "failed", created="2026-02-20T00:00:00Z")
    return pro


def metrics(persona, period: str | None, test: bool = False):
    api = persona.test_api if test else persona.api
    with time_machine.travel(NOW, tick=False):
        response = api.get("/account/metrics" + (f"?period={period}" if period else ""))
    assert response.status_code == 200, response.content
    return response.json()


def test_seven_day_metrics_count_jobs_by_when_they_were_created_and_when_they_ended(history):
    body = metrics(history, "7d")
    assert (body["period"], body["livemode"]) == ("7d", True)
    assert (body["start"], body["end"]) == ("2026-03-03T12:00:00.000Z", "2026-03-10T12:00:00.000Z")
    jobs = body["jobs"]
    assert (jobs["created"], jobs["completed"], jobs["failed"], jobs["cancelled"]) == (5, 4, 1, 0)
    assert jobs["success_rate"] == 0.8
    assert jobs["avg_duration_ms"] == 250  # 100, 200, 300, 400
    assert jobs["p95_duration_ms"] == 385  # percentile_cont: 300 + 0.85 * 100
    assert jobs["by_type"] == {
        "audio.convert": {"created": 2, "completed": 1, "failed": 1},
        "image.transform": {"created": 2, "completed": 2, "failed": 0},
        "video.convert": {"created": 1, "completed": 0, "failed": 0},
        "video.thumbnail": {"created": 0, "completed": 1, "failed": 0},
    }
    by_day = {d["date"]: (d["created"], d["completed"], d["failed"]) for d in jobs["by_day"]}
    assert list(by_day) == [f"2026-03-{day:02d}" for day in range(3, 11)]
    assert by_day["2026-03-05"] == (1, 1, 0)
    assert by_day["2026-03-08"] == (1, 0, 1)
    assert by_day["2026-03-09"] == (1, 2, 0)
    assert by_day["2026-03-10"] == (2, 1, 0)
    assert by_day["2026-03-04"] == (0, 0, 0)
    assert body["data_processed_bytes"] == 7500
    assert body["requests"] == {"total": 3, "errors": 2, "rate_limited": 1}
    assert body["webhooks"] == {"delivered": 2, "failed": 1}


def test_one_day_metrics(history):
    jobs = metrics(history, "1d")["jobs"]
    assert (jobs["created"], jobs["completed"], jobs["failed"]) == (3, 3, 0)
    assert jobs["success_rate"] == 1.0
    assert (jobs["avg_duration_ms"], jobs["p95_duration_ms"]) == (200, 290)
    assert [d["date"] for d in jobs["by_day"]] == ["2026-03-09", "2026-03-10"]


def test_thirty_day_metrics(history):
    body = metrics(history, "30d")
    jobs = body["jobs"]
    assert (jobs["created"], jobs["completed"], jobs["failed"]) == (7, 5, 1)
    assert len(jobs["by_day"]) == 31
    assert body["data_processed_bytes"] == 7500 + 700 + 10_000
    assert body["requests"] == {"total": 4, "errors": 3, "rate_limited": 1}
    assert body["webhooks"] == {"delivered": 2, "failed": 2}


def test_the_default_period_is_seven_days(history):
    assert metrics(history, None)["period"] == "7d"


def test_a_test_key_sees_test_mode_metrics_only(history):
    body = metrics(history, "7d", test=True)
    assert body["livemode"] is False
    assert (body["jobs"]["created"], body["jobs"]["completed"]) == (1, 1)
    assert body["requests"] == {"total": 1, "errors": 1, "rate_limited": 0}
    assert body["webhooks"] == {"delivered": 0, "failed": 0}


def test_an_account_without_activity_has_zeros_and_no_rates(free):
    body = metrics(free, "30d")
    jobs = body["jobs"]
    assert (jobs["created"], jobs["success_rate"], jobs["avg_duration_ms"], jobs["p95_duration_ms"]) == (0, None, None, None)
    assert jobs["by_type"] == {}
    assert body["data_processed_bytes"] == 0


@pytest.mark.parametrize("period", ["2d", "", "7D", "1w"])
def test_an_unknown_period_is_a_400(free, period):
    response = free.api.get(f"/account/metrics?period={period}")
    assert response.status_code == 400
    assert response.json()["details"] == {"period": ["Must be one of: 1d, 7d, 30d"]}


def test_metrics_are_a_fixed_number_of_aggregate_queries(history, django_assert_num_queries):
    from django.db import connection

    expected = 6 if connection.vendor == "postgresql" else 7  # SQLite: p95 from a list of durations
    with time_machine.travel(NOW, tick=False), django_assert_num_queries(expected):
        account_metrics(history.account, livemode=True, period="30d")


def test_the_python_percentile_matches_postgresql():
    assert percentile_cont([400, 100, 300, 200], 0.95) == 385
    assert percentile_cont([7], 0.95) == 7
    assert percentile_cont([], 0.95) is None
