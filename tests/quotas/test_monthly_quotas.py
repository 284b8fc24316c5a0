"""Monthly job and data quotas (docs/limits.md): exact counting, test mode, month
rollover, rollback, quota.warning once per threshold."""

from __future__ import annotations

import json
import threading
import time
from datetime import date

import pytest
import time_machine
from django.db import connection, transaction

from accounts.models import Account
from core.errors import ApplicationError
from quotas.models import MonthlyUsage, QuotaWarning
from accounts.plans import GB
from quotas.services import QuotaExceeded, consume_data, reserve_job
from core.timefmt import month_start
from tests.conftest import requires_postgres
from webhooks.models import Event


def usage(account) -> MonthlyUsage:
    return MonthlyUsage.objects.get(account=account, month=month_start())


def enterprise(personas, **limits):
    persona = personas("enterprise")
    Account.objects.filter(pk=persona.account.pk).update(**limits)
    persona.account.refresh_from_db()
    return persona.account


def warnings_sent(account) -> list[dict]:
    events = Event.objects.filter(account=account, type="quota.warning").order_by("created_at", "id")
    return [json.loads(e.body)["data"] for e in events]


# --------------------------------------------------------------------------- jobs

def test_a_live_job_is_counted_and_a_test_job_is_not(free):
    reserve_job(free.account, livemode=True)
    reserve_job(free.account, livemode=False)
    assert usage(free.account).jobs_count == 1


def test_test_mode_never_makes_a_usage_row(free):
    for _ in range(3):
        reserve_job(free.account, livemode=False)
    assert not MonthlyUsage.objects.filter(account=free.account).exists()


def test_the_job_past_the_free_quota_is_refused_with_the_guides_message(free):
    MonthlyUsage.objects.create(account=free.account, month=month_start(), jobs_count=99)
    reserve_job(free.account, livemode=True)
    with pytest.raises(ApplicationError) as refused:
        reserve_job(free.account, livemode=True)
    assert refused.value.status == 422
    assert refused.value.code == "QUOTA_EXCEEDED"
    assert refused.value.message == "Monthly job limit (100) exceeded. Upgrade to Pro for 10,000/month."
    assert usage(free.account).jobs_count == 100


def test_a_pro_account_over_quota_is_pointed_at_sales(pro):
    MonthlyUsage.objects.create(account=pro.account, month=month_start(), jobs_count=10_000)
    with pytest.raises(ApplicationError) as refused:
        reserve_job(pro.account, livemode=True)
    assert refused.value.message == "Monthly job limit (10,000) exceeded. Contact sales@aiprod.com for Enterprise limits."


def test_test_mode_jobs_are_admitted_when_the_live_quota_is_used_up(free):
    MonthlyUsage.objects.create(account=free.account, month=month_start(), jobs_count=100)
    reserve_job(free.account, livemode=False)  # no exception


def test_an_enterprise_limit_set_by_staff_applies(personas):
    account = enterprise(personas, jobs_per_month=2)
    reserve_job(account, livemode=True)
    reserve_job(account, livemode=True)
    with pytest.raises(ApplicationError) as refused:
        reserve_job(account, livemode=True)
    assert refused.value.message == "Monthly job limit (2) exceeded. Contact sales@aiprod.com to raise your Enterprise limits."


def test_a_create_that_rolls_back_uncounts_its_job(free):
    reserve_job(free.account, livemode=True)
    with pytest.raises(RuntimeError):
        with transaction.atomic():
            reserve_job(free.account, livemode=True)
            raise RuntimeError("the job insert failed")
    assert usage(free.account).jobs_count == 1


def test_a_refusal_does_not_break_the_callers_transaction(free):
    MonthlyUsage.objects.create(account=free.account, month=month_start(), jobs_count=100)
    with transaction.atomic():
        with pytest.raises(ApplicationError):
            reserve_job(free.account, livemode=True)
        MonthlyUsage.objects.filter(account=free.account).update(jobs_count=50)  # still usable
    assert usage(free.account).jobs_count == 50


