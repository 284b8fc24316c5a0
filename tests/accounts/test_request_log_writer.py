"""Request-log rows written off the request path, in batches (production default)."""

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from accounts.models import RequestLog
from accounts.services.request_logs import COLUMNS, flush_request_logs, write_rows
from tests.conftest import make_persona


@pytest.fixture
def async_logs(settings):
    settings.AIPROD_REQUEST_LOG_ASYNC = True
    settings.AIPROD_REQUEST_LOG_FLUSH_SECONDS = 0.2
    yield
    # The writer thread's connection would keep the test database open.
    flush_request_logs(close_connection=True)


def test_queued_rows_are_written_in_one_batch_after_the_flush_interval(transactional_db, async_logs):
    user = make_persona("pro")
    ids = [user.api.get("/account/api-keys/current")["X-Request-ID"] for _ in range(5)]
    flush_request_logs()
    rows = RequestLog.objects.filter(request_id__in=ids)
    assert rows.count() == 5
    assert {r.status for r in rows} == {200}
    assert user.api.get("/account/logs?limit=10").json()["data"][0]["request_id"] == ids[-1]


def test_the_request_path_makes_no_log_insert(transactional_db, async_logs, django_assert_max_num_queries):
    user = make_persona("pro")
    user.api.get("/account/api-keys/current")  # last_used_at is written once a minute
    with django_assert_max_num_queries(1):  # the key lookup, nothing else
        response = user.api.get("/account/api-keys/current")
    assert response.status_code == 200
    flush_request_logs()
    assert RequestLog.objects.filter(request_id=response["X-Request-ID"]).exists()


@pytest.mark.parametrize("use_copy", [True, False], ids=["copy", "bulk-insert"])
def test_both_batch_writers_store_every_field(db, use_copy):
    if use_copy and connection.vendor != "postgresql":
        pytest.skip("COPY is PostgreSQL's")
    user = make_persona("pro")
    at = timezone.now() - timedelta(minutes=3)
    full = ("req_full", user.account.pk, False, at, "POST", "/jobs", 422, 17, "2001:db8::1", "sk_test_ab12",
            "INVALID_URL", "Tab\there, newline\nthere, backslash \\ and 'quotes'", "job_x")
    sparse = ("req_sparse", user.account.pk, True, at, "GET", "/jobs", 200, 0, None, "", None, None, None)
    write_rows([full, sparse], use_copy=use_copy)
    stored = {
        row.request_id: tuple(getattr(row, name) for name in COLUMNS)
        for row in RequestLog.objects.filter(request_id__in=["req_full", "req_sparse"])
    }
    assert stored == {"req_full": full, "req_sparse": sparse}
