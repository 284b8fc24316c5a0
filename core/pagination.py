"""Cursor pagination, newest first (docs/jobs.md).

The cursor names the last row seen by (created_at, id), so page N costs one
index range scan like page 1, and rows inserted meanwhile never shift a page.
"""

from __future__ import annotations

import base64
import binascii
from datetime import datetime, timezone

from django.db.models import Q

from core.errors import ValidationFailed


def parse_limit(raw: str | None, *, default: int = 20, maximum: int = 100) -> int:
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValidationFailed({"limit": ["Expected integer, got string"]}) from None
    if not 1 <= value <= maximum:
        raise ValidationFailed({"limit": [f"Must be between 1 and {maximum}"]})
    return value


def encode_cursor(created_at: datetime, pk: str) -> str:
    return base64.urlsafe_b64encode(f"{created_at.isoformat()}|{pk}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        created_raw, pk = base64.urlsafe_b64decode(padded.encode()).decode().split("|", 1)
        created_at = datetime.fromisoformat(created_raw)
        if created_at.tzinfo is None:
            created_at = created_at.replace(tzinfo=timezone.utc)
        # In UTC: a forged offset beyond 15:59 would make PostgreSQL raise.
        return created_at.astimezone(timezone.utc), pk
    except (ValueError, OverflowError, binascii.Error, UnicodeDecodeError):
        raise ValidationFailed({"cursor": ["Invalid cursor"]}) from None


def paginate(queryset, params, *, default_limit: int = 20, max_limit: int = 100) -> tuple[list, bool, str | None]:
    """Returns (rows, has_more, next_cursor) for `?limit=&cursor=`."""
    limit = parse_limit(params.get("limit"), default=default_limit, maximum=max_limit)
    cursor = params.get("cursor")
    queryset = queryset.order_by("-created_at", "-pk")
    if cursor:
        created_at, pk = decode_cursor(cursor)
        queryset = queryset.filter(Q(created_at__lt=created_at) | Q(created_at=created_at, pk__lt=pk))
    rows = list(queryset[: limit + 1])
    has_more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = encode_cursor(rows[-1].created_at, rows[-1].pk) if has_more else None
    return rows, has_more, next_cursor


def list_body(data: list, has_more: bool, next_cursor: str | None) -> dict:
    return {"object": "list", "data": data, "has_more": has_more, "next_cursor": next_cursor}
