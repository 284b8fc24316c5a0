"""The base every API view stands on: rate-limit headers, JSON parsing; its
authentication and permissions are the REST_FRAMEWORK defaults in settings."""

from rest_framework.views import APIView

from core.parsers import CurlFriendlyFormParser, StrictJSONParser


class ApiView(APIView):
    # Authentication and permissions are REST_FRAMEWORK's defaults in settings
    # (the API key and, in order, rate limit, account, IP allow-list, scope,
    # tier): this module knows no app.
    parser_classes = [StrictJSONParser, CurlFriendlyFormParser]
    required_scopes: dict[str, str] | str | None = None
    required_tier: str | None = None

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        state = getattr(request._request, "aiprod_rate", None)
        if state is not None:
            for name, value in state.headers().items():
                response[name] = value
        return response

    def touch_object(self, object_id: str) -> None:
        """Records which object this request touched (for the job timeline)."""
        self.request._request.aiprod_object_id = object_id
