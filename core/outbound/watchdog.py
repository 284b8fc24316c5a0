"""A download's watchdog: ends a read that the data itself would not end.

A server that trickles a byte at a time, or stalls after the headers, defeats
per-read timeouts. The watchdog runs in its own daemon thread and shuts the
registered connection's socket down when ``stop_at`` passes or
``keep_going()`` says no (see download.download).
"""

from __future__ import annotations

import logging
import socket
import threading
import time

logger = logging.getLogger(__name__)


class Watchdog:
    """Shuts down the registered connection's socket when `stop_at` passes or
    `keep_going()` says no (see download). Runs in its own daemon thread."""

    def __init__(self, stop_at: float | None, keep_going, tick: float):
        self.stop_at = stop_at
        self.keep_going = keep_going
        self.tick = max(0.05, tick)
        self.fired = False
        self._conn = None
        self._lock = threading.Lock()
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, name="download-watchdog", daemon=True)
        self._thread.start()

    def remaining(self) -> float | None:
        return None if self.stop_at is None else max(0.001, self.stop_at - time.monotonic())

    def register(self, conn) -> None:
        with self._lock:
            self._conn = conn
            fired = self.fired
        if fired:
            self._cut(conn)

    def _run(self) -> None:
        try:
            while True:
                wait = self.tick if self.stop_at is None else min(self.tick, max(0.0, self.stop_at - time.monotonic()))
                if self._done.wait(wait):
                    return
                if self.stop_at is not None and time.monotonic() >= self.stop_at:
                    break
                if self.keep_going is not None and not self._check():
                    break
            with self._lock:
                self.fired = True
                conn = self._conn
            self._cut(conn)
        finally:
            _close_thread_connections()

    def _check(self) -> bool:
        try:
            return bool(self.keep_going())
        except Exception:  # noqa: BLE001 - a failing check must not end the watch (the deadline still holds)
            logger.exception("download watchdog: keep_going failed")
            return True

    @staticmethod
    def _cut(conn) -> None:
        sock = getattr(conn, "raw_socket", None) if conn is not None else None
        if sock is not None:
            try:
                socket.socket.shutdown(sock, socket.SHUT_RDWR)
            except OSError:
                pass

    def stop(self) -> None:
        self._done.set()
        self._thread.join(timeout=5)


def _close_thread_connections() -> None:
    """The watchdog's `keep_going` may have used the database: close this thread's connections."""
    try:
        from django.db import connections

        connections.close_all()
    except Exception:  # noqa: BLE001 - nothing to close, or Django not configured
        pass

