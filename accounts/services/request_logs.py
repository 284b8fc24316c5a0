"""The per-request log the customer reads at /account/logs.

Every API request pays for its log row, so by default rows are not written
on the request path: they go to an in-process queue that a background thread
drains with one bulk INSERT every AIPROD_REQUEST_LOG_FLUSH_SECONDS (or every
500 rows). A row is visible to /account/logs within about that interval. What
a process still holds when it exits normally is flushed at exit; a process
killed with SIGKILL loses at most one interval of rows. With
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


def record_request(**fields) -> None:
    """Records one request. Side effect: one INSERT now, or a queued row."""
    if fields.get("message"):
        fields["message"] = fields["message"][:500]
    fields.setdefault("created_at", timezone.now())
    if settings.AIPROD_REQUEST_LOG_ASYNC:
        _writer.submit(RequestLog(**fields))
    else:
        RequestLog.objects.create(**fields)


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

    def submit(self, row: RequestLog) -> None:
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
            RequestLog.objects.bulk_create([row for row in rows if row is not _CLOSE])
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
