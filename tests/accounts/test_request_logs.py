"""GET /account/logs: one row per request, filters, CSV, test/live separation."""

import csv
import io

import pytest

from accounts.models import RequestLog


def test_every_authenticated_request_is_logged_with_its_request_id(pro):
    response = pro.api.get("/account/api-keys/current")
    row = RequestLog.objects.get(request_id=response["X-Request-ID"])
    assert row.account_id == pro.account.id
    assert row.status == 200 and row.method == "GET" and row.path == "/account/api-keys/current"
    assert row.api_key_prefix == pro.key[:12]
    assert row.ip == "127.0.0.1"


def test_errors_filter_shows_only_failures_with_their_code(personas):
    user = personas("pro")
    user.api.get("/account/api-keys/current")
    user.api.post("/account/security/whitelist", {"ip": "bad"})
    body = user.api.get("/account/logs?filter=error").json()
    assert [e["status"] for e in body["data"]] == [400]
    assert body["data"][0]["error_code"] == "VALIDATION_FAILED"
    assert user.api.get("/account/logs?level=error").json()["data"] == body["data"]


def test_entries_have_the_spec_fields_newest_first(pro):
    for _ in range(3):
        pro.api.get("/account/api-keys/current")
    data = pro.api.get("/account/logs?limit=2").json()
    assert data["has_more"] is True and len(data["data"]) == 2
    entry = data["data"][0]
    assert set(entry) == {
        "request_id", "timestamp", "method", "path", "status", "duration_ms", "ip", "api_key_prefix", "error_code", "message",
    }
    assert data["data"][0]["timestamp"] >= data["data"][1]["timestamp"]
    rest = pro.api.get(f"/account/logs?limit=2&cursor={data['next_cursor']}").json()
    assert {e["request_id"] for e in rest["data"]}.isdisjoint({e["request_id"] for e in data["data"]})


def test_sort_ascending(pro):
    first = pro.api.get("/account/api-keys/current")["X-Request-ID"]
    pro.api.get("/account/api-keys/current")
    assert pro.api.get("/account/logs?sort=asc").json()["data"][0]["request_id"] == first


def test_request_id_filter(pro):
    rid = pro.api.get("/account/api-keys/current")["X-Request-ID"]
    pro.api.get("/account/api-keys/current")
    data = pro.api.get(f"/account/logs?request_id={rid}").json()["data"]
    assert [e["request_id"] for e in data] == [rid]


def test_csv_export(pro):
    pro.api.get("/account/api-keys/current")
    response = pro.api.get("/account/logs?format=csv")
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert rows[0]["path"] == "/account/api-keys/current"
    assert rows[0]["status"] == "200"


def test_test_mode_logs_are_invisible_to_live_keys(pro):
    rid = pro.test_api.get("/account/api-keys/current")["X-Request-ID"]
    live = pro.api.get(f"/account/logs?request_id={rid}").json()["data"]
    test = pro.test_api.get(f"/account/logs?request_id={rid}").json()["data"]
    assert live == [] and len(test) == 1


def test_another_accounts_logs_are_not_visible(pro, free):
    rid = free.api.get("/account/api-keys/current")["X-Request-ID"]
    assert pro.api.get(f"/account/logs?request_id={rid}").json()["data"] == []


def test_bad_parameters_are_validation_errors(pro):
    body = pro.api.get("/account/logs?limit=5000&sort=up").json()
    assert body["error"] == "Validation failed"
    assert pro.api.get("/account/logs?format=xml").status_code == 400


@pytest.mark.parametrize("cursor", ["²", "٣", "9" * 5000, "9" * 30])
def test_a_cursor_that_is_not_a_log_position_is_a_400_not_a_500(pro, cursor):
    # Was a 500: str.isdigit() accepts "²" and 5000-digit numbers, int() does not.
    response = pro.api.get("/account/logs", data={"cursor": cursor})
    assert response.status_code == 400
    assert response.json()["details"] == {"cursor": ["Invalid cursor"]}


@pytest.mark.parametrize("rows", [1, 40])
def test_the_log_list_costs_the_same_queries_however_many_rows(pro, rows, django_assert_max_num_queries):
    for _ in range(rows):
        pro.api.get("/account/api-keys/current")
    pro.api.get("/account/logs?limit=50")  # last_used_at is written at most once a minute, not here
    # One SELECT for the page, one INSERT for this request's own log row
    # (written inline in the tests, batched off the request path in production).
    with django_assert_max_num_queries(2):
        response = pro.api.get("/account/logs?limit=50")
    assert len(response.json()["data"]) == min(rows + 1, 50)


@pytest.mark.parametrize("message", ["=HYPERLINK(\"https://evil.test\")", "+1+1", "-1+1", "@SUM(A1)",
                                     "\t=1+1", "\r=1+1"])
def test_csv_cells_that_a_spreadsheet_would_run_as_a_formula_are_escaped(pro, message):
    rid = pro.api.get("/account/api-keys/current")["X-Request-ID"]
    RequestLog.objects.filter(request_id=rid).update(message=message)
    response = pro.api.get(f"/account/logs?format=csv&request_id={rid}")
    rows = list(csv.DictReader(io.StringIO(response.content.decode(), newline="")))
    assert rows[0]["message"] == "'" + message
