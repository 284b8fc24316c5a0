"""The worker's lifecycle, run inline: claim, fetch, sniff, process in a
forked child, complete or fail, with docs/errors.md's messages and codes."""

from __future__ import annotations

import os

import pytest

from jobs import tasks
from jobs.models import Job, JobStatus, JobTransition
from tests.httpservers import HANG, Response, serve
from tests.jobs.helpers import create_job, created, downloaded, unique_name


@pytest.fixture(autouse=True)
def _fast_heartbeat(settings):
    settings.AIPROD_JOB_HEARTBEAT_SECONDS = 0.2


def run(job_id: str) -> Job:
    tasks.run_job(job_id)
    return Job.objects.get(pk=job_id)


def test_a_probe_job_runs_to_completed_with_the_facts(free, files, children):
    job_id = created(create_job(free.api, files, "clip.mp4", type="media.probe"))["id"]
    job = run(job_id)
    assert job.status == JobStatus.COMPLETED, job.error
    assert job.output["format"] == "mp4"
    video = next(s for s in job.output["streams"] if s["type"] == "video")
    assert (video["codec"], video["width"], video["height"]) == ("h264", 320, 240)
    assert job.attempted_count == 1
    assert job.worker_instance.endswith(f":{os.getpid()}")
    assert job.progress == 100
    assert job.started_at and job.completed_at and job.duration_ms is not None
    assert job.input_kind == "video"
    steps = list(JobTransition.objects.filter(job=job).values_list("from_status", "to_status"))
    assert steps == [(None, "pending"), ("pending", "processing"), ("processing", "completed")]
    assert children.new() == []


def test_a_second_delivery_of_the_same_task_does_nothing(free, files):
    job_id = created(create_job(free.api, files, "pic.png", type="media.probe"))["id"]
    assert tasks.run_job(job_id) == "completed"
    assert tasks.run_job(job_id) == "skipped"
    assert Job.objects.get(pk=job_id).attempted_count == 1


def test_auto_on_an_image_becomes_image_transform_and_stores_an_output_file(free, files):
    job_id = created(create_job(free.api, files, "pic.png", params={"format": "webp", "width": 32}))["id"]
    job = run(job_id)
    assert job.status == JobStatus.COMPLETED, job.error
    assert (job.type, job.requested_type) == ("image.transform", "auto")
    assert job.output["format"] == "webp"
    assert job.output_file.startswith(f"jobs/{job_id}/output/")
    body = free.api.get(f"/jobs/{job_id}").json()
    assert body["output_url"].startswith(f"http://testserver/jobs/{job_id}/output?token=")


def test_an_input_the_sniffer_rejects_fails_unsupported_content_type(free, files):
    job_id = created(create_job(free.api, files, "garbage.bin"))["id"]
    job = run(job_id)
    assert (job.status, job.error_code, job.error) == ("failed", "UNSUPPORTED_INPUT", "Unsupported Content-Type")


def test_a_type_that_does_not_take_the_inputs_kind_fails_unsupported(free, files, media):
    # Declared generically, so creation cannot tell (a declared application/pdf is refused at once: test_create).
    files.routes["/document"] = (200, {"Content-Type": "application/octet-stream"}, media["doc.pdf"])
    job = run(created(create_job(free.api, files, "document", type="media.probe"))["id"])
    assert (job.status, job.error_code) == ("failed", "UNSUPPORTED_INPUT")
    assert job.error.startswith("Unsupported Content-Type")


LOGIN_PAGE = b"<!DOCTYPE html><html><body>Please log in</body></html>"


@pytest.mark.parametrize("job_type", ["document.extract_text", "auto"])
def test_an_html_page_served_in_place_of_the_file_fails_unsupported_content_type(free, db, job_type):
    with serve({"/report.pdf": (200, {"Content-Type": "text/html; charset=utf-8"}, LOGIN_PAGE)}) as srv:
        job = run(created(free.api.post("/jobs", {"name": unique_name(), "type": job_type,
                                                  "input_url": f"{srv.url}/report.pdf"}))["id"])
    assert (job.status, job.error_code, job.error) == ("failed", "UNSUPPORTED_INPUT", "Unsupported Content-Type: text/html")


