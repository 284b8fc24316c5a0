"""A worker's graceful stop (SIGTERM from systemd, Docker, Kubernetes, `timeout`).

Per process state: `request()` is called by the SIGTERM handler the worker
cluster installs (jobs.cluster). From then on the worker takes no new job
(a task it receives hands its job back to the queue at once), and a running
job gets AIPROD_WORKER_GRACE_SECONDS to finish; past that, `grace_over()` is
True and the attempt is stopped and re-queued ("Re-queued at worker
shutdown"), in whatever phase it is (fetch or processing).
"""

from __future__ import annotations

import time

from django.conf import settings

_requested_at: float | None = None


def request() -> None:
    """Marks this process as stopping (idempotent; safe in a signal handler)."""
    global _requested_at
    if _requested_at is None:
        _requested_at = time.monotonic()


def requested() -> bool:
    return _requested_at is not None


def grace_over() -> bool:
    return _requested_at is not None and time.monotonic() >= _requested_at + settings.AIPROD_WORKER_GRACE_SECONDS


def reset() -> None:
    """Back to running (tests; a fresh process starts running anyway)."""
    global _requested_at
    _requested_at = None
