"""Job files in an S3-compatible bucket (docs/deploy.md), on the real protocol: a
moto server on a local port, spoken to over HTTP by boto3 exactly as AWS,
MinIO or R2 would be. Also the parts of §15 that the local backend keeps:
direct uploads to a signed URL of our own, webhook links that outlive the hour.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from django.db import connection
from django.test import Client

from jobs import tasks
from jobs.models import Job, Upload
from jobs.serializers import job_data
from jobs.services import scratch, storage
from webhooks.models import Event
from tests.jobs.helpers import create_job, created, downloaded, unique_name
from tests.jobs.test_stream import MP4_HEADER, stream, upload
from tests.processes import wait_until
from tests.s3server import TcpProxy, storages_for

PREFIX = "tenant-a"


@dataclass
class Bucket:
    client: object
    name: str
    endpoint: str

    def keys(self) -> list[str]:
        answer = self.client.list_objects_v2(Bucket=self.name)
        return sorted(item["Key"] for item in answer.get("Contents", []))

    def head(self, name: str) -> dict:
        return self.client.head_object(Bucket=self.name, Key=f"{PREFIX}/{name}")


@pytest.fixture
def bucket(s3_server, settings) -> Bucket:
    """Job files in a fresh bucket of the test's own, under AIPROD_S3_PREFIX."""
    name = s3_server.create_bucket()
    settings.STORAGES = storages_for(s3_server.endpoint, name, prefix=PREFIX)
    return Bucket(client=s3_server.client(), name=name, endpoint=s3_server.endpoint)


@pytest.fixture
def flaky_bucket(s3_server, settings):
    """A bucket reached through a proxy the test can stop and start."""
    proxy = TcpProxy(s3_server.port).start()
    name = s3_server.create_bucket()
    settings.STORAGES = storages_for(proxy.endpoint, name, prefix=PREFIX)
    yield proxy, Bucket(client=s3_server.client(), name=name, endpoint=s3_server.endpoint)
    proxy.stop()


@pytest.fixture
def local_files(settings):
    """The local directory backend, whatever AIPROD_TEST_STORAGE says."""
    settings.STORAGES = {**settings.STORAGES, "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"}}


def run(job_id: str) -> Job:
    tasks.run_job(job_id)
    return Job.objects.get(pk=job_id)


def nothing_on_disk(settings) -> bool:
    return not (Path(settings.MEDIA_ROOT) / "jobs").exists()


# --------------------------------------------------------------------------- uploads and inputs


def test_a_streamed_upload_goes_to_the_bucket_as_a_multipart_upload_and_not_to_disk(free, bucket, settings):
    size = 6 * 1024 * 1024 + 123  # a 5 MiB part and the rest
    body = MP4_HEADER + b"\x00" * (size - len(MP4_HEADER))
    chunks = [body[i:i + 1024 * 1024] for i in range(0, size, 1024 * 1024)]
    response = stream(free.key, {"filename": "big.mp4"}, chunks)
    assert response.status_code == 201, response.content
    job_id = response.json()["id"]
    head = bucket.head(f"jobs/{job_id}/input.mp4")
    assert head["ContentLength"] == size
    assert head["ETag"].strip('"').endswith("-2")  # completed from two uploaded parts
    assert head["ContentType"] == "application/octet-stream"
    assert Job.objects.get(pk=job_id).input_file == f"jobs/{job_id}/input.mp4"
    assert nothing_on_disk(settings)
    assert bucket.client.list_multipart_uploads(Bucket=bucket.name).get("Uploads", []) == []


def test_a_refused_upload_leaves_no_object_and_no_open_multipart_upload(free, bucket):
    response = upload(free, b"%PDF-1.4 not an image at all" * 100, filename="pic.png")
    assert response.status_code == 422, response.content
    assert bucket.keys() == []
    assert bucket.client.list_multipart_uploads(Bucket=bucket.name).get("Uploads", []) == []


def test_a_streamed_job_reads_its_input_from_the_bucket(free, bucket, media, settings):
    job_id = upload(free, media["clip.mp4"], filename="clip.mp4", type="media.probe").json()["id"]
    job = run(job_id)
    assert job.status == "completed", job.error
    assert job.output["format"] == "mp4"
    assert nothing_on_disk(settings)


# --------------------------------------------------------------------------- outputs and downloads


