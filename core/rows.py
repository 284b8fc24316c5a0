"""Single-row reads in plain SQL for the per-request hot path.

Compiling an ORM queryset (filters, joins, the select list) costs more than
running the query it produces; on an endpoint answering a few hundred
requests a second that is most of the request. These helpers build each
statement once per model and turn the row back into model instances the way
the ORM does (`Model.from_db` with the fields' own converters), so callers
get ordinary instances. Use them only for fixed, hot, primary-key or unique
lookups; everything else stays on the ORM.
"""

from __future__ import annotations

from functools import cache

from django.db import connection
from django.db.models import Model


@cache
def _columns(model: type[Model], alias: str) -> str:
    return ", ".join(f'{alias}."{field.column}"' for field in model._meta.concrete_fields)


@cache
def _attnames(model: type[Model]) -> list[str]:
    return [field.attname for field in model._meta.concrete_fields]


@cache
def _converters(model: type[Model], vendor: str) -> list[tuple[list, object]]:
    """Per concrete field: its converters and column, as the ORM applies
    them (JSON decoding, booleans and datetimes on SQLite, ...)."""
    out = []
    for field in model._meta.concrete_fields:
        column = field.get_col(model._meta.db_table)
        out.append((connection.ops.get_db_converters(column) + column.get_db_converters(connection), column))
    return out


def instance(model: type[Model], values) -> Model:
    converted = []
    for (converters, column), value in zip(_converters(model, connection.vendor), values):
        for converter in converters:
            value = converter(value, column, connection)
        converted.append(value)
    return model.from_db(connection.alias, _attnames(model), converted)


@cache
def select_sql(model: type[Model], where: str, joined: type[Model] | None = None, on: str = "") -> str:
    """SELECT every concrete column of `model` (alias t) and, if given, of
    `joined` (alias j, joined ON `on`), filtered by `where`."""
    columns = _columns(model, "t")
    source = f"{model._meta.db_table} t"
    if joined is not None:
        columns += ", " + _columns(joined, "j")
        source += f" JOIN {joined._meta.db_table} j ON {on}"
    return f"SELECT {columns} FROM {source} WHERE {where}"


def ensure_database() -> None:
    """Raises django.db.OperationalError (answered 503) unless the database
    is reachable: Django's per-request connection health check, run now
    rather than at the first query. It costs nothing extra: the request's
    first query would have run it anyway, and later ones skip it."""
    connection.close_if_health_check_failed()
    connection.ensure_connection()


def fetch_row(statement: str, params: list):
    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        return cursor.fetchone()


def split_row(row, model: type[Model]) -> tuple[list, list]:
    """A joined row split into `model`'s values and the joined model's."""
    width = len(_attnames(model))
    return row[:width], row[width:]


def owned_instance(model: type[Model], pk: str, account_id: str, livemode: bool) -> Model | None:
    """`model`'s row with this primary key in this account and environment."""
    statement = select_sql(model, f't."{model._meta.pk.column}" = %s AND t."account_id" = %s AND t."livemode" = %s')
    row = fetch_row(statement, [pk, account_id, livemode])
    return None if row is None else instance(model, row)
