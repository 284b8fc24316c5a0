"""GET /health: public, cheap, honest (SPEC §12)."""

from django.db import DatabaseError, connection
from django.http import JsonResponse
from django.utils import timezone
from django.views.decorators.http import require_GET

from aiprod.timefmt import iso
from aiprod.version import VERSION


def database_answers() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return True
    except DatabaseError:
        return False


@require_GET
def health(request):
    body = {"status": "healthy", "version": VERSION, "timestamp": iso(timezone.now())}
    if not database_answers():
        body["status"] = "unhealthy"
        return JsonResponse(body, status=503, headers={"Retry-After": "5"})
    return JsonResponse(body)