def test_a_declared_type_of_another_kind_than_the_bytes_fails_unsupported(free, media):
    with serve({"/clip": (200, {"Content-Type": "audio/mpeg"}, media["pic.png"])}) as srv:
        job = run(created(free.api.post("/jobs", {"name": unique_name(), "input_url": f"{srv.url}/clip"}))["id"])
    assert (job.status, job.error_code) == ("failed", "UNSUPPORTED_INPUT")
    assert job.error == "Unsupported Content-Type: declared audio/mpeg, but the bytes are image/png"


@pytest.mark.parametrize("declared", ["application/octet-stream", "binary/octet-stream", None])
def test_a_generic_or_missing_content_type_leaves_the_decision_to_the_bytes(free, media, declared):
    headers = {"Content-Type": declared} if declared else {}
    with serve({"/upload": (200, headers, media["pic.png"])}) as srv:
        job = run(created(free.api.post("/jobs", {"name": unique_name(), "type": "media.probe",
                                                  "input_url": f"{srv.url}/upload"}))["id"])
    assert job.status == "completed", job.error


def test_an_input_answering_403_to_the_download_fails_invalid_input(free, media):
    routes = {"HEAD /a.png": (200, {"Content-Type": "image/png"}, b""), "GET /a.png": 403}
    with serve(routes) as srv:
        job_id = created(free.api.post("/jobs", {"name": unique_name(), "input_url": f"{srv.url}/a.png"}))["id"]
        job = run(job_id)
    assert (job.status, job.error_code, job.error) == ("failed", "INVALID_INPUT", "Invalid input: URL returned HTTP 403")


def test_an_input_server_that_never_sends_fails_timeout_after_the_fetch_timeout(free, media, settings):
    settings.AIPROD_JOB_FETCH_TIMEOUT = 0.5
    routes = {"HEAD /a.png": (200, {"Content-Type": "image/png"}, b""), "GET /a.png": Response(delay=HANG)}
    with serve(routes) as srv:
        job_id = created(free.api.post("/jobs", {"name": unique_name(), "input_url": f"{srv.url}/a.png"}))["id"]
        job = run(job_id)
    assert (job.status, job.error_code, job.error) == ("failed", "TIMEOUT", "Timeout after 0.5s")


def test_a_retried_job_pays_for_its_input_once(free, files, media):
    from quotas.models import MonthlyUsage

    job_id = created(create_job(free.api, files, "pic.png", type="media.probe"))["id"]
    assert run(job_id).status == "completed"
    size = len(media["pic.png"])
    assert MonthlyUsage.objects.get(account=free.account).data_bytes == size
    Job.objects.filter(pk=job_id).update(status=JobStatus.FAILED)  # e.g. a transient failure
    assert free.api.post(f"/jobs/{job_id}/retry").status_code == 200
    job = run(job_id)
    assert (job.status, job.attempted_count, job.data_bytes_counted) == ("completed", 2, size)
    assert MonthlyUsage.objects.get(account=free.account).data_bytes == size


def test_an_input_past_the_data_quota_fails_quota_exceeded(free, files):
    from quotas.services import consume_data

    consume_data(free.account, livemode=True, nbytes=10**9 - 10)
    job = run(created(create_job(free.api, files, "pic.png", type="media.probe"))["id"])
    assert (job.status, job.error_code) == ("failed", "QUOTA_EXCEEDED")
    assert job.error.startswith("Monthly data limit")


def test_params_that_do_not_suit_what_auto_became_fail_invalid_params(free, files):
    # garbage.bin says nothing about its kind at create time; the bytes are a PNG.
    files.routes["/mystery.bin"] = (200, {"Content-Type": "application/octet-stream"}, files.routes["/pic.png"][2])
    try:
        job = run(created(create_job(free.api, files, "mystery.bin", params={"bitrate": 5}))["id"])
    finally:
        del files.routes["/mystery.bin"]
    assert (job.status, job.error_code) == ("failed", "INVALID_PARAMS")
    assert job.type == "image.transform"
    assert "bitrate: Unknown parameter" in job.error


