"""The monthly job quota under a race (docs/limits.md): 50 POST /jobs at once, each
in its own thread with its own database connection, released together by a
barrier. Exactly the remaining room is admitted, everyone else gets 422
QUOTA_EXCEEDED, and the month's counter equals the admissions (no lost
update, no overshoot). The service-level races are in
tests/quotas/test_monthly_quotas.py."""

from __future__ import annotations

import itertools

import pytest

from jobs.models import Job
from quotas.models import MonthlyUsage, QuotaWarning
from core.timefmt import month_start
from tests.conftest import Api, requires_postgres
from tests.httpservers import serve
from tests.quotas.test_monthly_quotas import run_in_parallel

pytestmark = [requires_postgres]

PRO_JOBS = 10_000
REFUSAL = "Monthly job limit (10,000) exceeded. Contact sales@aiprod.com for Enterprise limits."


@pytest.mark.parametrize("room", [1, 10], ids=["quota-minus-one", "ten-left"])
def test_fifty_parallel_creates_admit_exactly_the_room_left_in_the_quota(transactional_db, personas, room, settings):
    persona = personas("pro")  # 100 requests/s: the rate limit stays out of the way
    settings.AIPROD_OUTBOUND_WAITS_PER_ACCOUNT = 50  # and so does the cap on parallel URL checks (8)
    MonthlyUsage.objects.create(account=persona.account, month=month_start(), jobs_count=PRO_JOBS - room)
    names = itertools.count(1)

    with serve({"/notes.txt": (200, {"Content-Type": "text/plain"}, b"hello quota")}) as srv:
        def post_job():
            response = Api(persona.key).post(
                "/jobs", {"name": f"race {next(names)}", "input_url": srv.url + "/notes.txt",
                          "type": "document.extract_text"}
            )
            body = response.json()
            return response.status_code, body.get("code"), body.get("message")

        results = run_in_parallel(50, post_job)

    statuses = [(status, code) for status, code, _ in results]
    assert statuses.count((201, None)) == room, results
    assert statuses.count((422, "QUOTA_EXCEEDED")) == 50 - room, results
    assert {message for status, _, message in results if status == 422} == {REFUSAL}
    admitted = Job.objects.filter(account=persona.account, livemode=True).count()
    assert admitted == room
    usage = MonthlyUsage.objects.get(account=persona.account, month=month_start())
    assert usage.jobs_count == PRO_JOBS - room + admitted == PRO_JOBS
    assert QuotaWarning.objects.filter(account=persona.account, quota="jobs", threshold=100).count() == 1
