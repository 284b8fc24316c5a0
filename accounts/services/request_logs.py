"""The per-request log the customer reads at /account/logs.

Every API request pays for its log row, so by default rows are not written
on the request path: a tuple of its values goes to an in-process queue that
a background thread drains every AIPROD_REQUEST_LOG_FLUSH_SECONDS (or every
500 rows) with one COPY on PostgreSQL (a bulk INSERT elsewhere), the
cheapest way to load rows for both this process and the database. A row is
visible to /account/logs within about that interval. What a process still
holds when it exits normally is flushed at exit; a process killed with
SIGKILL loses at most one interval of rows. With
AIPROD_REQUEST_LOG_ASYNC off (the unit tests), each row is one INSERT.
"""

from __future__ import annotations

import atexit
import logging
import os
import queue
import threading
import time
from datetime import timedelta

from django.conf import settings
from django.db import DatabaseError, close_old_connections, connection
from django.utils import timezone

from accounts.models import RequestLog

logger = logging.getLogger(__name__)

BATCH_SIZE = 500


# The columns a log row is written with, in COPY order; `id` is the database's.
COLUMNS = (
    "request_id", "account_id", "livemode", "created_at", "method", "path", "status", "duration_ms",
    "ip", "api_key_prefix", "error_code", "message", "object_id",
)


def record_request(
    *, request_id: str, account_id: str, livemode: bool, method: str, path: str, status: int,
    duration_ms: int = 0, ip: str | None = None, api_key_prefix: str = "", error_code: str | None = None,
    message: str | None = None, object_id: str | None = None, created_at=None,
) -> None:
    """Records one request. Side effect: one INSERT now, or a queued row."""
    row = (
        request_id, account_id, livemode, created_at or timezone.now(), method, path[:500], status, duration_ms,
        ip, api_key_prefix, error_code, message[:500] if message else message, object_id,
    )
    if settings.AIPROD_REQUEST_LOG_ASYNC:
        _writer.submit(row)
    else:
        RequestLog.objects.create(**dict(zip(COLUMNS, row)))


def write_rows(rows: list[tuple], *, use_copy: bool | None = None) -> None:
    """Writes log rows (tuples in COLUMNS order) in one statement: COPY on
    PostgreSQL, else one bulk INSERT."""
    if not rows:
        return
    if use_copy is None:
        use_copy = connection.vendor == "postgresql"
    if not use_copy:
        RequestLog.objects.bulk_create([RequestLog(**dict(zip(COLUMNS, row))) for row in rows])
        return
    columns = ", ".join(f'"{RequestLog._meta.get_field(name).column}"' for name in COLUMNS)
    with connection.cursor() as cursor:
        with cursor.cursor.copy(f"COPY {RequestLog._meta.db_table} ({columns}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)


def flush_request_logs(timeout: float = 10.0, *, close_connection: bool = False) -> None:
    """Waits until every queued row is written (tests, shutdown); with
    close_connection, the writer thread then closes its database connection."""
    if close_connection and _writer.running():
        _writer.submit(_CLOSE)
    _writer.flush(timeout)


def prune_request_logs(older_than: timedelta) -> int:
    cutoff = timezone.now() - older_than
    deleted, _ = RequestLog.objects.filter(created_at__lt=cutoff).delete()
    return deleted


_CLOSE = object()  # queue marker: close the writer's connection


class _BackgroundWriter:
    def __init__(self):
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._pid: int | None = None
        self._pending = 0
        self._idle = threading.Condition(self._lock)

    def submit(self, row) -> None:
        with self._lock:
            # Started lazily in each process: gunicorn forks its workers.
            if self._pid != os.getpid():
                self._pid = os.getpid()
                self._pending = 0
                self._queue = queue.SimpleQueue()
                threading.Thread(target=self._run, name="request-log-writer", daemon=True).start()
            self._pending += 1
        self._queue.put(row)

    def running(self) -> bool:
        return self._pid == os.getpid()

    def flush(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        with self._idle:
            while self._pending and self._pid == os.getpid():
                if not self._idle.wait(max(0.0, deadline - time.monotonic())):
                    break

    def _run(self) -> None:
        while True:
            rows = [self._queue.get()]
            deadline = time.monotonic() + settings.AIPROD_REQUEST_LOG_FLUSH_SECONDS
            while len(rows) < BATCH_SIZE:
                try:
                    rows.append(self._queue.get(timeout=max(0.0, deadline - time.monotonic())))
                except queue.Empty:
                    break
            self._write(rows)

    def _write(self, rows: list) -> None:
        try:
            close_old_connections()  # drop a connection that died while idle
            write_rows([row for row in rows if row is not _CLOSE])
            if _CLOSE in rows:
                connection.close()
        except DatabaseError:
            logger.warning("lost %d request log rows: database unavailable", len(rows))
        finally:
            with self._idle:
                self._pending -= len(rows)
                self._idle.notify_all()


_writer = _BackgroundWriter()
# A worker that exits normally (gunicorn's graceful stop) writes what it holds.
atexit.register(flush_request_logs, 5.0)
