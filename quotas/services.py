"""Monthly quotas (docs/limits.md): live jobs created and input bytes read per
calendar month (UTC), counted exactly under concurrency.

Each counter is checked and counted by ONE conditional statement:

    UPDATE quotas_monthlyusage SET jobs_count = jobs_count + 1
     WHERE account_id = .. AND month = .. AND jobs_count + 1 <= limit
    RETURNING jobs_count

Zero rows means "no room". PostgreSQL locks the updated row until the
caller's transaction ends, so concurrent creates queue on it and exactly
`limit` of them get a row back; a create that rolls back un-counts itself.
The month's row is made on first use with INSERT ... ON CONFLICT DO NOTHING.
SQLite (the zero-setup `make run`) runs the same SQL and serialises writers.

Test mode (livemode=False) counts nothing. Crossing 80 %, 90 % or 100 % of a
quota records a QuotaWarning row (unique per account, month, quota,
threshold) and emits `quota.warning`, in the same transaction as the count.
"""

from __future__ import annotations

from datetime import date, datetime, timezone as dt_timezone

from django.db import connection, transaction
from django.utils import timezone

from core.errors import ApplicationError
from core.events import publish_account_event
from core.timefmt import iso, month_start
from quotas.models import MonthlyUsage, QuotaWarning
from quotas.selectors import monthly_usage
from accounts.plans import format_gb, limits_for, upgrade_hint

WARNING_THRESHOLDS = (80, 90, 100)

# Bytes counted per consume_data call by DataMeter: one UPDATE per MiB read
# instead of one per 64 KiB chunk; reading stops at most this far past the quota.
METER_STEP_BYTES = 1024 * 1024

_COUNTERS = {"jobs": "jobs_count", "data": "data_bytes"}


