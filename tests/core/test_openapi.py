"""The OpenAPI document: valid, generated without a warning, and covering
every API route with the responses it really gives (the fuzzer in
tests/fuzz checks the answers against it on a live server)."""

from __future__ import annotations

import re

import pytest
from django.urls import URLPattern, URLResolver, get_resolver
from drf_spectacular.drainage import GENERATOR_STATS
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.validation import validate_schema
from openapi_spec_validator import validate
from rest_framework.views import APIView

HTTP_METHODS = ("get", "post", "put", "patch", "delete")
# Routes that are not API operations: the HTML status page, the docs and the schema itself.
NOT_API = {"/status", "/docs", "/openapi.json"}


@pytest.fixture(scope="module")
def schema():
    GENERATOR_STATS.reset()
    document = SchemaGenerator().get_schema(request=None, public=True)
    warnings = dict(GENERATOR_STATS._warn_cache)
    errors = dict(GENERATOR_STATS._error_cache)
    return document, warnings, errors


def _routes(patterns=None, prefix=""):
    """(path, view) for every route, in OpenAPI path syntax."""
    for entry in get_resolver().url_patterns if patterns is None else patterns:
        route = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            yield from _routes(entry.url_patterns, route)
        elif isinstance(entry, URLPattern):
            path = "/" + re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", route).lstrip("^").rstrip("$")
            yield path, entry.callback


def _api_routes():
    for path, callback in _routes():
        if path.startswith(("/admin/", "/dashboard/", "/static/")) or path in NOT_API:
            continue
        yield path, callback


def _operations(document):
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method in HTTP_METHODS:
                yield path, method, operation


def test_the_schema_is_generated_without_warnings_or_errors(schema):
    _, warnings, errors = schema
    assert warnings == {} and errors == {}


def test_the_schema_is_a_valid_openapi_document(schema):
    document, _, _ = schema
    validate_schema(document)  # drf-spectacular's OpenAPI 3.0 JSON schema
    validate(document)  # openapi-spec-validator: the 3.0 rules a JSON schema cannot state (refs, paths, defaults)


def test_every_api_route_and_method_is_documented_and_nothing_else(schema):
    document, _, _ = schema
    served = set()
    for path, callback in _api_routes():
        view = getattr(callback, "cls", None)
        assert view is not None and issubclass(view, APIView), f"{path} is not a DRF view, so it is not documented"
        allowed = [m for m in HTTP_METHODS if m in view.http_method_names and hasattr(view, m)]
        assert allowed, path
        served |= {(path, m) for m in allowed}
    documented = {(path, method) for path, method, _ in _operations(document)}
    assert documented == served


def test_operation_ids_are_unique(schema):
    document, _, _ = schema
    ids = [operation["operationId"] for _, _, operation in _operations(document)]
    assert len(ids) == len(set(ids))


def test_every_operation_documents_its_errors_in_the_spec_shapes(schema):
    document, _, _ = schema
    # No API key: metrics has its own token; the upload URL of POST /uploads: its token is the
    # credential (403 when bad), no key, no rate limit.
    public = {"/health", "/api/status.json", "/metrics", "/uploads/{upload_id}/content"}
    for path, method, operation in _operations(document):
        responses = operation["responses"]
        codes = {int(code) for code in responses}
        where = f"{method.upper()} {path}"
        assert 400 in codes and 503 in codes, where
        if path not in public:
            assert {401, 403, 429} <= codes, where
            assert operation["security"] == [{"ApiKeyHeader": []}, {"BearerKey": []}] + (
                [{}] if path == "/jobs/{job_id}/output" else []
            ), where
        if "{" in path:
            assert 404 in codes, where
        for code, response in responses.items():
            assert "X-Request-ID" in response.get("headers", {}), (where, code)
            if int(code) >= 400 and path != "/health":
                schema_ref = response["content"]["application/json"]["schema"]["$ref"]
                expected = "ValidationError" if code == "400" else "Error"
                assert schema_ref == f"#/components/schemas/{expected}", (where, code)


def _component(document, ref: str) -> dict:
    return document["components"]["schemas"][ref.rsplit("/", 1)[1]]


