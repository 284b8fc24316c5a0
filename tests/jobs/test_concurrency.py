"""Races decided by the database: real threads, separate connections."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection
from django.utils import timezone
from django_q.conf import Conf

from jobs import tasks
from jobs.models import Job, JobTransition
from jobs.services.recovery import sweep_stale_jobs
from tests.conftest import Api, make_persona, requires_postgres
from tests.httpservers import Response
from tests.jobs.helpers import unique_name

pytestmark = [requires_postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _queue_not_inline(monkeypatch, settings):
    # Committed creates would otherwise run their job inline, inside the request.
    monkeypatch.setattr(Conf, "SYNC", False)
    settings.AIPROD_JOB_HEARTBEAT_SECONDS = 0.2


def in_threads(count: int, fn):
    barrier = threading.Barrier(count)

    def run(i):
        try:
            barrier.wait()
            return fn(i)
        finally:
            connection.close()

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(run, range(count)))


def run_job_in_a_thread(job_id: str) -> tuple[threading.Thread, dict]:
    """Runs the job's task as a worker would, in a thread; the dict gets its "result"."""
    outcome = {}

    def work():
        try:
            outcome["result"] = tasks.run_job(job_id)
        finally:
            connection.close()

    worker = threading.Thread(target=work)
    worker.start()
    return worker, outcome


def test_concurrent_creates_with_one_name_admit_exactly_one(files):
    persona = make_persona("pro")
    name = unique_name("race")
    body = {"name": name, "input_url": f"{files.url}/pic.png"}
    codes = in_threads(8, lambda i: Api(persona.key).post("/jobs", body).status_code)
    assert sorted(codes) == [201] + [422] * 7
    assert Job.objects.filter(name=name).count() == 1


def test_concurrent_retries_with_one_idempotency_key_make_one_job(files):
    persona = make_persona("pro")
    body = {"name": unique_name("idem"), "input_url": f"{files.url}/pic.png"}

    def post(i):
        response = Api(persona.key).post("/jobs", body, headers={"Idempotency-Key": "same-key"})
        return response.status_code, response.json()["id"]

    results = in_threads(6, post)
    assert {status for status, _ in results} == {201}
    assert len({job_id for _, job_id in results}) == 1
    assert Job.objects.count() == 1


@pytest.mark.parametrize(("action", "status"), [("cancel", "cancelled"), ("timeout", "failed")])
def test_cancelling_or_timing_out_a_running_job_stops_its_processor(files, long_wav, children, action, status):
    persona = make_persona("pro")
    files.routes["/long-cancel.wav"] = (200, {"Content-Type": "audio/wav"}, long_wav)
    try:
        job_id = Api(persona.key).post("/jobs", {"name": unique_name(), "type": "audio.transcribe",
                                                 "input_url": f"{files.url}/long-cancel.wav"}).json()["id"]
        worker, outcome = run_job_in_a_thread(job_id)
        deadline = time.monotonic() + 30
        while Job.objects.get(pk=job_id).status != "processing" or not children.new():
            assert time.monotonic() < deadline, "the job never started processing"
            time.sleep(0.05)
        response = Api(persona.key).post(f"/jobs/{job_id}/{action}", {"reason": "Stuck in processing"})
        assert response.json()["status"] == status
        worker.join(30)
    finally:
        del files.routes["/long-cancel.wav"]
    assert outcome["result"] == "stopped"
    assert children.new() == []
    job = Job.objects.get(pk=job_id)
    assert (job.status, job.cancel_requested) == (status, True)
    assert list(JobTransition.objects.filter(job=job).values_list("to_status", flat=True)) == [
        "pending", "processing", status]


def test_a_running_job_keeps_its_own_row_fresh_so_the_sweeper_leaves_it_alone(files, long_wav, children, settings):
    heartbeat = settings.AIPROD_JOB_HEARTBEAT_SECONDS  # 0.2 s (the autouse fixture above)
    persona = make_persona("pro")
    # The input trickles in for ~1.6 s (data flowing: the download heartbeats)
    # before the transcription itself reports progress.
    step = len(long_wav) // 32 + 1
    files.routes["/long-trickle.wav"] = Response(
        headers={"Content-Type": "audio/wav"}, body=[long_wav[i:i + step] for i in range(0, len(long_wav), step)],
        content_length=len(long_wav), chunk_delay=0.05)
    try:
        job_id = Api(persona.key).post("/jobs", {"name": unique_name(), "type": "audio.transcribe",
                                                 "input_url": f"{files.url}/long-trickle.wav"}).json()["id"]
        worker, outcome = run_job_in_a_thread(job_id)

        def sample_until(done, what: str, *, running: bool = True, within: float = 20) -> Job:
            deadline = time.monotonic() + within
            while True:
                job = Job.objects.get(pk=job_id)
                if done(job):
                    return job
                assert job.status == "processing" or not running, (what, job.status, job.error)
                assert time.monotonic() < deadline, (what, job.progress, job.last_activity_at)
                time.sleep(0.05)

        try:
            claimed = sample_until(lambda job: job.status == "processing", "claimed", running=False)
            # Its claim is over a second old, only its heartbeats refreshed it: not stale.
            fetching = sample_until(
                lambda job: (timezone.now() - claimed.started_at).total_seconds() > 1 + heartbeat, "fetching")
            assert fetching.last_activity_at > claimed.last_activity_at
            assert sweep_stale_jobs(stale_after=1)["requeued"] == 0
            assert Job.objects.get(pk=job_id).status == "processing"
            # Transcribing: progress between the ends, the heartbeat still moving.
            transcribing = sample_until(
                lambda job: 0 < job.progress < 100 and job.last_activity_at > fetching.last_activity_at, "transcribing",
                within=60)  # loading the speech model takes seconds on a busy machine: a ceiling, not a wait
            assert (transcribing.status, transcribing.attempted_count) == ("processing", 1)
        finally:
            Api(persona.key).post(f"/jobs/{job_id}/cancel")  # ends the test within a heartbeat
            worker.join(30)
    finally:
        del files.routes["/long-trickle.wav"]
    assert outcome["result"] == "stopped"
    assert children.new() == []
    # Never re-queued by the sweep.
    assert list(JobTransition.objects.filter(job_id=job_id).values_list("to_status", flat=True)) == [
        "pending", "processing", "cancelled"]
