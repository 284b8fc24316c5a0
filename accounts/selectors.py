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


def _columns(model) -> list[str]:
    return [f.column for f in model._meta.concrete_fields]


_KEY_FIELDS: list[str] | None = None
_ACCOUNT_FIELDS: list[str] | None = None
_KEY_LOOKUP_SQL: str | None = None


def api_key_by_hash(digest: str) -> ApiKey | None:
    """The key with this SHA-256 and its account, in one indexed query.

    This runs on every API request, so it is plain SQL over the models'
    columns: the ORM's query compilation cost more than the query itself.
    """
    global _KEY_FIELDS, _ACCOUNT_FIELDS, _KEY_LOOKUP_SQL
    if _KEY_LOOKUP_SQL is None:
        from accounts.models import Account

        _KEY_FIELDS = [f.attname for f in ApiKey._meta.concrete_fields]
        _ACCOUNT_FIELDS = [f.attname for f in Account._meta.concrete_fields]
        key_cols = ", ".join(f'k."{c}"' for c in _columns(ApiKey))
        account_cols = ", ".join(f'a."{c}"' for c in _columns(Account))
        _KEY_LOOKUP_SQL = (
            f"SELECT {key_cols}, {account_cols} FROM {ApiKey._meta.db_table} k "
            f"JOIN {Account._meta.db_table} a ON a.id = k.account_id WHERE k.key_hash = %s"
        )
    from django.db import connection

    from accounts.models import Account

    with connection.cursor() as cursor:
        cursor.execute(_KEY_LOOKUP_SQL, [digest])
        row = cursor.fetchone()
    if row is None:
        return None
    split = len(_KEY_FIELDS)
    key = ApiKey.from_db("default", _KEY_FIELDS, _convert(ApiKey, row[:split], connection))
    key.account = Account.from_db("default", _ACCOUNT_FIELDS, _convert(Account, row[split:], connection))
    return key


_CONVERTERS: dict = {}


def _convert(model, values, connection):
    # Apply the fields' own converters (JSON, booleans on SQLite, datetimes),
    # worked out once per model and database vendor, as the ORM would.
    key = (model, connection.vendor)
    if key not in _CONVERTERS:
        per_field = []
        for field in model._meta.concrete_fields:
            column = field.get_col(model._meta.db_table)
            per_field.append(connection.ops.get_db_converters(column) + column.get_db_converters(connection))
        _CONVERTERS[key] = (per_field, [field.get_col(model._meta.db_table) for field in model._meta.concrete_fields])
    per_field, columns = _CONVERTERS[key]
    out = []
    for converters, column, value in zip(per_field, columns, values):
        for converter in converters:
            value = converter(value, column, connection)
        out.append(value)
    return out
