"""Job files in an S3-compatible bucket (docs/deploy.md), on the real protocol: a
moto server on a local port, spoken to over HTTP by boto3 exactly as AWS,
MinIO or R2 would be. Also what the local backend keeps of it: direct
uploads to a signed URL of our own, webhook links that outlive the hour.
"""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

import requests
from django.test import Client

from jobs.models import Job, Upload
from jobs.serializers import job_data
from webhooks.models import Event
from tests.jobs.buckets import PREFIX, nothing_on_disk, run
from tests.jobs.helpers import create_job, created, downloaded, unique_name
from tests.jobs.test_stream import MP4_HEADER, stream, upload

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
