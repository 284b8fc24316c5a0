"""An account pointing many creates at a slow server cannot hold the API (docs/limits.md).

Real gunicorn (two gthread workers, as scripts/run.sh serves with Redis), a
real local HTTP server that answers only after 10 s, and Redis counting the
account's outbound waits across both processes: of 50 concurrent creates
against the slow URL, only AIPROD_OUTBOUND_WAITS_PER_ACCOUNT wait, the rest
are answered 429 at once, and another account's GET /jobs/{id} keeps
answering within a second throughout. (Without the cap, the 50 waits fill
all 16 threads for 10 s and that GET waits with them.)
"""

from __future__ import annotations

import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from django.conf import settings

from tests.conftest import make_persona
from tests.httpservers import Response, serve
from tests.processes import gunicorn
from tests.resilience.conftest import database_url_under_test

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.postgres]

CAP = 5
STORM = 50
SLOW_SECONDS = 10


@pytest.fixture
def two_accounts(transactional_db):
    if not settings.REDIS_URL:
        pytest.skip("needs Redis: the cap is shared by the gunicorn workers through it")
    return make_persona("pro"), make_persona("pro")


def test_fifty_slow_creates_of_one_account_do_not_delay_another_accounts_reads(two_accounts, tmp_path):
    busy, other = two_accounts
    routes = {
        "/slow.mp4": Response(delay=SLOW_SECONDS, status=200, headers={"Content-Type": "video/mp4"}, body=b""),
        "/fast.mp4": (200, {"Content-Type": "video/mp4"}, b""),
    }
    env = {
        **os.environ,
        "DATABASE_URL": database_url_under_test(),
        "DJANGO_SETTINGS_MODULE": "aiprod.test_settings",
        "AIPROD_CACHE_PREFIX": f"aiprod-slow-outbound-{os.getpid()}-{time.monotonic_ns()}",
        "AIPROD_OUTBOUND_WAITS_PER_ACCOUNT": str(CAP),
        "AIPROD_Q_SYNC": "0",  # created jobs wait in the queue; nothing runs them here
        "AIPROD_REQUEST_LOG_ASYNC": "1",  # as in production (the unit-test settings write each row inline)
    }
    with serve(routes) as files, gunicorn(env, tmp_path / "gunicorn.log", workers=2, threads=8) as base:
        created = requests.post(f"{base}/jobs", headers={"X-API-Key": other.key}, timeout=15,
                                json={"name": "the other account's job", "input_url": files.url + "/fast.mp4"})
        assert created.status_code == 201, created.text
        job_url = f"{base}/jobs/{created.json()['id']}"

        def slow_create(i: int) -> tuple[requests.Response, float]:
            response = requests.post(f"{base}/jobs", headers={"X-API-Key": busy.key}, timeout=30,
                                     json={"name": f"slow {i}", "input_url": files.url + "/slow.mp4"})
            return response, time.monotonic()

        reads: list[tuple[float, float, int]] = []  # (started, seconds, status)
        stop = threading.Event()

        def read_other_job() -> None:
            while not stop.is_set():
                started = time.monotonic()
                status = requests.get(job_url, headers={"X-API-Key": other.key}, timeout=15).status_code
                reads.append((started, time.monotonic() - started, status))
                time.sleep(0.05)

        reader = threading.Thread(target=read_other_job, daemon=True)
        reader.start()
        storm_started = time.monotonic()
        with ThreadPoolExecutor(max_workers=STORM) as pool:
            answered = list(pool.map(slow_create, range(STORM)))  # the admitted ones answer after ~10 s
        answers = [response for response, _ in answered]
        storm_took = time.monotonic() - storm_started
        stop.set()
        reader.join(timeout=20)
        slow_requests = [r for r in files.requests if r.path == "/slow.mp4"]

    statuses = sorted(a.status_code for a in answers)
    assert statuses.count(429) == STORM - CAP, statuses
    # The admitted ones waited the 10 s: the answer came just in time (201) or just too late (422).
    admitted = [a for a in answers if a.status_code != 429]
    assert {a.status_code for a in admitted} <= {201, 422}, statuses
    assert all(a.elapsed.total_seconds() >= SLOW_SECONDS - 0.5 for a in admitted)
    refused = [a for a in answers if a.status_code == 429]
    assert all(a.json()["code"] == "RATE_LIMITED" and 1 <= int(a.headers["Retry-After"]) <= 10 for a in refused)
    assert all(a.elapsed.total_seconds() < 5 for a in refused)
    # Only the admitted creates reached the slow server (a HEAD each).
    assert len(slow_requests) == CAP
    # The other account was served all along. While the admitted creates
    # waited on the slow server (after the refusals' burst, which costs CPU on
    # a small shared machine), every read came back within a second; none
    # ever waited for the slow server (without the cap they wait 10 s or more).
    assert storm_took >= SLOW_SECONDS - 1
    assert {status for _, _, status in reads} == {200}
    burst_over = max(at for response, at in answered if response.status_code == 429)
    during_waits = [seconds for started, seconds, _ in reads if started >= burst_over]
    assert len(during_waits) >= 10
    assert max(during_waits) < 1.0, sorted(during_waits)[-5:]
    assert max(seconds for _, seconds, _ in reads) < 3.0, sorted(reads, key=lambda r: r[1])[-5:]