def test_an_output_is_stored_with_its_type_and_downloads_are_302_to_a_presigned_url(free, files, bucket, anonymous):
    job_id = created(create_job(free.api, files, "pic.png", type="image.transform",
                                params={"format": "webp", "width": 32}))["id"]
    job = run(job_id)
    assert job.status == "completed", job.error
    head = bucket.head(job.output_file)
    assert head["ContentType"] == "image/webp"
    assert head["ContentDisposition"].startswith("attachment; filename=")

    for client, path in ((free.api, f"/jobs/{job_id}/output"),
                         (anonymous, free.api.get(f"/jobs/{job_id}").json()["output_url"])):
        response = client.get(path)
        assert response.status_code == 302, response.content
        location = response["Location"]
        assert location.startswith(f"{bucket.endpoint}/{bucket.name}/{PREFIX}/jobs/{job_id}/output/")
        assert parse_qs(urlsplit(location).query)["X-Amz-Expires"] == ["900"]
        download = requests.get(location, timeout=10)
        assert download.status_code == 200
        assert download.headers["Content-Type"] == "image/webp"
        assert download.headers["Content-Disposition"].startswith("attachment; filename=")
        assert download.content[:4] == b"RIFF" and download.content[8:12] == b"WEBP"


def test_the_presigned_url_lives_as_long_as_aiprod_s3_url_expiry(free, files, bucket, settings):
    settings.AIPROD_S3_URL_EXPIRY = 60
    job_id = created(create_job(free.api, files, "pic.png", type="image.transform"))["id"]
    assert run(job_id).status == "completed"
    location = free.api.get(f"/jobs/{job_id}/output")["Location"]
    assert parse_qs(urlsplit(location).query)["X-Amz-Expires"] == ["60"]


def test_deleting_a_job_deletes_its_objects(free, files, bucket, media, django_capture_on_commit_callbacks):
    url_job = created(create_job(free.api, files, "pic.png", type="image.transform"))["id"]
    assert run(url_job).status == "completed"
    streamed = upload(free, media["pic.png"], type="image.transform").json()["id"]
    assert run(streamed).status == "completed"
    assert len(bucket.keys()) == 3  # an output; an input and its output
    for job_id in (url_job, streamed):
        with django_capture_on_commit_callbacks(execute=True):  # the objects go once the deletion commits
            assert free.api.delete(f"/jobs/{job_id}").status_code == 204
    assert bucket.keys() == []


# --------------------------------------------------------------------------- direct uploads


def new_upload(persona, filename="clip.mp4", content_type="video/mp4") -> dict:
    response = persona.api.post("/uploads", {"filename": filename, "content_type": content_type})
    assert response.status_code == 201, response.content
    return response.json()


def test_a_direct_upload_is_a_presigned_put_to_the_bucket_and_the_job_reads_it(free, bucket, media, settings):
    target = new_upload(free)
    assert target["id"].startswith("upl_") and target["object"] == "upload"
    assert (target["method"], target["headers"]) == ("PUT", {"Content-Type": "video/mp4"})
    assert target["max_size_bytes"] == settings.AIPROD_JOB_STREAM_FREE_MAX_BYTES  # free plan cap
    assert target["upload_url"].startswith(f"{bucket.endpoint}/{bucket.name}/{PREFIX}/jobs/job_")
    put = requests.put(target["upload_url"], data=media["clip.mp4"], headers=target["headers"], timeout=10)
    assert put.status_code == 200, put.text

    job = created(free.api.post("/jobs", {"name": unique_name(), "upload_id": target["id"], "type": "media.probe"}))
    assert job["input_url"] is None and job["input"]["filename"] == "clip.mp4"
    done = run(job["id"])
    assert done.status == "completed", done.error
    assert done.data_bytes_counted == len(media["clip.mp4"])
    assert nothing_on_disk(settings)

    again = free.api.post("/jobs", {"name": unique_name(), "upload_id": target["id"]})
    assert (again.status_code, again.json()["code"]) == (409, "UPLOAD_USED")


def test_a_direct_upload_that_never_arrived_fails_the_job_with_invalid_input(free, bucket):
    target = new_upload(free)
    job = run(created(free.api.post("/jobs", {"name": unique_name(), "upload_id": target["id"]}))["id"])
    assert (job.status, job.error_code) == ("failed", "INVALID_INPUT")
    assert job.error.startswith("Invalid input: the upload never arrived")


def test_a_direct_upload_over_the_tiers_limit_fails_the_job_with_invalid_input(free, bucket, media, settings):
    settings.AIPROD_JOB_STREAM_FREE_MAX_BYTES = 1000
    target = new_upload(free, "pic.png", "image/png")
    assert target["max_size_bytes"] == 1000
    requests.put(target["upload_url"], data=media["pic.png"] + b"\x00" * 2000, headers=target["headers"],
                 timeout=10).raise_for_status()
    job = run(created(free.api.post("/jobs", {"name": unique_name(), "upload_id": target["id"]}))["id"])
    assert (job.status, job.error_code) == ("failed", "INVALID_INPUT")
    assert "over the 1000 bytes limit for image files on your plan" in job.error
    assert job.data_bytes_counted == 0
    assert bucket.keys() == []


