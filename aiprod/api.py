"""The base every API view stands on: authentication, authorization in a
fixed order, rate-limit headers, JSON parsing."""

from rest_framework.views import APIView

from accounts.authentication import ApiKeyAuthentication
from accounts.permissions import AccountActive, HasScope, HasTier, IpAllowed, WithinRateLimit
from aiprod.parsers import CurlFriendlyFormParser, StrictJSONParser


class ApiView(APIView):
    authentication_classes = [ApiKeyAuthentication]
    # Order matters: who you are, how fast (so every authenticated answer,
    # refusals included, counts and carries the rate headers), whether you
    # may be here at all, then what this key may do.
    permission_classes = [WithinRateLimit, AccountActive, IpAllowed, HasScope, HasTier]
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
