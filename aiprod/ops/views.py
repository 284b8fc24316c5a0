"""HTTP for operations: /diagnostics (any valid key), /api/status.json and
/status (public). Thin: the readings live in diagnostics.py and status.py."""

from django.shortcuts import render
from django.views.decorators.http import require_safe
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from aiprod.api import ApiView
from aiprod.ops import diagnostics, status


class DiagnosticsView(ApiView):
    """Any valid key may read it: no scope, no tier."""

    @extend_schema(summary="Detailed diagnostics", responses={200: OpenApiTypes.OBJECT})
    def get(self, request):
        return Response(diagnostics.collect())


class StatusSummaryView(APIView):
    authentication_classes: list = []
    permission_classes: list = []

    @extend_schema(summary="Status page summary (Atlassian Statuspage shape)", responses={200: OpenApiTypes.OBJECT})
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
