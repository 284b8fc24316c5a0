"""django-q2 entry points: thin, load by id, call one service."""

from __future__ import annotations

from core.logcontext import log_context
from jobs.services import execution, recovery


def run_job(job_id: str) -> str:
    """One attempt at the job (a no-op when it is not pending); every log
    line written meanwhile carries ``job_id``."""
    with log_context(job_id=job_id):
        return execution.run_job(job_id)


def sweep_stale_jobs() -> dict:
    """Every minute (a Schedule made by a data migration): recover jobs that
    lost their worker or their queued task."""
    return recovery.sweep_stale_jobs()