def test_months_roll_over_at_midnight_utc(free):
    with time_machine.travel("2026-01-31T23:59:59.900Z", tick=False):
        MonthlyUsage.objects.create(account=free.account, month=month_start(), jobs_count=100)
        with pytest.raises(ApplicationError):
            reserve_job(free.account, livemode=True)
    with time_machine.travel("2026-02-01T00:00:00.000Z", tick=False):
        reserve_job(free.account, livemode=True)
        body = free.api.get("/account/usage").json()
    rows = dict(MonthlyUsage.objects.filter(account=free.account).values_list("month", "jobs_count"))
    assert rows == {date(2026, 1, 1): 100, date(2026, 2, 1): 1}
    assert body["jobs_this_month"] == 1
    assert body["period_start"] == "2026-02-01T00:00:00.000Z"
    assert body["period_end"] == "2026-03-01T00:00:00.000Z"


def test_december_rolls_over_into_january(free):
    with time_machine.travel("2026-12-15T12:00:00Z", tick=False):
        body = free.api.get("/account/usage").json()
    assert (body["period_start"], body["period_end"]) == ("2026-12-01T00:00:00.000Z", "2027-01-01T00:00:00.000Z")


def test_the_month_is_the_utc_month_whatever_the_clients_offset(free):
    # 2026-03-31 22:30 in New York is already April 1st UTC.
    with time_machine.travel("2026-03-31T22:30:00-04:00", tick=False):
        assert month_start() == date(2026, 4, 1)


# --------------------------------------------------------------------------- data

def test_bytes_are_counted_until_the_data_quota_and_the_overflow_is_refused(personas):
    account = enterprise(personas, data_gb_per_month=1)
    consume_data(account, livemode=True, nbytes=GB - 10)
    with pytest.raises(QuotaExceeded) as refused:
        consume_data(account, livemode=True, nbytes=11)
    assert refused.value.code == "QUOTA_EXCEEDED"
    assert refused.value.message == "Monthly data limit (1 GB) exceeded. Contact sales@aiprod.com to raise your Enterprise limits."
    # The bytes were read: the month shows the quota used up.
    assert usage(account).data_bytes == GB
    with pytest.raises(QuotaExceeded):
        consume_data(account, livemode=True, nbytes=1)


def test_the_free_data_message_offers_pro(free):
    MonthlyUsage.objects.create(account=free.account, month=month_start(), data_bytes=GB)
    with pytest.raises(QuotaExceeded) as refused:
        consume_data(free.account, livemode=True, nbytes=1)
    assert refused.value.message == "Monthly data limit (1 GB) exceeded. Upgrade to Pro for 100 GB/month."


def test_test_mode_bytes_count_nothing(free):
    consume_data(free.account, livemode=False, nbytes=5 * GB)
    assert not MonthlyUsage.objects.filter(account=free.account).exists()


# --------------------------------------------------------------------------- quota.warning

