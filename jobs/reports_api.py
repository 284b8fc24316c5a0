"""GET /account/usage and GET /account/metrics: the account's quota usage and activity."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework.response import Response

from core.api import ApiView
from core.errors import ValidationFailed
from core.openapi import api_doc
from jobs import reports
from quotas.serializers import MetricsOut, UsageOut, metrics_data, usage_data


class UsageView(ApiView):
    required_scopes = "account.read"

    @api_doc(summary="This month's usage against the plan's quotas, and the current rate window "
                     "(this key's environment: a test key reads test-mode usage)", response=UsageOut)
    def get(self, request):
        livemode = request.auth.livemode
        usage = reports.usage(request.user, livemode=livemode)
        rate = getattr(request._request, "aiprod_rate", None)
        return Response(usage_data(request.user, usage, rate, livemode=livemode))


class MetricsView(ApiView):
    required_scopes = "account.read"

    @api_doc(
        summary="Jobs, requests, webhooks and data over the last day, week or month (this key's environment)",
        response=MetricsOut,
        parameters=[OpenApiParameter("period", OpenApiTypes.STR, enum=list(reports.PERIOD_DAYS), default="7d")],
    )
    def get(self, request):
        period = request.query_params.get("period", "7d")
        if period not in reports.PERIOD_DAYS:
            raise ValidationFailed({"period": ["Must be one of: " + ", ".join(reports.PERIOD_DAYS)]})
        metrics = reports.account_metrics(request.user, livemode=request.auth.livemode, period=period)
        return Response(metrics_data(metrics))
