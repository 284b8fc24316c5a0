"""OpenAPI helpers: the API key security scheme and the error shapes, so
every documented operation lists the errors it can really return.

`api_doc(...)` is the one decorator API views use: it documents the success
response (one media type or several), the errors of docs/errors.md the operation can
answer, and the response headers every answer carries (X-Request-ID always,
X-RateLimit-* after authentication, Retry-After on 429/503,
WWW-Authenticate on 401).
"""

from drf_spectacular.extensions import OpenApiAuthenticationExtension, OpenApiSerializerExtension
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "accounts.authentication.ApiKeyAuthentication"
    name = ["ApiKeyHeader", "BearerKey"]

    def get_security_definition(self, auto_schema):
        return [
            {"type": "apiKey", "in": "header", "name": "X-API-Key"},
            {"type": "http", "scheme": "bearer", "bearerFormat": "sk_live_... / sk_test_..."},
        ]

    def get_security_requirement(self, auto_schema):
        # Either header authenticates (OR), not both together (AND).
        return [{name: []} for name in self.name]


class StrictSerializerScheme(OpenApiSerializerExtension):
    """StrictSerializer bodies refuse unknown fields (400): say so."""

    target_class = "core.fields.StrictSerializer"
    match_subclasses = True

    def map_serializer(self, auto_schema, direction):
        schema = auto_schema._map_serializer(self.target, direction, bypass_extensions=True)
        schema["additionalProperties"] = False
        return schema


ErrorBody = inline_serializer(
    "Error",
    {
        "error": serializers.CharField(),
        "code": serializers.CharField(),
        "message": serializers.CharField(),
        "request_id": serializers.CharField(),
    },
)
ValidationErrorBody = inline_serializer(
    "ValidationError",
    {
        "error": serializers.CharField(),
        "details": serializers.DictField(
            help_text='{"field": ["message", ...]}; nested objects for per-item errors'
        ),
        "request_id": serializers.CharField(),
    },
)

_ERROR_TEXT = {
    400: "Validation failed (malformed JSON, NUL bytes, wrong field types, unknown values)",
    401: "Invalid or expired credentials (MISSING_CREDENTIALS, MALFORMED_CREDENTIALS, INVALID_CREDENTIALS, "
    "EXPIRED_KEY, REVOKED_KEY, WRONG_ENVIRONMENT)",
    403: "Insufficient permissions (INSUFFICIENT_SCOPE, TIER_REQUIRED, ACCOUNT_SUSPENDED, IP_NOT_ALLOWED)",
    404: "Not found (NOT_FOUND): unknown id, or another account's or environment's",
    405: "Method not allowed",
    409: "Conflict",
    413: "Payload too large (PAYLOAD_TOO_LARGE)",
    422: "Unprocessable entity (INVALID_STATE, INVALID_URL, QUOTA_EXCEEDED, ...)",
    429: "Rate limit exceeded (RATE_LIMITED)",
    503: "Service unavailable (SERVICE_UNAVAILABLE, MAINTENANCE)",
}
COMMON_ERRORS = (400, 401, 403, 429, 503)
# A public endpoint: no key, so no 401/403/429 and no rate headers.
PUBLIC_ERRORS = (400, 503)

_REQUEST_ID = OpenApiParameter(
    "X-Request-ID", OpenApiTypes.STR, OpenApiParameter.HEADER, required=True, response=True,
    description="req_..., or the client's own X-Request-ID when it is of sane form",
)


