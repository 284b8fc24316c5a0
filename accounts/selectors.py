"""Reads for the account endpoints."""

from __future__ import annotations

from accounts import key_cache
from accounts.models import Account, ApiKey, RequestLog
from aiprod import rows


def api_keys_for(account):
    return ApiKey.objects.filter(account=account).order_by("-created_at", "-id")


def request_logs_for(account, *, livemode: bool, errors_only: bool = False, request_id: str | None = None):
    logs = RequestLog.objects.filter(account=account, livemode=livemode)
    if errors_only:
        logs = logs.filter(status__gte=400)
    if request_id:
        logs = logs.filter(request_id=request_id)
    return logs


def request_logs_for_object(object_id: str):
    return RequestLog.objects.filter(object_id=object_id).order_by("created_at", "id")


def api_key_by_hash(digest: str) -> ApiKey | None:
    """The key with this SHA-256 and its account: one indexed query in plain
    SQL (it runs on every API request, see aiprod.rows), answered from
    accounts.key_cache while the row is fresh."""
    # A cached key must not hide a database outage: every API request still
    # answers 503 while the database is away (nothing could be logged or
    # billed then), and the health check runs once per request either way.
    rows.ensure_database()
    row = key_cache.cached_row(digest, _api_key_row)
    if row is None:
        return None
    key_values, account_values = rows.split_row(row, ApiKey)
    key = rows.instance(ApiKey, key_values)
    key.account = rows.instance(Account, account_values)
    return key


def _api_key_row(digest: str) -> tuple | None:
    statement = rows.select_sql(ApiKey, 't."key_hash" = %s', Account, 'j."id" = t."account_id"')
    return rows.fetch_row(statement, [digest])
