"""Workers die; jobs do not stay `processing` (docs/jobs.md).

Real `manage.py qcluster` processes on the test database run real jobs
(transcribing 60 s of generated audio, served by a local HTTP server). The
test SIGKILLs a worker (with its forked processor child) while the job is
`processing`: the sweeper re-queues the job once its heartbeat is older than
the stale threshold (or, for one worker process of a live cluster, the
cluster does at once), another cluster finishes it, and every event of the job
reaches a verified endpoint. A job that takes its worker down on every attempt
stops at the attempt cap, failed WORKER_LOST; a processor child that crashes
fails its job at once and leaves the worker alive.
"""

from __future__ import annotations

import os
import signal

import pytest
from django.conf import settings as django_settings
from django.utils import timezone
from django_q.models import OrmQ

from jobs.models import Job, JobTransition
from jobs.services.recovery import sweep_stale_jobs
from tests.conftest import make_persona
from tests.httpservers import serve
from tests.jobs.helpers import unique_name
from tests.processes import alive, children_of, wait_until
from tests.resilience.conftest import DedupingReceiver
from tests.webhooks.conftest import register
from webhooks.models import Delivery, Event

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

STALE_AFTER = 1  # seconds without a heartbeat (workers beat every 0.2 s here)


def create_job(persona, files, filename: str, job_type: str) -> str:
    """A job on one of the test's served files; its id."""
    response = persona.api.post("/jobs", {"name": unique_name(), "type": job_type,
                                          "input_url": f"{files.url}/{filename}"})
    assert response.status_code == 201, response.content
    return response.json()["id"]


def media_files(long_wav: bytes, tone_wav: bytes):
    """A long recording (to kill mid-transcription) and a short tone (a healthy job)."""
    return serve({"/long.wav": (200, {"Content-Type": "audio/wav"}, long_wav),
                  "/tone.wav": (200, {"Content-Type": "audio/wav"}, tone_wav)})


def job_row(job_id: str) -> Job:
    return Job.objects.get(pk=job_id)


def worker_pid(job: Job) -> int:
    return int(job.worker_instance.rsplit(":", 1)[1])


def running_attempt(job_id: str, attempt: int) -> tuple[Job, int, int]:
    """Waits for `attempt` of the job to be processing in a child; returns (job, worker pid, child pid)."""
    job = wait_until(lambda: Job.objects.filter(pk=job_id, status="processing", attempted_count=attempt).first(),
                     timeout=30, what=f"attempt {attempt} of the job to start")
    pid = worker_pid(job)
    child = wait_until(lambda: children_of(pid), timeout=15, what="the forked processing child")[0]
    return job, pid, child


def sweep_until(outcome: str) -> dict:
    """Runs the sweeper (as its minute schedule would) until it reports `outcome`."""
    return wait_until(lambda: (s := sweep_stale_jobs(stale_after=STALE_AFTER))[outcome] and s, timeout=15,
                      what=f"the sweeper to report {outcome}", interval=0.3)


def steps(job_id: str) -> list[tuple]:
    return list(JobTransition.objects.filter(job_id=job_id).order_by("at", "id")
                .values_list("from_status", "to_status", "actor"))


