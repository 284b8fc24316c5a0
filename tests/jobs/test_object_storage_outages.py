"""Job files in a bucket that stops answering, stalls or trickles: jobs fail
clearly at their deadline, nothing is lost, a retry finishes them."""

from __future__ import annotations

import threading

from django.db import connection

from jobs import tasks
from jobs.models import Job
from jobs.services import scratch
from tests.jobs.buckets import run
from tests.jobs.helpers import create_job, created
from tests.jobs.test_stream import MP4_HEADER, stream, upload
from tests.processes import wait_until

# --------------------------------------------------------------------------- outages


def test_a_bucket_that_stops_answering_fails_the_job_clearly_and_loses_nothing(free, media, flaky_bucket, anonymous):
    proxy, bucket = flaky_bucket
    job_id = upload(free, media["clip.mp4"], filename="clip.mp4", type="media.probe").json()["id"]
    health = anonymous.get("/health")
    assert health.status_code == 200 and health.json()["storage"]["backend"] == "s3"

    proxy.stop()
    health = anonymous.get("/health")
    assert health.status_code == 503
    assert health.json()["status"] == "unhealthy"
    assert health.json()["storage"] == {"backend": "s3", "status": "down", "latency_ms": None}
    diagnostics = free.api.get("/diagnostics")
    assert diagnostics.status_code == 503
    assert diagnostics.json()["storage"]["status"] == "down"
    refused = upload(free, media["pic.png"])
    assert (refused.status_code, refused.json()["code"]) == (503, "STORAGE_UNAVAILABLE")
    job = run(job_id)
    assert (job.status, job.error_code) == ("failed", "STORAGE_UNAVAILABLE")
    assert job.error.startswith("Storage unavailable: could not read the input from the object store")

    proxy.start()
    assert anonymous.get("/health").status_code == 200
    assert bucket.head(f"jobs/{job_id}/input.mp4")["ContentLength"] == len(media["clip.mp4"])  # nothing lost
    assert free.api.post(f"/jobs/{job_id}/retry").status_code == 200
    job = run(job_id)
    assert job.status == "completed", job.error


def test_a_bucket_that_stops_answering_during_a_stream_upload_is_a_503_and_makes_no_job(free, flaky_bucket):
    proxy, bucket = flaky_bucket

    def body():
        yield MP4_HEADER + b"\x00" * (1024 * 1024 - len(MP4_HEADER))
        for i in range(11):
            if i == 6:  # a 5 MiB part is already in the bucket's multipart upload
                proxy.stop()
            yield b"\x00" * (1024 * 1024)

    response = stream(free.key, {"filename": "big.mp4"}, body())
    assert response.status_code == 503, response.content
    assert response.json()["code"] == "STORAGE_UNAVAILABLE"
    assert response.json()["message"].startswith("Storage unavailable: could not write the upload to the object store")
    assert not Job.objects.exists()
    proxy.start()
    assert bucket.keys() == []


def test_a_bucket_that_stops_answering_while_a_job_runs_fails_it_clearly_and_a_retry_finishes_it(
    transactional_db, free, long_wav, flaky_bucket, settings, monkeypatch
):
    from django_q.conf import Conf

    monkeypatch.setattr(Conf, "SYNC", False)  # committed jobs are queued, not run inline: this test runs it
    settings.AIPROD_JOB_HEARTBEAT_SECONDS = 0.2
    proxy, bucket = flaky_bucket
    job_id = upload(free, long_wav, filename="long.wav", type="audio.transcribe").json()["id"]
    worker, outcome = job_on_a_thread(job_id)

    def input_downloaded() -> bool:
        copies = list(scratch.work_root().glob(f"{job_id}-*/input.wav"))
        return bool(copies) and copies[0].stat().st_size == len(long_wav)

    worker.start()
    try:
        # The input is in the worker's scratch space, transcription under way: the bucket goes away.
        wait_until(input_downloaded, timeout=60, what="the worker to download the input", interval=0.02)
        proxy.stop()
        worker.join(timeout=120)
    finally:
        proxy.start()
        worker.join(timeout=120)
    job = Job.objects.get(pk=job_id)
    assert outcome["result"] == "failed"
    assert (job.status, job.error_code) == ("failed", "STORAGE_UNAVAILABLE")
    assert job.error.startswith("Storage unavailable: could not write the file to the object store")
    assert bucket.head(f"jobs/{job_id}/input.wav")["ContentLength"] == len(long_wav)  # nothing lost
    assert free.api.post(f"/jobs/{job_id}/retry").status_code == 200
    assert run(job_id).status == "completed"