def test_bodies_are_json_and_refuse_unknown_fields(schema):
    document, _, _ = schema
    components = document["components"]["schemas"]
    for path, method, operation in _operations(document):
        body = operation.get("requestBody")
        if body is None:
            continue
        where = f"{method.upper()} {path}"
        if path in ("/jobs/stream", "/uploads/{upload_id}/content"):  # the raw body is the file
            assert set(body["content"]) == {"application/octet-stream"}
            continue
        media = set(body["content"])
        assert "application/json" in media, where
        assert media <= {"application/json", "application/x-www-form-urlencoded"}, where
        ref = body["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
        # A body with one schema per type (POST /jobs): each of them refuses unknown fields.
        branches = [_component(document, b["$ref"]) for b in components[ref].get("oneOf", [])] or [components[ref]]
        for branch in branches:
            assert branch["additionalProperties"] is False, where


@pytest.mark.parametrize(
    ("method", "path", "status", "media_types"),
    [
        ("post", "/jobs", "201", {"application/json"}),
        ("post", "/jobs/stream", "201", {"application/json"}),
        ("delete", "/jobs/{job_id}", "204", set()),
        ("delete", "/account/webhooks/{webhook_id}", "204", set()),
        ("post", "/account/webhooks/{webhook_id}/recover", "202", {"application/json"}),
        ("post", "/account/webhooks/deliveries/{delivery_id}/redeliver", "202", {"application/json"}),
        ("get", "/account/logs", "200", {"application/json", "text/csv"}),
        ("get", "/jobs/{job_id}/output", "200", {"*/*"}),
    ],
)
def test_success_statuses_and_media_types_are_the_ones_the_views_give(schema, method, path, status, media_types):
    document, _, _ = schema
    responses = document["paths"][path][method]["responses"]
    successes = [code for code in responses if code.startswith("2")]
    assert successes == [status]
    assert set(responses[status].get("content", {})) == media_types


def test_the_job_object_is_documented_with_every_field_job_data_returns(schema):
    from jobs.models import Job
    from jobs.serializers import job_data

    document, _, _ = schema
    job = Job(id="job_x", name="n", timeout=60)
    documented = document["components"]["schemas"]["JobOut"]
    assert set(documented["properties"]) == set(job_data(job))
    assert set(documented["required"]) == set(job_data(job))


def test_query_parameters_and_headers_are_documented(schema):
    document, _, _ = schema

    def names(path, method):
        return {(p["in"], p["name"]) for p in document["paths"][path][method].get("parameters", [])}

    assert {("query", n) for n in ("status", "type", "name", "created_after", "created_before", "limit", "cursor")} <= names("/jobs", "get")
    assert ("header", "Idempotency-Key") in names("/jobs", "post")
    assert {("query", n) for n in ("filename", "name", "type", "timeout", "webhook_url")} <= names("/jobs/stream", "post")
    assert next(p for p in document["paths"]["/jobs/stream"]["post"]["parameters"] if p["name"] == "filename")["required"]
    assert {("query", n) for n in ("filter", "level", "limit", "sort", "format", "request_id", "cursor")} <= names("/account/logs", "get")
    assert {("query", n) for n in ("include_logs", "limit", "cursor")} <= names("/account/webhooks", "get")
    assert ("query", "period") in names("/account/metrics", "get")
    assert ("query", "ip") in names("/account/security/whitelist", "delete")
    assert ("query", "token") in names("/jobs/{job_id}/output", "get")


def test_the_served_schema_is_the_generated_one(anonymous, db, schema):
    document, _, _ = schema
    served = anonymous.get("/openapi.json").json()
    assert served["paths"].keys() == document["paths"].keys()


def test_every_json_body_has_a_request_example_that_its_schema_accepts(schema):
    import jsonschema

    document, _, _ = schema
    components = document["components"]["schemas"]
    for path, method, operation in _operations(document):
        content = operation.get("requestBody", {}).get("content", {})
        if "application/json" not in content:
            continue
        where = f"{method.upper()} {path}"
        media = content["application/json"]
        assert media.get("examples"), f"{where} has no request example for /docs"
        ref = media["schema"]["$ref"].rsplit("/", 1)[1]
        for example in media["examples"].values():
            jsonschema.validate(example["value"], {**components[ref], "components": {"schemas": components}})