def test_a_job_whose_worker_is_sigkilled_is_finished_by_another_cluster_and_every_event_arrives(
    start_qcluster, long_wav, settings
):
    settings.AIPROD_JOB_STALE_AFTER = STALE_AFTER
    persona = make_persona("pro")
    receiver = DedupingReceiver()
    with serve({"/long.wav": (200, {"Content-Type": "audio/wav"}, long_wav)}) as files, \
            serve({"/hook": receiver}) as hooks:
        endpoint = register(persona, hooks.url + "/hook")  # verified: a 2xx to webhook.verification
        receiver.secret = endpoint.secret
        # Two clusters, two workers each: one worker runs the job, the other sends webhooks.
        clusters = [start_qcluster(AIPROD_Q_WORKERS=2), start_qcluster(AIPROD_Q_WORKERS=2)]
        created = persona.api.post("/jobs", {"name": unique_name(), "type": "audio.transcribe",
                                             "input_url": f"{files.url}/long.wav"})
        assert created.status_code == 201, created.content
        job_id = created.json()["id"]

        job, pid, child = running_attempt(job_id, 1)
        # The first job.processing is out before the crash (a delivery task
        # held by the killed cluster would wait for the dispatcher's 5 min).
        wait_until(lambda: Delivery.objects.filter(event__job_id=job_id, status="delivered").exists(), timeout=30,
                   what="the first job.processing event to be delivered")
        victim = next(c for c in clusters if c.pid == os.getpgid(pid))
        survivor = next(c for c in clusters if c is not victim)

        os.killpg(victim.pid, signal.SIGKILL)  # the worker, its processing child, the whole cluster
        victim.wait(timeout=10)
        wait_until(lambda: not alive(pid) and not alive(child), timeout=10, what="the worker and its child to die")
        assert job_row(job_id).status == "processing"  # nobody else knows yet

        assert sweep_until("requeued")["requeued"] == 1
        finished = wait_until(lambda: (j := job_row(job_id)).status in ("completed", "failed") and j,
                              timeout=60, what="the second attempt to finish")
        wait_until(lambda: receiver.of_type("job.completed", "job.failed"), timeout=30, what="the final event")
        assert survivor.poll() is None
        assert os.getpgid(worker_pid(finished)) == survivor.pid  # a worker of the other cluster

    assert finished.status == "completed", finished.error
    assert finished.attempted_count == 2
    assert finished.output["text"] is not None
    assert steps(job_id) == [
        (None, "pending", "api"),
        ("pending", "processing", "worker"),
        ("processing", "pending", "sweeper"),
        ("pending", "processing", "worker"),
        ("processing", "completed", "worker"),
    ]
    # Every event of the job reached the receiver, which deduped on the event id.
    events = Event.objects.filter(job_id=job_id).order_by("created_at", "id")
    assert [e.type for e in events] == ["job.processing", "job.processing", "job.completed"]
    assert set(receiver.events) >= {e.id for e in events}
    received = [receiver.events[e.id] for e in events]
    assert [(r["event"], r["data"]["attempted_count"]) for r in received] == [
        ("job.processing", 1), ("job.processing", 2), ("job.completed", 2)
    ]
    assert len({r["id"] for r in received}) == 3  # two job.processing events, two ids
    assert receiver.rejected == []
    assert set(Delivery.objects.filter(event__job_id=job_id).values_list("status", flat=True)) == {"delivered"}


def task_taken_by_a_cluster(job_id: str) -> bool:
    """The job's run_job task was dequeued (row locked into the future) but not claimed."""
    now = timezone.now()
    return any(tuple(row.task.get("args") or ()) == (job_id,) for row in OrmQ.objects.filter(lock__gt=now))


def test_jobs_held_by_a_killed_cluster_are_run_by_another_one(start_qcluster, long_wav, tone_wav, settings):
    """A cluster takes tasks ahead of its workers. Killed, it takes with it the
    job it was running (re-queued by the stale sweep) and the task it held for
    the next one, whose job is still pending (queued again by the pending
    sweep, though its broker row stays locked for the 2 h Q_CLUSTER retry)."""
    settings.AIPROD_JOB_STALE_AFTER = STALE_AFTER
    settings.AIPROD_JOB_PENDING_REQUEUE_AFTER = 1
    persona = make_persona("pro")
    with media_files(long_wav, tone_wav) as files:
        first = start_qcluster()  # one worker
        running = create_job(persona, files, "long.wav", "audio.transcribe")
        _, pid, child = running_attempt(running, 1)
        waiting = create_job(persona, files, "tone.wav", "media.probe")
        wait_until(lambda: task_taken_by_a_cluster(waiting), timeout=15, what="the cluster to take the second task")
        assert job_row(waiting).status == "pending"  # taken, not claimed: its worker is busy

        os.killpg(first.pid, signal.SIGKILL)
        first.wait(timeout=10)
        wait_until(lambda: not alive(pid) and not alive(child), timeout=10, what="the worker and its child to die")
        second = start_qcluster()
        recovered = {"requeued": 0, "pending_requeued": 0}

        def swept_both():
            summary = sweep_stale_jobs(stale_after=STALE_AFTER)
            for name in recovered:
                recovered[name] += summary[name]
            return recovered["requeued"] and recovered["pending_requeued"]

        wait_until(swept_both, timeout=15, what="the sweeper to re-queue both jobs", interval=0.3)
        jobs = [wait_until(lambda j=j: (row := job_row(j)).status in ("completed", "failed") and row, timeout=60,
                           what=f"job {j} to finish") for j in (running, waiting)]
        assert second.poll() is None

    assert recovered == {"requeued": 1, "pending_requeued": 1}
    assert [(j.status, j.attempted_count) for j in jobs] == [("completed", 2), ("completed", 1)], [j.error for j in jobs]