def job_on_a_thread(job_id: str) -> tuple[threading.Thread, dict]:
    """A worker thread (not started) that runs the job as the worker does;
    its answer lands in ``outcome["result"]``."""
    outcome: dict = {}

    def work() -> None:
        try:
            outcome["result"] = tasks.run_job(job_id)
        finally:
            connection.close()  # this thread's own connection

    return threading.Thread(target=work), outcome


def _store_threads_finished() -> bool:
    return not any(t.name.startswith("store jobs/") for t in threading.enumerate())


def test_a_store_that_stalls_fails_the_job_timeout_at_its_deadline_and_a_late_upload_leaves_no_object(
    free, files, flaky_bucket, caplog
):
    import logging
    import time

    caplog.set_level(logging.WARNING, logger="jobs.services.storage")
    proxy, bucket = flaky_bucket
    job_id = created(create_job(free.api, files, "pic.png", type="image.transform",
                                params={"format": "webp", "width": 32}))["id"]
    Job.objects.filter(pk=job_id).update(timeout=4)  # the API's minimum is 60 s: a short one keeps the test short
    proxy.stall()  # connections are accepted, then nothing comes back (the input comes from `files`, not the bucket)
    started = time.monotonic()
    job = run(job_id)
    elapsed = time.monotonic() - started
    assert (job.status, job.error_code, job.error) == ("failed", "TIMEOUT", "Timeout: Job exceeded 4s limit")
    assert 4 <= elapsed < 4 + 5
    assert job.output_file == ""

    proxy.release()  # the held upload now reaches the bucket, after the job gave up on it
    wait_until(_store_threads_finished, timeout=30, what="the late upload to end")
    assert "finished after its deadline; discarding it" in caplog.text
    assert not [key for key in bucket.keys() if "/output/" in key]


def test_a_store_that_trickles_fails_the_job_timeout_at_its_deadline_and_leaves_no_object(free, files, flaky_bucket):
    import time

    proxy, bucket = flaky_bucket
    job_id = created(create_job(free.api, files, "pic.png", type="image.transform",
                                params={"format": "webp", "width": 32}))["id"]
    Job.objects.filter(pk=job_id).update(timeout=4)
    proxy.trickle(0.5)  # a byte every 0.5 s: the request never ends, the socket is never idle for long
    started = time.monotonic()
    job = run(job_id)
    elapsed = time.monotonic() - started
    assert (job.status, job.error_code, job.error) == ("failed", "TIMEOUT", "Timeout: Job exceeded 4s limit")
    assert 4 <= elapsed < 4 + 5
    proxy.stop()  # cuts the trickling connection: the abandoned upload fails
    wait_until(_store_threads_finished, timeout=60, what="the abandoned upload to end")
    proxy.start()
    proxy.release()
    assert not [key for key in bucket.keys() if "/output/" in key]


def test_a_cancel_while_the_output_is_stored_stops_the_attempt_at_once(
    transactional_db, free, files, flaky_bucket, settings, monkeypatch
):
    from django_q.conf import Conf

    monkeypatch.setattr(Conf, "SYNC", False)  # committed jobs are queued, not run inline: this test runs it
    settings.AIPROD_JOB_HEARTBEAT_SECONDS = 0.2
    proxy, bucket = flaky_bucket
    job_id = created(create_job(free.api, files, "pic.png", type="image.transform",
                                params={"format": "webp", "width": 32}))["id"]
    proxy.stall()
    worker, outcome = job_on_a_thread(job_id)
    worker.start()
    try:
        wait_until(lambda: not _store_threads_finished(), timeout=60, what="the output upload to start",
                   interval=0.02)
        assert free.api.post(f"/jobs/{job_id}/cancel").status_code == 200
        worker.join(timeout=5)  # a heartbeat or two, not the store's socket timeouts
        assert not worker.is_alive()
    finally:
        proxy.release()
        worker.join(timeout=60)
    assert outcome["result"] == "stopped"
    assert Job.objects.get(pk=job_id).status == "cancelled"
    wait_until(_store_threads_finished, timeout=30, what="the late upload to end")
    assert not [key for key in bucket.keys() if "/output/" in key]


