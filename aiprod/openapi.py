"""OpenAPI helpers: the API key security scheme and the error shapes, so
every documented operation lists the errors it can really return."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "accounts.authentication.ApiKeyAuthentication"
    name = ["ApiKeyHeader", "BearerKey"]

    def get_security_definition(self, auto_schema):
        return [
            {"type": "apiKey", "in": "header", "name": "X-API-Key"},
            {"type": "http", "scheme": "bearer", "bearerFormat": "sk_live_... / sk_test_..."},
        ]


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
        "details": serializers.DictField(child=serializers.ListField(child=serializers.CharField())),
        "request_id": serializers.CharField(),
    },
)

_ERROR_TEXT = {
    400: "Validation failed",
    401: "Invalid or expired credentials (MISSING_CREDENTIALS, MALFORMED_CREDENTIALS, INVALID_CREDENTIALS, "
    "EXPIRED_KEY, REVOKED_KEY, WRONG_ENVIRONMENT)",
    403: "Insufficient permissions (INSUFFICIENT_SCOPE, TIER_REQUIRED, ACCOUNT_SUSPENDED, IP_NOT_ALLOWED)",
    404: "Not found",
    405: "Method not allowed",
    413: "Payload too large",
    422: "Unprocessable entity",
    429: "Rate limit exceeded (RATE_LIMITED)",
    503: "Service unavailable (SERVICE_UNAVAILABLE, MAINTENANCE)",
}
COMMON_ERRORS = (400, 401, 403, 429, 503)


def error_responses(*statuses: int) -> dict:
    codes = sorted(set(COMMON_ERRORS) | set(statuses))
    return {
        code: OpenApiResponse(ValidationErrorBody if code == 400 else ErrorBody, description=_ERROR_TEXT.get(code, ""))
        for code in codes
    }


def api_doc(*, summary: str, request=None, response=None, status: int = 200, errors=(), **kwargs):
    """extend_schema with the spec's error responses attached."""
    responses = {status: response if response is not None else OpenApiResponse(description="No content")}
    responses.update(error_responses(*errors))
    return extend_schema(summary=summary, request=request, responses=responses, **kwargs)


def any_object(name: str):
    """A free-form JSON object response, for shapes built from dicts."""
    return inline_serializer(name, {"object": serializers.CharField(required=False)})
