"""GET /account/logs (and the dashboard's page and CSV) list requests in the
order they happened, whatever order their rows were inserted in: the async
writer of each server process inserts its rows in batches."""

from __future__ import annotations

import contextlib
import csv
import io
import os
import time
from datetime import datetime, timedelta, timezone

import pytest
import requests
from django.db import connection

from accounts.models import RequestLog
from tests.dashboard.conftest import make_customer
from tests.processes import gunicorn, wait_until

T0 = datetime(2026, 11, 30, 12, 0, tzinfo=timezone.utc)


def log_at(account, request_id: str, ms: int) -> RequestLog:
    return RequestLog.objects.create(
        account=account, livemode=True, request_id=request_id, created_at=T0 + timedelta(milliseconds=ms),
        method="GET", path="/account/usage", status=200, duration_ms=1,
    )


@pytest.fixture
def shuffled(pro):
    """Five requests 50 ms apart, inserted in the order 1, 3, 5, 2, 4 (two
    processes' batches), plus two at the very same instant."""
    for n in (1, 3, 5, 2, 4):
        log_at(pro.account, f"req_{n}", n * 50)
    log_at(pro.account, "req_6a", 300)
    log_at(pro.account, "req_6b", 300)
    return pro


def seeded(entries) -> list[str]:
    return [e["request_id"] for e in entries if e["request_id"] in EXPECTED]


EXPECTED = ["req_1", "req_2", "req_3", "req_4", "req_5", "req_6a", "req_6b"]


def test_the_log_is_in_request_time_order_not_insertion_order(shuffled):
    assert seeded(shuffled.api.get("/account/logs").json()["data"]) == EXPECTED[::-1]
    assert seeded(shuffled.api.get("/account/logs?sort=asc").json()["data"]) == EXPECTED


@pytest.mark.parametrize("sort", ["asc", "desc"])
def test_the_cursor_walks_the_same_order_page_by_page(shuffled, sort):
    seen, cursor = [], None
    while True:
        query = {"limit": 2, "sort": sort, "filter": "all"}
        if cursor:
            query["cursor"] = cursor
        body = shuffled.api.get("/account/logs", data=query).json()
        seen += [e["request_id"] for e in body["data"]]
        cursor = body["next_cursor"]
        if not cursor:
            break
    expected = EXPECTED if sort == "asc" else EXPECTED[::-1]
    assert [rid for rid in seen if rid in EXPECTED] == expected
    assert len(seen) == len(set(seen))  # nothing twice across pages


def test_the_csv_export_follows_the_same_order(shuffled):
    text = shuffled.api.get("/account/logs?format=csv&sort=asc").content.decode()
    assert seeded(csv.DictReader(io.StringIO(text))) == EXPECTED


def test_the_dashboard_page_and_its_csv_follow_the_same_order(db):
    customer = make_customer("pro")
    for n in (1, 3, 5, 2, 4):
        log_at(customer.account, f"req_{n}", n * 50)
    log_at(customer.account, "req_6a", 300)
    log_at(customer.account, "req_6b", 300)
    page = customer.client.get("/dashboard/logs").content.decode()
    positions = [page.index(rid + "<") if rid + "<" in page else page.index(rid) for rid in EXPECTED[::-1]]
    assert positions == sorted(positions)
    rows = csv.DictReader(io.StringIO(customer.client.get("/dashboard/logs.csv").content.decode()))
    assert seeded(rows) == EXPECTED[::-1]


def test_the_dashboard_pages_by_time_too(db, monkeypatch):
    from dashboard.views import logs

    monkeypatch.setattr(logs, "PAGE_SIZE", 3)
    customer = make_customer("pro")
    for n in (1, 3, 5, 2, 4):
        log_at(customer.account, f"req_{n}", n * 50)
    first = customer.client.get("/dashboard/logs")
    older = first.context["older_query"]
    assert [r.request_id for r in first.context["rows"]] == ["req_5", "req_4", "req_3"]
    second = customer.client.get("/dashboard/logs?" + older)
    assert [r.request_id for r in second.context["rows"]] == ["req_2", "req_1"]


# --------------------------------------------------------------------------- on the real stack


def _database_url() -> str:
    db = connection.settings_dict
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    return f"postgres://{db['USER']}{password}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


@pytest.mark.e2e
@pytest.mark.slow
def test_requests_served_by_several_server_processes_are_listed_in_the_order_they_were_made(
    transactional_db, personas, tmp_path
):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: gunicorn shares the test database")
    persona = personas("pro")
    env = {
        **os.environ,
        "DATABASE_URL": _database_url(),
        "DJANGO_SETTINGS_MODULE": "aiprod.settings",
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "REDIS_URL": os.environ.get("REDIS_URL", ""),
        "AIPROD_CACHE_PREFIX": f"aiprod-logorder-{os.getpid()}",
        "AIPROD_REQUEST_LOG_ASYNC": "1",  # batches per process, as in production
        "AIPROD_REQUEST_LOG_FLUSH_SECONDS": "0.5",
        "AIPROD_Q_SYNC": "0",
    }
    made = []
    # Three serving processes, each with its own request-log writer and
    # batches, the requests spread over them in turn. (One gunicorn with
    # --workers 3 spreads them too, but lets the kernel choose, so a run may
    # put them all on one worker and prove nothing; separate servers on the
    # same database are the same situation, deterministically.)
    with contextlib.ExitStack() as servers:
        bases = [servers.enter_context(gunicorn(env, tmp_path / f"gunicorn-{n}.log", workers=1, threads=2))
                 for n in range(3)]
        for n in range(18):
            answer = requests.get(bases[n % 3] + "/account/usage", headers={"X-API-Key": persona.key}, timeout=10)
            assert answer.status_code == 200, answer.text
            made.append(answer.headers["X-Request-ID"])
            time.sleep(0.05)

        def all_written():
            return RequestLog.objects.filter(request_id__in=made).count() == len(made)

        wait_until(all_written, timeout=20, what="every server to flush its request-log batch")
        listed = requests.get(bases[0] + "/account/logs", params={"sort": "asc", "limit": 100},
                              headers={"X-API-Key": persona.key}, timeout=10).json()["data"]
        newest_first = requests.get(bases[1] + "/account/logs", params={"limit": 100},
                                    headers={"X-API-Key": persona.key}, timeout=10).json()["data"]
    assert [e["request_id"] for e in listed if e["request_id"] in made] == made
    assert [e["request_id"] for e in newest_first if e["request_id"] in made] == made[::-1]
    # The rows really were inserted out of request order (else this proves nothing).
    inserted = list(RequestLog.objects.filter(request_id__in=made).order_by("id").values_list("request_id", flat=True))
    assert inserted != made
