"""Baselines served by the same gunicorn and database as the API, so the
benchmark's ratios compare like with like. Mounted only when
AIPROD_BENCH_BASELINES=1 (never in production)."""

from django.db import connection
from django.http import JsonResponse
from django.urls import path
from rest_framework.response import Response
from rest_framework.views import APIView


def bare_json(request):
    """The stack's limit: Django routing + a tiny JSON body, no database."""
    return JsonResponse({"ok": True})


class BareLookup(APIView):
    """A bare DRF view doing one indexed SELECT by key."""

    authentication_classes: list = []
    permission_classes: list = []

    def get(self, request, job_id):
        with connection.cursor() as cursor:
            cursor.execute("SELECT id, name, status, created_at FROM jobs_job WHERE id = %s", [job_id])
            row = cursor.fetchone()
        if row is None:
            return Response({"error": "not found"}, status=404)
        return Response({"id": row[0], "name": row[1], "status": row[2], "created_at": row[3]})


class BareInsert(APIView):
    """A bare DRF view doing one one-row INSERT."""

    authentication_classes: list = []
    permission_classes: list = []

    def post(self, request):
        with connection.cursor() as cursor:
            cursor.execute("INSERT INTO bench_rows (payload) VALUES (%s) RETURNING id", ["x"])
            new_id = cursor.fetchone()[0]
        return Response({"id": new_id}, status=201)


urlpatterns = [
    path("bench/bare-json", bare_json),
    path("bench/bare-lookup/<str:job_id>", BareLookup.as_view()),
    path("bench/bare-insert", BareInsert.as_view()),
]