def test_job_warnings_go_out_at_80_90_and_100_percent_once_each(personas):
    account = enterprise(personas, jobs_per_month=10)
    sent_after = []
    for _ in range(10):
        reserve_job(account, livemode=True)
        sent_after.append(len(warnings_sent(account)))
    with pytest.raises(ApplicationError):
        reserve_job(account, livemode=True)

    assert sent_after == [0, 0, 0, 0, 0, 0, 0, 1, 2, 3]
    assert warnings_sent(account) == [
        {"quota": "jobs", "threshold": t, "used": t // 10, "limit": 10, "period_start": f"{month_start():%Y-%m}-01T00:00:00.000Z"}
        for t in (80, 90, 100)
    ]
    assert QuotaWarning.objects.filter(account=account).count() == 3


def test_warnings_are_live_mode_events(personas):
    account = enterprise(personas, jobs_per_month=1)
    reserve_job(account, livemode=True)
    events = Event.objects.filter(account=account, type="quota.warning")
    assert [e.livemode for e in events] == [True, True, True]
    assert {json.loads(e.body)["event"] for e in events} == {"quota.warning"}


def test_a_jump_past_several_data_thresholds_sends_each_once(personas):
    account = enterprise(personas, data_gb_per_month=1)
    consume_data(account, livemode=True, nbytes=GB // 2)
    assert warnings_sent(account) == []
    consume_data(account, livemode=True, nbytes=GB * 45 // 100)  # 50 % -> 95 %
    assert [(w["quota"], w["threshold"]) for w in warnings_sent(account)] == [("data", 80), ("data", 90)]
    with pytest.raises(QuotaExceeded):
        consume_data(account, livemode=True, nbytes=GB // 10)  # over: filled to 100 %
    assert [w["threshold"] for w in warnings_sent(account)] == [80, 90, 100]
    assert warnings_sent(account)[-1]["used"] == GB == warnings_sent(account)[-1]["limit"]
    with pytest.raises(QuotaExceeded):
        consume_data(account, livemode=True, nbytes=1)
    assert len(warnings_sent(account)) == 3


def test_a_rolled_back_count_takes_its_warning_with_it(personas):
    account = enterprise(personas, jobs_per_month=1)
    with pytest.raises(RuntimeError):
        with transaction.atomic():
            reserve_job(account, livemode=True)
            raise RuntimeError("job insert failed")
    assert warnings_sent(account) == []
    assert not QuotaWarning.objects.filter(account=account).exists()
    reserve_job(account, livemode=True)
    assert [w["threshold"] for w in warnings_sent(account)] == [80, 90, 100]  # 0 -> 1 of 1 crosses all three


def test_warnings_are_sent_again_in_a_new_month(personas):
    account = enterprise(personas, jobs_per_month=1)
    with time_machine.travel("2026-05-20T10:00:00Z", tick=False):
        reserve_job(account, livemode=True)
    with time_machine.travel("2026-06-02T10:00:00Z", tick=False):
        reserve_job(account, livemode=True)
    assert [w["period_start"] for w in warnings_sent(account) if w["threshold"] == 100] == [
        "2026-05-01T00:00:00.000Z",
        "2026-06-01T00:00:00.000Z",
    ]


# --------------------------------------------------------------------------- concurrency

def run_in_parallel(count: int, work) -> list:
    """`work()` in `count` real threads, each with its own database
    connection, released together by a barrier."""
    barrier = threading.Barrier(count)
    results: list = [None] * count

    def run(i):
        try:
            barrier.wait(timeout=30)
            results[i] = work()
        except Exception as exc:  # noqa: BLE001 - reported in results
            results[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return results


def outcome(result) -> str:
    if isinstance(result, (ApplicationError, QuotaExceeded)):
        return result.code
    if isinstance(result, Exception):
        return repr(result)
    return "ok"


@requires_postgres
@pytest.mark.parametrize("row_exists", [True, False], ids=["month-row-exists", "first-jobs-of-the-month"])
def test_fifty_parallel_reservations_with_ten_left_admit_exactly_ten(transactional_db, personas, row_exists):
    if row_exists:
        account = personas("free").account
        MonthlyUsage.objects.create(account=account, month=month_start(), jobs_count=90)
    else:
        account = enterprise(personas, jobs_per_month=10)

    def create():
        with transaction.atomic():
            reserve_job(account, livemode=True)
            time.sleep(0.01)  # the job's own insert: holds the row lock a moment

    outcomes = [outcome(r) for r in run_in_parallel(50, create)]

    assert outcomes.count("ok") == 10, outcomes
    assert outcomes.count("QUOTA_EXCEEDED") == 40, outcomes
    assert usage(account).jobs_count == (100 if row_exists else 10)
    assert QuotaWarning.objects.filter(account=account, quota="jobs", threshold=100).count() == 1
    assert [w["threshold"] for w in warnings_sent(account)].count(100) == 1


@requires_postgres
def test_parallel_reservations_that_roll_back_leave_room_for_others(transactional_db, personas):
    account = enterprise(personas, jobs_per_month=10)
    counter = iter(range(1000))
    lock = threading.Lock()

    def create():
        with lock:
            n = next(counter)
        with transaction.atomic():
            reserve_job(account, livemode=True)
            if n % 2:
                raise RuntimeError("this create failed after counting")

    outcomes = [outcome(r) for r in run_in_parallel(40, create)]

    # Every admitted-and-committed create is counted; rolled-back ones are not.
    assert usage(account).jobs_count == outcomes.count("ok") == 10


@requires_postgres
def test_parallel_byte_counts_never_pass_the_data_quota(transactional_db, personas):
    account = enterprise(personas, data_gb_per_month=1)
    MonthlyUsage.objects.create(account=account, month=month_start(), data_bytes=GB - 10 * 1_000_000)

    def read_a_megabyte():
        consume_data(account, livemode=True, nbytes=1_000_000)

    outcomes = [outcome(r) for r in run_in_parallel(30, read_a_megabyte)]

    assert outcomes.count("ok") == 10, outcomes
    assert outcomes.count("QUOTA_EXCEEDED") == 20
    assert usage(account).data_bytes == GB
