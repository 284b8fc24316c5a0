"""GET /health: public, cheap, honest (docs/operations.md).

In maintenance mode it answers 200 with "status": "maintenance", whatever the
database says: load balancers route on /health, and an instance they pulled
could not serve the status page, the admin (to end maintenance), or the
API's own 503 MAINTENANCE with Retry-After that tells clients when to return.
"""

from django.db import DatabaseError, connection
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from core.openapi import ValidationErrorBody
from ops.maintenance import current_state
from ops.serializers import HealthOut
from core.timefmt import iso
from core.version import VERSION


def database_answers() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return True
    except DatabaseError:
        return False


def storage_check() -> dict:
    """{"backend", "status", "latency_ms"} of the job files' store (docs/deploy.md)."""
    from jobs.services.storage import check_backend  # health sits above jobs, like ops

    return check_backend()


class HealthView(APIView):
    authentication_classes: list = []
    permission_classes: list = []

    @extend_schema(
        summary="Health check (no authentication)",
        responses={
            200: OpenApiResponse(HealthOut, description='"healthy", or "maintenance" in maintenance mode'),
            503: OpenApiResponse(HealthOut, description='"unhealthy": the database or the object store '
                                 '(storage.status "down") does not answer'),
            400: OpenApiResponse(ValidationErrorBody, description="NUL characters in the URL"),
        },
        parameters=[
            OpenApiParameter("X-Request-ID", OpenApiTypes.STR, OpenApiParameter.HEADER, required=True, response=True),
            OpenApiParameter("Retry-After", OpenApiTypes.INT, OpenApiParameter.HEADER, required=True, response=[503]),
        ],
        examples=[OpenApiExample("healthy", {"status": "healthy", "version": VERSION, "timestamp": "2026-02-04T10:30:45.000Z"})],
    )
    def get(self, request):
        body = {"status": "healthy", "version": VERSION, "timestamp": iso(timezone.now())}
        state = current_state()
        if state.enabled:
            body["status"] = "maintenance"
            body["maintenance"] = {"message": state.message, "until": iso(state.until)}
            return Response(body)
        if not database_answers():
            body["status"] = "unhealthy"
            return Response(body, status=503, headers={"Retry-After": "5"})
        body["storage"] = storage_check()
        if body["storage"]["status"] == "down":
            body["status"] = "unhealthy"
            return Response(body, status=503, headers={"Retry-After": "5"})
        return Response(body)


health = HealthView.as_view()
