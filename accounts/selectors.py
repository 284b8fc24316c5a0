"""Reads for the account endpoints."""

from __future__ import annotations

from accounts.models import ApiKey, RequestLog


def api_keys_for(account):
    return ApiKey.objects.filter(account=account).order_by("-created_at", "-id")


def request_logs_for(account, *, livemode: bool, errors_only: bool = False, request_id: str | None = None):
    rows = RequestLog.objects.filter(account=account, livemode=livemode)
    if errors_only:
        rows = rows.filter(status__gte=400)
    if request_id:
        rows = rows.filter(request_id=request_id)
    return rows


def request_logs_for_object(object_id: str):
    return RequestLog.objects.filter(object_id=object_id).order_by("created_at", "id")