def _response_headers(success: int, errors, *, rate_limited: bool = True) -> list[OpenApiParameter]:
    headers = [_REQUEST_ID]
    if 401 in errors:
        headers.append(
            OpenApiParameter("WWW-Authenticate", OpenApiTypes.STR, OpenApiParameter.HEADER, required=True,
                             response=[401])
        )
    for status in (429, 503):
        if status in errors:
            headers.append(
                OpenApiParameter("Retry-After", OpenApiTypes.INT, OpenApiParameter.HEADER, required=status == 429,
                                 response=[status], description="Seconds to wait (whole seconds, >= 1)")
            )
    if 401 in errors and rate_limited:  # an API-key endpoint: its answers carry the rate window
        for name, text in (
            ("X-RateLimit-Limit", "Requests per second allowed"),
            ("X-RateLimit-Remaining", "Requests left in this second"),
            ("X-RateLimit-Reset", "When the window resets (Unix seconds)"),
        ):
            headers.append(
                OpenApiParameter(name, OpenApiTypes.INT, OpenApiParameter.HEADER, response=[success, 429],
                                 description=text)
            )
    return headers


def error_responses(*statuses: int, common=COMMON_ERRORS) -> dict:
    codes = sorted(set(common) | set(statuses))
    return {
        code: OpenApiResponse(ValidationErrorBody if code == 400 else ErrorBody, description=_ERROR_TEXT.get(code, ""))
        for code in codes
    }


def api_doc(*, summary: str, request=None, response=None, status: int = 200, errors=(), parameters=(),
            public: bool = False, redirect: str | None = None, **kwargs):
    """extend_schema with the spec's error responses and response headers attached.

    ``response``: a serializer or type, ``None`` for no body, or a dict
    ``{media_type: schema}`` when the answer comes in several media types.
    ``errors``: the statuses beyond the ones every API answer may carry
    (400, 401, 403, 429, 503; ``public=True``: 400 and 503 only).
    ``redirect``: when the operation may also answer 302, what Location is.
    """
    if response is None:
        responses = {status: OpenApiResponse(description="No content")}
    elif isinstance(response, dict):
        responses = {(status, media_type): schema for media_type, schema in response.items()}
    else:
        responses = {status: response}
    common = PUBLIC_ERRORS if public else COMMON_ERRORS
    errors = tuple(errors)
    responses.update(error_responses(*errors, common=common))
    codes = set(common) | set(errors)
    extra = []
    if redirect:
        responses[302] = OpenApiResponse(description=redirect)
        extra.append(OpenApiParameter("Location", OpenApiTypes.URI, OpenApiParameter.HEADER, required=True,
                                      response=[302], description=redirect))
    return extend_schema(
        summary=summary,
        request=request,
        responses=responses,
        parameters=[*parameters, *_response_headers(status, codes, rate_limited=not public), *extra],
        **kwargs,
    )


def int_query(name: str, *, minimum: int | None = None, maximum: int | None = None, description: str = ""):
    """A query parameter that must be an integer (within bounds, else 400)."""
    schema = {"type": "integer"}
    if minimum is not None:
        schema["minimum"] = minimum
    if maximum is not None:
        schema["maximum"] = maximum
    return OpenApiParameter(name, schema, OpenApiParameter.QUERY, description=description)


# A next_cursor: unpadded base64url (core/pagination.py).
CURSOR_PATTERN = "^[A-Za-z0-9_-]{0,200}$"
# The URLs the API takes before it resolves their host: a scheme, a host name,
# an optional port, no white space (IPv6 literals are accepted too, though
# these patterns leave them out).
_URL_REST = "://[A-Za-z0-9.-]+(:[0-9]{1,4})?([/?#][^\\s]*)?$"
HTTPS_URL_PATTERN = "^[hH][tT][tT][pP][sS]" + _URL_REST  # a job's webhook_url
HTTP_URL_PATTERN = "^[hH][tT][tT][pP][sS]?" + _URL_REST  # a webhook endpoint (https:// outside development)


def str_query(name: str, *, description: str = "", **kwargs):
    return OpenApiParameter(name, OpenApiTypes.STR, OpenApiParameter.QUERY, description=description, **kwargs)


def request_examples(**named: dict) -> list[OpenApiExample]:
    """Request bodies shown in /docs (``examples=request_examples(Minimal={...})``);
    the first is what "Try it out" pre-fills."""
    return [OpenApiExample(name.replace("_", " "), value=value, request_only=True) for name, value in named.items()]
