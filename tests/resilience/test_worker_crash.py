"""Nothing stranded after a worker cluster dies (issue 18, point 1).

A 2-worker cluster runs two long jobs and has taken more tasks from the
queue ahead of its workers; it is SIGKILLed as a whole (sentinel, pusher,
workers, processing children). A fresh cluster sees the dead cluster's
heartbeat row go silent and, without any sweep or job-age threshold, puts
back both the jobs that were processing ("Re-queued after worker loss") and
the tasks the dead cluster had taken: every job ends, and each job's final
event reaches a verified receiver at least once.
"""

from __future__ import annotations

import os
import signal
import time

import pytest
from django.utils import timezone
from django_q.models import OrmQ

from jobs.models import Job, JobTransition, WorkerHeartbeat
from tests.conftest import make_persona
from tests.httpservers import serve
from tests.jobs.helpers import unique_name
from tests.processes import alive, children_of, wait_until
from tests.resilience.conftest import DedupingReceiver
from tests.webhooks.conftest import register

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

CLUSTER = {"AIPROD_Q_WORKERS": 2, "AIPROD_WORKER_HEARTBEAT_SECONDS": 1, "AIPROD_WORKER_DEAD_AFTER": 5}


def create(persona, url: str, job_type: str) -> str:
    response = persona.api.post("/jobs", {"name": unique_name(), "type": job_type, "input_url": url})
    assert response.status_code == 201, response.content
    return response.json()["id"]


def taken_tasks() -> int:
    return OrmQ.objects.filter(lock__gt=timezone.now()).count()


def test_every_job_of_a_sigkilled_cluster_ends_and_its_final_webhook_arrives(start_qcluster, long_wav, tone_wav):
    persona = make_persona("pro")
    receiver = DedupingReceiver()
    with serve({"/long.wav": (200, {"Content-Type": "audio/wav"}, long_wav),
                "/tone.wav": (200, {"Content-Type": "audio/wav"}, tone_wav)}) as files, \
            serve({"/hook": receiver}) as hooks:
        endpoint = register(persona, hooks.url + "/hook")
        receiver.secret = endpoint.secret
        victim = start_qcluster(**CLUSTER)
        long_jobs = [create(persona, f"{files.url}/long.wav", "audio.transcribe") for _ in range(2)]
        running = wait_until(lambda: (rows := list(Job.objects.filter(pk__in=long_jobs, status="processing")))
                             and len(rows) == 2 and rows, timeout=60, what="both long jobs to be processing")
        short_jobs = [create(persona, f"{files.url}/tone.wav", "media.probe") for _ in range(3)]
        wait_until(lambda: taken_tasks() >= 3, timeout=15, what="the cluster to take tasks ahead of its workers")
        pids = [int(j.worker_instance.rsplit(":", 1)[1]) for j in running]
        wait_until(lambda: all(children_of(pid) for pid in pids), timeout=15, what="the processing children")
        assert set(Job.objects.filter(pk__in=short_jobs).values_list("status", flat=True)) == {"pending"}

        os.killpg(victim.pid, signal.SIGKILL)
        killed_at = time.monotonic()
        victim.wait(timeout=10)
        wait_until(lambda: not any(alive(pid) for pid in pids), timeout=10, what="the workers to die")

        start_qcluster(**CLUSTER)
        every = long_jobs + short_jobs
        wait_until(lambda: Job.objects.filter(pk__in=every, status__in=("completed", "failed")).count() == len(every),
                   timeout=180, what="every job to end", interval=0.5)
        ended_after = time.monotonic() - killed_at
        wait_until(lambda: {e["data"]["id"] for e in receiver.of_type("job.completed", "job.failed")} >= set(every),
                   timeout=60, what="each job's final event", interval=0.5)

    jobs = {j.pk: j for j in Job.objects.filter(pk__in=every)}
    assert {j.status for j in jobs.values()} == {"completed"}, [j.error for j in jobs.values()]
    assert ended_after < 180
    for job_id in long_jobs:
        reasons = list(JobTransition.objects.filter(job_id=job_id, from_status="processing", to_status="pending")
                       .values_list("reason", flat=True))
        assert len(reasons) == 1 and reasons[0].startswith("Re-queued after worker loss"), reasons
        assert jobs[job_id].attempted_count == 2
    for job_id in short_jobs:
        assert jobs[job_id].attempted_count == 1  # taken but never started: run once, by the new cluster
    finals = receiver.of_type("job.completed", "job.failed")
    assert not ({e["data"]["id"] for e in finals if e["event"] == "job.completed"}
                & {e["data"]["id"] for e in finals if e["event"] == "job.failed"})
    assert receiver.rejected == []
    dead = WorkerHeartbeat.objects.get(pid=victim.pid) if WorkerHeartbeat.objects.filter(pid=victim.pid) else None
    assert dead is None or dead.recovered_at is not None
