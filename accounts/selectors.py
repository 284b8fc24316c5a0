"""Reads for the account endpoints."""

from __future__ import annotations

from django.db.models import Q

from accounts import key_cache
from accounts.models import Account, ApiKey, RequestLog
from core import rows
from core.errors import ValidationFailed
from core.pagination import decode_cursor, encode_cursor

MAX_CURSOR_LENGTH = 200


def api_keys_for(account):
    return ApiKey.objects.filter(account=account).order_by("-created_at", "-id")


def request_logs_for(account, *, livemode: bool, errors_only: bool = False, request_id: str | None = None):
    logs = RequestLog.objects.filter(account=account, livemode=livemode)
    if errors_only:
        logs = logs.filter(status__gte=400)
    if request_id:
        logs = logs.filter(request_id=request_id)
    return logs


def request_logs_page(logs, *, limit: int, sort: str = "desc", cursor: str | None = None):
    """One page of request logs in the order the requests happened: by
    created_at, the id only breaking ties. Not by id alone: rows arrive in
    batches from several server processes (the async writer), so insertion
    order is not request order. Returns (rows, has_more, next_cursor); the
    cursor names the last row's (created_at, id). The API, the dashboard's
    page and both CSV exports read through here."""
    if cursor:
        if len(cursor) > MAX_CURSOR_LENGTH:
            raise ValidationFailed({"cursor": ["Invalid cursor"]})
        created_at, raw_id = decode_cursor(cursor)
        try:
            last_id = int(raw_id)
        except ValueError:
            raise ValidationFailed({"cursor": ["Invalid cursor"]}) from None
        if sort == "asc":
            logs = logs.filter(Q(created_at__gt=created_at) | Q(created_at=created_at, id__gt=last_id))
        else:
            logs = logs.filter(Q(created_at__lt=created_at) | Q(created_at=created_at, id__lt=last_id))
    order = ("created_at", "id") if sort == "asc" else ("-created_at", "-id")
    page = list(logs.order_by(*order)[: limit + 1])
    has_more = len(page) > limit
    page = page[:limit]
    return page, has_more, (encode_cursor(page[-1].created_at, str(page[-1].id)) if has_more else None)


def request_logs_for_object(object_id: str):
    return RequestLog.objects.filter(object_id=object_id).order_by("created_at", "id")


def api_key_by_hash(digest: str) -> ApiKey | None:
    """The key with this SHA-256 and its account: one indexed query in plain
    SQL (it runs on every API request, see core.rows), answered from
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