def test_a_job_running_past_its_timeout_fails_timeout_and_its_child_is_gone(free, files, long_wav, children):
    files.routes["/long.wav"] = (200, {"Content-Type": "audio/wav"}, long_wav)
    try:
        job_id = created(create_job(free.api, files, "long.wav", type="audio.transcribe"))["id"]
        # The API's minimum is 60 s; the row may say less.
        Job.objects.filter(pk=job_id).update(timeout=1)
        job = run(job_id)
    finally:
        del files.routes["/long.wav"]
    assert (job.status, job.error_code, job.error) == ("failed", "TIMEOUT", "Timeout: Job exceeded 1s limit")
    assert children.new() == []


def test_the_output_downloads_with_the_key_and_with_the_signed_link_alone(free, files, anonymous):
    job_id = created(create_job(free.api, files, "pic.png", type="image.transform", params={"format": "png"}))["id"]
    run(job_id)
    data = downloaded(free.api.get(f"/jobs/{job_id}/output"))  # 302 to the bucket with object storage
    assert data.startswith(b"\x89PNG")
    link = free.api.get(f"/jobs/{job_id}").json()["output_url"]
    assert downloaded(anonymous.get(link.replace("http://testserver", ""))) == data


def test_an_expired_or_tampered_output_link_is_refused(free, files, anonymous, time_machine):
    time_machine.move_to("2026-11-10T10:00:00Z", tick=True)
    job_id = created(create_job(free.api, files, "pic.png", type="image.transform"))["id"]
    run(job_id)
    link = free.api.get(f"/jobs/{job_id}").json()["output_url"].replace("http://testserver", "")
    tampered = anonymous.get(link[:-3] + "abc")
    assert tampered.status_code == 403
    assert tampered.json()["code"] == "INVALID_SIGNATURE"
    time_machine.move_to("2026-11-10T11:00:05Z", tick=True)
    expired = anonymous.get(link)
    assert expired.status_code == 403
    assert expired.json()["code"] == "LINK_EXPIRED"


def test_a_link_for_one_job_does_not_open_another(free, files, anonymous):
    a = created(create_job(free.api, files, "pic.png", type="image.transform"))["id"]
    b = created(create_job(free.api, files, "pic.jpg", type="image.transform"))["id"]
    run(a)
    run(b)
    link = free.api.get(f"/jobs/{a}").json()["output_url"].replace("http://testserver", "")
    assert anonymous.get(link.replace(a, b)).status_code == 403


def test_output_of_an_unfinished_job_is_not_found(free, files):
    job_id = created(create_job(free.api, files, "pic.png"))["id"]
    response = free.api.get(f"/jobs/{job_id}/output")
    assert response.status_code == 404
    assert response.json()["code"] == "NOT_FOUND"
    assert free.api.get(f"/jobs/{job_id}").json()["output_url"] is None


def test_a_probe_has_no_output_file(free, files):
    job_id = created(create_job(free.api, files, "pic.png", type="media.probe"))["id"]
    run(job_id)
    assert free.api.get(f"/jobs/{job_id}").json()["output_url"] is None
    response = free.api.get(f"/jobs/{job_id}/output")
    assert response.status_code == 404
    assert response.json()["message"] == (
        f"Job {job_id} (media.probe) has no output file: its result is in the job's `output` field (GET /jobs/{job_id})"
    )


def test_auto_resolved_by_the_worker_gets_that_types_default_timeout(free, files, media):
    # No extension, a generic Content-Type: only the bytes tell it is an image.
    files.routes["/image-without-a-name"] = (200, {"Content-Type": "application/octet-stream"}, media["pic.png"])
    job_id = created(free.api.post("/jobs", {"name": unique_name(), "input_url": f"{files.url}/image-without-a-name"}))["id"]
    assert Job.objects.get(pk=job_id).timeout == 3600  # the longest class while the type is unknown
    job = run(job_id)
    assert (job.status, job.type, job.timeout) == ("completed", "image.transform", 300)
    assert free.api.get(f"/jobs/{job_id}").json()["timeout"] == 300


def test_a_timeout_the_client_gave_is_kept_when_auto_resolves(free, files, media):
    files.routes["/image-without-a-name"] = (200, {"Content-Type": "application/octet-stream"}, media["pic.png"])
    job_id = created(free.api.post("/jobs", {"name": unique_name(), "input_url": f"{files.url}/image-without-a-name",
                                             "timeout": 3600}))["id"]
    job = run(job_id)
    assert (job.status, job.type, job.timeout) == ("completed", "image.transform", 3600)