def test_an_unknown_or_foreign_upload_id_is_a_400(free, pro, bucket):
    theirs = new_upload(pro)
    for upload_id in ("upl_nope", theirs["id"]):
        response = free.api.post("/jobs", {"name": unique_name(), "upload_id": upload_id})
        assert response.status_code == 400
        assert response.json()["details"] == {"upload_id": ["No such upload: create one with POST /uploads"]}


def test_input_url_and_upload_id_together_are_a_400(free):
    response = free.api.post("/jobs", {"name": "x", "upload_id": "upl_x", "input_url": "https://example.com/a.png"})
    assert response.status_code == 400
    assert response.json()["details"] == {"upload_id": ["Send input_url or upload_id, not both"]}


def test_an_upload_without_a_known_kind_is_refused(free):
    response = free.api.post("/uploads", {"filename": "notes.xyz"})
    assert (response.status_code, response.json()["code"]) == (422, "UNSUPPORTED_INPUT")


def test_on_local_storage_a_direct_upload_is_a_streamed_put_to_a_signed_aiprod_url(free, media, local_files):
    target = new_upload(free, "pic.png", "image/png")
    url = urlsplit(target["upload_url"])
    assert (url.scheme, url.netloc, url.path) == ("http", "testserver", f"/uploads/{target['id']}/content")
    path = f"{url.path}?{url.query}"
    client = Client()
    assert client.put(path, data=media["pic.png"], content_type="image/png").status_code == 204
    forged = client.put(f"{url.path}?token=x{url.query[7:]}", data=b"x", content_type="image/png")
    assert (forged.status_code, forged.json()["code"]) == (403, "INVALID_SIGNATURE")

    job = created(free.api.post("/jobs", {"name": unique_name(), "upload_id": target["id"], "type": "image.transform"}))
    done = run(job["id"])
    assert done.status == "completed", done.error
    late = client.put(path, data=media["pic.png"], content_type="image/png")
    assert (late.status_code, late.json()["code"]) == (409, "UPLOAD_USED")


def test_a_local_direct_upload_over_its_limit_is_refused_while_it_streams(free, media, settings, local_files):
    settings.AIPROD_JOB_STREAM_FREE_MAX_BYTES = 1000
    target = new_upload(free, "pic.png", "image/png")
    url = urlsplit(target["upload_url"])
    response = Client().put(f"{url.path}?{url.query}", data=b"\x89PNG" + b"\x00" * 5000, content_type="image/png")
    assert (response.status_code, response.json()["code"]) == (413, "PAYLOAD_TOO_LARGE")
    assert Upload.objects.get(pk=target["id"]).used_at is None


def test_prune_deletes_expired_unused_uploads_with_their_objects(free, bucket, media, time_machine):
    import io

    from django.core.management import call_command

    time_machine.move_to("2026-11-02T10:00:00Z", tick=True)
    unused, used, deleted = new_upload(free), new_upload(free), new_upload(free)
    requests.put(unused["upload_url"], data=media["clip.mp4"], headers=unused["headers"], timeout=10).raise_for_status()
    created(free.api.post("/jobs", {"name": unique_name(), "upload_id": used["id"]}))
    gone = created(free.api.post("/jobs", {"name": unique_name(), "upload_id": deleted["id"]}))["id"]
    assert free.api.delete(f"/jobs/{gone}").status_code == 204
    assert len(bucket.keys()) == 1
    time_machine.move_to("2026-11-04T10:00:00Z", tick=True)  # URLs expire after 1 h; kept one more day
    out = io.StringIO()
    call_command("prune", "--json", stdout=out)
    assert json.loads(out.getvalue())["uploads_deleted"] == 2  # the unused one, the deleted job's
    assert list(Upload.objects.values_list("pk", flat=True)) == [used["id"]]
    assert bucket.keys() == []


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


# --------------------------------------------------------------------------- webhook links


def test_a_webhook_payload_link_works_for_the_whole_retry_window(free, files, time_machine, anonymous, settings):
    time_machine.move_to("2026-11-02T10:00:00Z", tick=True)
    job_id = created(create_job(free.api, files, "pic.png", type="image.transform"))["id"]
    job = run(job_id)
    event = Event.objects.get(job_id=job_id, type="job.completed")
    webhook_link = json.loads(event.body)["data"]["output_url"]  # as the payload carries it
    api_link = job_data(job)["output_url"]
    time_machine.move_to("2026-11-03T12:00:00Z", tick=True)  # 26 h later: retries run for about 27 h
    assert anonymous.get(api_link).json()["code"] == "LINK_EXPIRED"
    assert downloaded(anonymous.get(webhook_link))[:4] == b"\x89PNG"  # either backend
    time_machine.move_to("2026-11-07T12:00:00Z", tick=True)
    assert anonymous.get(webhook_link).json()["code"] == "LINK_EXPIRED"
