"""A graceful stop (issue 18, point 5): SIGTERM to the qcluster process group,
as systemd, Docker, Kubernetes and `timeout` send it. The worker stops taking
work, gives a running job AIPROD_WORKER_GRACE_SECONDS, hands it back to the
queue ("Re-queued at worker shutdown") and exits: gone within grace + 5 s,
the job never stranded."""

from __future__ import annotations

import os
import signal
import time

import pytest
from django.utils import timezone
from django_q.models import OrmQ

from jobs.models import Job, JobTransition, WorkerHeartbeat
from tests.conftest import make_persona
from tests.httpservers import Response, serve
from tests.jobs.helpers import unique_name
from tests.processes import wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

GRACE = 2


def trickle(_request):
    yield b"RIFF" + b"\0" * 1020
    for _ in range(600):
        yield b"\0"


def test_sigterm_mid_job_re_queues_the_job_and_the_cluster_exits_within_the_grace_period(start_qcluster, tone_wav):
    persona = make_persona("pro")
    slow = Response(headers={"Content-Type": "audio/wav"}, body=trickle, content_length=10**6, chunk_delay=0.2)
    with serve({"/slow.wav": slow, "/tone.wav": (200, {"Content-Type": "audio/wav"}, tone_wav)}) as files:
        cluster = start_qcluster(AIPROD_WORKER_GRACE_SECONDS=GRACE)
        wait_until(lambda: WorkerHeartbeat.objects.exists(), timeout=30, what="the cluster's heartbeat")
        job_id = persona.api.post("/jobs", {"name": unique_name(), "type": "media.probe",
                                            "input_url": f"{files.url}/slow.wav"}).json()["id"]
        wait_until(lambda: Job.objects.filter(pk=job_id, status="processing").exists(), timeout=30,
                   what="the job to be processing")
        # A second job whose task the cluster takes ahead of its one busy worker.
        waiting_id = persona.api.post("/jobs", {"name": unique_name(), "type": "media.probe",
                                                "input_url": f"{files.url}/tone.wav"}).json()["id"]
        wait_until(lambda: not OrmQ.objects.filter(lock__lte=timezone.now()).exists(), timeout=15,
                   what="the cluster to take the second task")
        time.sleep(0.5)

        os.killpg(cluster.pid, signal.SIGTERM)
        sent = time.monotonic()
        cluster.wait(timeout=GRACE + 5)
        gone_after = time.monotonic() - sent
        try:
            os.killpg(cluster.pid, 0)
            leftovers = True
        except ProcessLookupError:
            leftovers = False

    job = Job.objects.get(pk=job_id)
    assert gone_after <= GRACE + 5
    assert not leftovers  # no worker, pusher or processing child left behind
    assert job.status == "pending"  # handed back, not stranded in processing
    last = JobTransition.objects.filter(job_id=job_id).order_by("at", "id").last()
    assert (last.from_status, last.to_status, last.reason) == ("processing", "pending", "Re-queued at worker shutdown")
    # Its task waits in the queue for the next worker, not locked away in the stopped cluster's memory.
    assert any(row.task.get("args") == (job_id,) or list(row.task.get("args") or ()) == [job_id]
               for row in OrmQ.objects.all())
    assert not WorkerHeartbeat.objects.exists()  # a clean stop removes its row
    # The task taken but not started went back to the queue for another worker, unlocked.
    assert Job.objects.get(pk=waiting_id).status == "pending"
    assert any(list(row.task.get("args") or ()) == [waiting_id] and row.lock <= timezone.now()
               for row in OrmQ.objects.all())


def test_a_job_that_finishes_within_the_grace_period_completes_before_the_worker_exits(start_qcluster, long_wav):
    persona = make_persona("pro")
    with serve({"/long.wav": (200, {"Content-Type": "audio/wav"}, long_wav)}) as files:
        cluster = start_qcluster(AIPROD_WORKER_GRACE_SECONDS=60)
        job_id = persona.api.post("/jobs", {"name": unique_name(), "type": "audio.transcribe",
                                            "input_url": f"{files.url}/long.wav"}).json()["id"]
        wait_until(lambda: Job.objects.filter(pk=job_id, status="processing").exists(), timeout=30,
                   what="the job to be processing")
        os.killpg(cluster.pid, signal.SIGTERM)
        cluster.wait(timeout=95)  # grace 60 s + the kill; generous on a loaded machine
    job = Job.objects.get(pk=job_id)
    assert job.status == "completed", job.error
    assert job.attempted_count == 1
