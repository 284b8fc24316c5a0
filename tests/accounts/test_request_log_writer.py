"""Request-log rows written off the request path, in batches (production default)."""

import pytest

from accounts.models import RequestLog
from accounts.services.request_logs import flush_request_logs
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
