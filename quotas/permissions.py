"""The per-second rate limit as a DRF permission, installed first among the
API's default permissions in settings (REST_FRAMEWORK), so every
authenticated answer, refusals included, counts and carries the rate headers
(core.api.ApiView adds them)."""

from rest_framework.permissions import BasePermission

from quotas.ratelimit import consume_request


class WithinRateLimit(BasePermission):
    def has_permission(self, request, view):
        request._request.aiprod_rate = consume_request(request._request, request.user)
        return True