def test_a_job_that_kills_its_worker_on_every_attempt_fails_worker_lost_at_the_attempt_cap(
    start_qcluster, long_wav, tone_wav, settings
):
    settings.AIPROD_JOB_STALE_AFTER = STALE_AFTER
    cap = django_settings.AIPROD_JOB_MAX_ATTEMPTS
    assert cap == 3
    persona = make_persona("pro")
    with media_files(long_wav, tone_wav) as files:
        cluster = start_qcluster()
        job_id = create_job(persona, files, "long.wav", "audio.transcribe")
        killed = []
        for attempt in range(1, cap + 1):
            _, pid, child = running_attempt(job_id, attempt)
            os.kill(pid, signal.SIGKILL)  # the poison: its worker dies on every attempt
            wait_until(lambda: not alive(pid) and not alive(child), timeout=10, what="the worker and its child to die")
            killed.append(pid)
            # Its cluster sees the worker process die and re-queues (or, at the cap, fails) the job at once.
            wait_until(lambda a=attempt: Job.objects.filter(pk=job_id).exclude(status="processing", attempted_count=a)
                       .exists(), timeout=15, what="the cluster to re-queue the job of its dead worker")
        job = wait_until(lambda: (j := job_row(job_id)).status == "failed" and j, timeout=15, what="the job to fail")

        # The cluster replaced its worker each time and still runs other jobs.
        other = create_job(persona, files, "tone.wav", "media.probe")
        done = wait_until(lambda: (j := job_row(other)).status in ("completed", "failed") and j,
                          timeout=30, what="a healthy job after the poison one")
        assert cluster.poll() is None

    assert len(set(killed)) == cap  # a fresh worker took each attempt
    assert job.status == "failed"
    assert job.error_code == "WORKER_LOST"
    assert job.error == f"Worker lost: gave up after {cap} attempts"
    assert job.attempted_count == cap
    assert steps(job_id) == [
        (None, "pending", "api"),
        *[("pending", "processing", "worker"), ("processing", "pending", "worker-monitor")] * (cap - 1),
        ("pending", "processing", "worker"),
        ("processing", "failed", "worker-monitor"),
    ]
    assert [e.type for e in Event.objects.filter(job_id=job_id).order_by("created_at", "id")] == [
        "job.processing"] * cap + ["job.failed"]
    assert done.status == "completed", done.error
    assert worker_pid(done) not in killed


def test_a_processor_child_that_crashes_fails_its_job_at_once_and_the_worker_lives_on(
    start_qcluster, long_wav, tone_wav
):
    persona = make_persona("pro")
    with media_files(long_wav, tone_wav) as files:
        cluster = start_qcluster()
        job_id = create_job(persona, files, "long.wav", "audio.transcribe")
        _, pid, child = running_attempt(job_id, 1)
        os.kill(child, signal.SIGSEGV)  # as a C decoder choking on the file would
        job = wait_until(lambda: (j := job_row(job_id)).status != "processing" and j, timeout=15,
                         what="the job to fail")
        other = create_job(persona, files, "tone.wav", "media.probe")
        done = wait_until(lambda: (j := job_row(other)).status in ("completed", "failed") and j,
                          timeout=30, what="the next job")
        assert cluster.poll() is None

    assert job.status == "failed"
    assert job.error_code == "CORRUPT_INPUT"
    assert job.error == "Invalid input: processing crashed on this file (SIGSEGV)"
    assert job.attempted_count == 1  # no retry loop on a poison input
    assert done.status == "completed", done.error
    assert worker_pid(done) == pid  # the same worker, alive
