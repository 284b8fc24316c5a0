"""HTTP for operations: /diagnostics (any valid key; the full reading for
staff at /admin/diagnostics/), /api/status.json and /status (public). Thin:
the readings live in diagnostics.py and status.py."""

from django.http import JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_safe
from drf_spectacular.utils import OpenApiParameter
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api import ApiView
from core.openapi import api_doc
from ops import diagnostics, status
from ops.serializers import DiagnosticsOut, StatusSummaryOut


class DiagnosticsView(ApiView):
    """Any valid key may read it: no scope, no tier. No key counts as staff:
    host name and versions are left out (staff_diagnostics has them)."""

    @api_doc(summary="Detailed diagnostics (any valid key)", response=DiagnosticsOut)
    def get(self, request):
        body = diagnostics.collect()
        # A bucket that does not answer: 503 with the component's status (the database's is moot here).
        return Response(body, status=503 if body["status"] == "unhealthy" else 200)


@require_safe
def staff_diagnostics(request):
    """The /diagnostics body with host name and versions, for staff logged in
    to the admin (wrapped by admin.site.admin_view in aiprod/urls.py)."""
    return JsonResponse(diagnostics.collect(staff=True))


class StatusSummaryView(APIView):
    authentication_classes: list = []
    permission_classes: list = []

    @api_doc(summary="Status page summary (Atlassian Statuspage shape; no key needed)", response=StatusSummaryOut,
             public=True, parameters=[
                 OpenApiParameter("Access-Control-Allow-Origin", str, OpenApiParameter.HEADER, response=[200],
                                  required=True, enum=["*"]),
             ])
    def get(self, request):
        body = status.summary(page_url=request.build_absolute_uri("/status"))
        # Public and read-only: status widgets on other sites may fetch it.
        return Response(body, headers={"Access-Control-Allow-Origin": "*", "Cache-Control": "max-age=5"})


@require_safe
def status_page(request):
    summary = status.summary(page_url=request.build_absolute_uri("/status"))
    context = {
        "summary": summary,
        "components": [{**c, "label": status.LABELS[c["status"]]} for c in summary["components"]],
        "maintenances": [
            {**m, "status_label": status.LABELS[m["status"]]} for m in summary["scheduled_maintenances"]
        ],
    }
    return render(request, "status.html", context)
