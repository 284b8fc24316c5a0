"""Logs page: the API's request log with the error filter, request-id search and CSV."""

import csv
import io

import pytest

from tests.conftest import Api


def _traffic(customer):
    api = customer.persona.api
    ok = api.get("/account/api-keys/current")
    bad = api.get("/account/api-keys/key_nope")
    test = customer.persona.test_api.get("/account/api-keys/current")
    return ok["X-Request-ID"], bad["X-Request-ID"], test["X-Request-ID"]


def test_the_log_lists_the_modes_requests(customer):
    ok, bad, test = _traffic(customer)
    html = customer.client.get("/dashboard/logs").content.decode()
    assert ok in html and bad in html and test not in html


def test_the_error_filter_keeps_only_failed_requests(customer):
    ok, bad, _ = _traffic(customer)
    html = customer.client.get("/dashboard/logs?errors=on").content.decode()
    assert bad in html and ok not in html
    assert "NOT_FOUND" in html


def test_a_request_id_finds_its_request(customer):
    ok, bad, _ = _traffic(customer)
    html = customer.client.get(f"/dashboard/logs?request_id={ok}").content.decode()
    assert ok in html and bad not in html


def test_the_csv_export_has_the_apis_columns_and_filter(customer):
    ok, bad, _ = _traffic(customer)
    response = customer.client.get("/dashboard/logs.csv?errors=on")
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert [r["request_id"] for r in rows] == [bad]
    assert rows[0]["status"] == "404" and rows[0]["error_code"] == "NOT_FOUND"


def test_another_accounts_requests_never_show(customer, pro):
    theirs = Api(pro.key).get("/account/api-keys/current")["X-Request-ID"]
    assert theirs not in customer.client.get("/dashboard/logs").content.decode()
    assert "No requests match" in customer.client.get(f"/dashboard/logs?request_id={theirs}").content.decode()


@pytest.mark.parametrize("before", ["²", "9" * 5000])
def test_a_before_position_that_is_not_a_plain_number_is_ignored(customer, before):
    # Was a 500: "²" passed str.isdigit() and int() refused it (and any number of 4300+ digits).
    ok, _, _ = _traffic(customer)
    response = customer.client.get("/dashboard/logs", {"before": before})
    assert response.status_code == 200 and ok in response.content.decode()