class QuotaExceeded(Exception):
    """The account's monthly data quota has no room for bytes just read.
    The job pipeline fails the job with `code` and `message` and stops reading."""

    code = "QUOTA_EXCEEDED"

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def period_bounds(month: date) -> tuple[datetime, datetime]:
    """[start, end) of a usage month as aware UTC datetimes."""
    start = datetime(month.year, month.month, 1, tzinfo=dt_timezone.utc)
    end = datetime(month.year + month.month // 12, month.month % 12 + 1, 1, tzinfo=dt_timezone.utc)
    return start, end


def reserve_job(account, *, livemode: bool) -> None:
    """Counts one job in this month's quota, atomically, inside the caller's
    transaction; raises ApplicationError(422, QUOTA_EXCEEDED) when over.

    Side effects: one UPDATE of the month's MonthlyUsage row (an INSERT too on
    the month's first job), a QuotaWarning row and a quota.warning event when
    the count reaches 80/90/100 %. Call it once per job at create, never on retry.
    """
    if not livemode:
        return
    limit = limits_for(account).jobs_per_month
    month = month_start()
    # savepoint=False: no extra round trips; nothing in here raises except a
    # database error, which dooms the caller's transaction anyway.
    with transaction.atomic(savepoint=False):
        used = _add(account.pk, month, "jobs", 1, limit)
        if used is not None:
            _warn(account, month, "jobs", before=used - 1, after=used, limit=limit)
    if used is None:
        raise _job_limit_exceeded(account, limit)


def check_job_room(account, *, livemode: bool) -> None:
    """Raises the same 422 QUOTA_EXCEEDED as reserve_job when this month's
    job quota is already used up; counts nothing. For requests that would
    otherwise do costly work first (an upload's body); reserve_job stays the
    race-safe authority."""
    if not livemode:
        return
    limit = limits_for(account).jobs_per_month
    if monthly_usage(account).jobs_count >= limit:
        raise _job_limit_exceeded(account, limit)


def _job_limit_exceeded(account, limit: int) -> ApplicationError:
    return ApplicationError(
        422, "QUOTA_EXCEEDED", f"Monthly job limit ({limit:,}) exceeded. {upgrade_hint(account.tier, 'jobs')}"
    )


def consume_data(account, *, livemode: bool, nbytes: int) -> None:
    """Counts `nbytes` of input just read against this month's data quota;
    raises QuotaExceeded when they do not fit.

    Side effects: one UPDATE of MonthlyUsage.data_bytes. When the bytes do not
    fit, the counter is raised to the limit (the bytes were read; the month
    shows 100 % used) and then QuotaExceeded is raised. Warnings as for jobs.
    """
    if not livemode or nbytes <= 0:
        return
    limit = limits_for(account).data_bytes_per_month
    month = month_start()
    with transaction.atomic(savepoint=False):
        used = _add(account.pk, month, "data", nbytes, limit)
        if used is not None:
            _warn(account, month, "data", before=used - nbytes, after=used, limit=limit)
        elif _fill_to_limit(account.pk, month, limit):
            # Jumped past one or more thresholds without an exact `before`:
            # offer all of them; the unique rows drop those already sent.
            _warn(account, month, "data", before=-1, after=limit, limit=limit)
    if used is None:
        raise QuotaExceeded(
            f"Monthly data limit ({format_gb(limit)}) exceeded. {upgrade_hint(account.tier, 'data')}"
        )


class DataMeter:
    """An `on_progress(total_bytes_so_far)` callback for input downloads and
    uploads that counts what was read in METER_STEP_BYTES steps.

        meter = DataMeter(account, livemode=job.livemode)
        result = outbound.download(url, f, max_bytes=..., on_progress=meter)
        meter.finish(result.size_bytes)   # counts the tail below one step

    `already_counted`: bytes of this same input counted before (an earlier
    attempt); only what is read beyond them counts. `on_counted(total)` is
    called after each successful count, to remember that high-water mark.
    Raises QuotaExceeded from the callback, which stops the read.
    """

    def __init__(self, account, *, livemode: bool, step: int = METER_STEP_BYTES, already_counted: int = 0,
                 on_counted=None):
        self.account = account
        self.livemode = livemode
        self.step = step
        self.counted = already_counted
        self.on_counted = on_counted

    def __call__(self, total: int) -> None:
        if total - self.counted >= self.step:
            self._count(total)

    def finish(self, total: int) -> None:
        if total > self.counted:
            self._count(total)

    def _count(self, total: int) -> None:
        delta, self.counted = total - self.counted, total
        consume_data(self.account, livemode=self.livemode, nbytes=delta)
        if self.on_counted is not None:
            self.on_counted(total)


# --------------------------------------------------------------------------- SQL

def _table() -> str:
    return connection.ops.quote_name(MonthlyUsage._meta.db_table)


def _add(account_id: str, month: date, quota: str, amount: int, limit: int) -> int | None:
    """Adds `amount` to the month's counter if the result stays within
    `limit`; returns the new value, or None when there was no room."""
    column = _COUNTERS[quota]
    ops = connection.ops
    month_value = ops.adapt_datefield_value(month)
    now_value = ops.adapt_datetimefield_value(timezone.now())
    update = (
        f"UPDATE {_table()} SET {column} = {column} + %s, updated_at = %s "
        f"WHERE account_id = %s AND month = %s AND {column} + %s <= %s RETURNING {column}"
    )
    params = [amount, now_value, account_id, month_value, amount, limit]
    with connection.cursor() as cursor:
        # The row exists for every request but a month's first: try the
        # UPDATE alone, and make the row only when it found none.
        cursor.execute(update, params)
        row = cursor.fetchone()
        if row is not None:
            return row[0]
        cursor.execute(
            f"INSERT INTO {_table()} (account_id, month, jobs_count, data_bytes, updated_at) "
            f"VALUES (%s, %s, 0, 0, %s) ON CONFLICT (account_id, month) DO NOTHING",
            [account_id, month_value, now_value],
        )
        # Even when the INSERT did nothing, UPDATE again: the row may have been
        # made by a transaction that committed after our first UPDATE looked.
        cursor.execute(update, params)
        row = cursor.fetchone()
    return row[0] if row is not None else None


def _fill_to_limit(account_id: str, month: date, limit: int) -> bool:
    """Raises the data counter to `limit`; True when it was below."""
    ops = connection.ops
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {_table()} SET data_bytes = %s, updated_at = %s "
            f"WHERE account_id = %s AND month = %s AND data_bytes < %s",
            [limit, ops.adapt_datetimefield_value(timezone.now()), account_id, ops.adapt_datefield_value(month), limit],
        )
        return cursor.rowcount > 0


def _warn(account, month: date, quota: str, *, before: int, after: int, limit: int) -> None:
    """Records and emits quota.warning for each threshold crossed by going
    from `before` to `after`. Runs in the transaction that counted, so a
    rolled-back count leaves no warning behind and the next one re-crosses."""
    crossed = [t for t in WARNING_THRESHOLDS if before * 100 < t * limit <= after * 100]
    if not crossed or limit <= 0:
        return
    ops = connection.ops
    table = ops.quote_name(QuotaWarning._meta.db_table)
    month_value = ops.adapt_datefield_value(month)
    period_start, _ = period_bounds(month)
    for threshold in crossed:
        with connection.cursor() as cursor:
            # ON CONFLICT DO NOTHING: the first transaction to cross wins; a
            # concurrent one waits for it and then inserts nothing.
            cursor.execute(
                f"INSERT INTO {table} (account_id, month, quota, threshold, used, {ops.quote_name('limit')}, created_at) "
                f"VALUES (%s, %s, %s, %s, %s, %s, %s) "
                f"ON CONFLICT (account_id, month, quota, threshold) DO NOTHING",
                [account.pk, month_value, quota, threshold, after, limit, ops.adapt_datetimefield_value(timezone.now())],
            )
            recorded = cursor.rowcount == 1
        if recorded:
            publish_account_event(
                account,
                livemode=True,
                event_type="quota.warning",
                data={
                    "quota": quota,
                    "threshold": threshold,
                    "used": after,
                    "limit": limit,
                    "period_start": iso(period_start),
                },
            )
