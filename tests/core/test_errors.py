"""The error contract of docs/errors.md on DRF and plain Django paths alike."""

import pytest
from django.test import Client


@pytest.fixture
def raw_client():
    return Client(raise_request_exception=False)


def assert_error_shape(response, status, code):
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert body["code"] == code
    assert body["message"]
    assert body["request_id"] == response["X-Request-ID"]
    return body


def test_an_unknown_path_is_a_json_404(anonymous, db):
    body = assert_error_shape(anonymous.get("/nope"), 404, "NOT_FOUND")
    assert body["error"] == "Not found"


def test_a_trailing_slash_is_not_an_alias(pro):
    assert_error_shape(pro.api.get("/account/api-keys/current/"), 404, "NOT_FOUND")


def test_a_wrong_method_is_a_json_405(pro):
    assert_error_shape(pro.api.request("PUT", "/account/api-keys/current", {}), 405, "METHOD_NOT_ALLOWED")


@pytest.mark.parametrize("path", ["/status", "/api/status.json", "/health"])
def test_a_wrong_method_on_a_plain_django_page_is_a_json_405_too(anonymous, db, path):
    response = anonymous.post(path, {})
    assert response.status_code == 405
    body = response.json()
    assert (body["code"], body["request_id"]) == ("METHOD_NOT_ALLOWED", response["X-Request-ID"])
    assert "GET" in response["Allow"]


def test_malformed_json_is_a_validation_error(pro):
    response = pro.api.post("/account/api-keys", '{"name": ', content_type="application/json")
    assert response.status_code == 400
    body = response.json()
    assert body["error"] == "Validation failed"
    assert body["details"]["body"][0].startswith("Malformed JSON")


def test_a_json_array_body_is_a_validation_error(pro):
    response = pro.api.post("/account/api-keys", "[1, 2]", content_type="application/json")
    assert response.status_code == 400
    assert response.json()["details"]["body"] == ["Expected object, got array"]


def test_nul_characters_in_json_are_refused(pro):
    response = pro.api.post("/account/api-keys", '{"name": "a\\u0000b"}', content_type="application/json")
    assert response.status_code == 400


def test_nul_bytes_in_the_query_are_refused(pro):
    response = pro.api.get("/account/logs?request_id=req%00x")
    assert response.status_code == 400
    assert response.json()["error"] == "Validation failed"


def test_a_wrong_content_type_is_a_400(pro):
    response = pro.api.post("/account/api-keys", "name=x", content_type="text/plain")
    assert response.status_code == 400
    assert "Content-Type" in response.json()["details"]


def test_curl_style_json_sent_as_a_form_is_read_as_json(pro):
    response = pro.api.post("/account/api-keys", '{"name": "from curl"}', content_type="application/x-www-form-urlencoded")
    assert response.status_code == 201
    assert response.json()["name"] == "from curl"


def test_a_body_over_one_megabyte_is_413(pro):
    big = '{"name": "' + "x" * (2 * 1024 * 1024) + '"}'
    body = assert_error_shape(pro.api.post("/account/api-keys", big, content_type="application/json"), 413, "PAYLOAD_TOO_LARGE")
    assert body["error"] == "Payload too large"


def test_a_sane_client_request_id_is_echoed(pro):
    response = pro.api.get("/account/api-keys/current", headers={"X-Request-ID": "my-trace-123"})
    assert response["X-Request-ID"] == "my-trace-123"


def test_an_insane_client_request_id_is_replaced(pro):
    response = pro.api.get("/account/api-keys/current", headers={"X-Request-ID": "<script>" * 40})
    assert response["X-Request-ID"].startswith("req_")


def test_an_unhandled_bug_is_a_json_500_without_a_trace(raw_client, settings, db):
    settings.ROOT_URLCONF = "tests.core.boom_urls"
    response = raw_client.get("/boom")
    body = assert_error_shape(response, 500, "INTERNAL_ERROR")
    assert body["error"] == "Internal server error"
    assert "RuntimeError" not in response.content.decode()


def test_a_database_outage_is_a_503_with_retry_after(raw_client, settings, db):
    settings.ROOT_URLCONF = "tests.core.boom_urls"
    response = raw_client.get("/db-down")
    assert_error_shape(response, 503, "SERVICE_UNAVAILABLE")
    assert response["Retry-After"] == "5"


def test_django_ratelimits_refusal_is_the_json_429(raw_client, settings, db):
    settings.ROOT_URLCONF = "tests.core.boom_urls"
    assert raw_client.get("/once-an-hour").status_code == 200
    response = raw_client.get("/once-an-hour")  # django-ratelimit raises Ratelimited (a PermissionDenied)
    body = assert_error_shape(response, 429, "RATE_LIMITED")
    assert body["message"] == "Rate limit exceeded. Retry after 1 second" and response["Retry-After"] == "1"


def test_health_is_public_and_reports_the_version(anonymous, db):
    response = anonymous.get("/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "healthy"
    assert body["version"].startswith("33.")
    assert body["timestamp"].endswith("Z")


@pytest.mark.parametrize("content_type", ["application/json", "application/x-www-form-urlencoded"])
def test_json_nested_too_deeply_is_a_validation_error_not_a_500(pro, content_type):
    response = pro.api.post("/account/api-keys", "[" * 200_000, content_type=content_type)
    assert response.status_code == 400
    body = response.json()
    assert body["error"] == "Validation failed"
    assert body["details"]["body"] == ["Malformed JSON: nested too deeply"]
    assert body["request_id"] == response["X-Request-ID"]
