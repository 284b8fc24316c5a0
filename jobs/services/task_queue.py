"""How a job reaches a worker: its django-q2 task, queued after the creating
transaction commits (jobs.tasks.run_job loads the job by id)."""

from __future__ import annotations

import os
import socket

from django.db import transaction


def worker_identity() -> str:
    """`host:pid` of this worker process, shown as the job's worker_instance."""
    return f"{socket.gethostname()}:{os.getpid()}"


def enqueue(job_id: str) -> None:
    """Queues the job's task once the current transaction commits."""
    from django_q.tasks import async_task

    transaction.on_commit(lambda: async_task("jobs.tasks.run_job", job_id, **_task_options(job_id)))


def _task_options(job_id: str) -> dict:
    # save=False: a finished run leaves no django-q2 Task row (the job row and
    # its timeline are the record; a crashed run is still saved). Saving cost
    # the single monitor process a SELECT ... FOR UPDATE of up to `save_limit`
    # (1,000) result rows per job, which capped the whole cluster's throughput.
    return {"task_name": f"run_job {job_id}", "save": False}


def enqueue_now(job_id: str) -> None:
    """Queues the job's task now (no transaction to wait for)."""
    from django_q.tasks import async_task

    async_task("jobs.tasks.run_job", job_id, **_task_options(job_id))
