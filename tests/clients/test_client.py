"""The Python client (clients/python, package aiprod_client) against the real
server: jobs from create to download, cursors, idempotent retries after a lost
answer, uploads streamed in chunks, and one exception class per error code."""

from __future__ import annotations

import io
import socket
import threading

import pytest
from aiprod_client import Client, errors
from django_q.conf import Conf
from PIL import Image

from jobs.models import Job
from tests.clients.conftest import AnswerDroppingProxy
from tests.httpservers import closed_port, serve


def test_it_reads_the_key_and_the_base_url_from_the_environment(free, live_server, monkeypatch):
    monkeypatch.setenv("AIPROD_API_KEY", free.key)
    monkeypatch.setenv("AIPROD_BASE_URL", live_server.url)
    with Client() as client:
        assert client.usage()["tier"] == "free"


def test_a_job_is_created_waited_for_and_its_output_downloaded(free, connect, files, tmp_path):
    client = connect(free)
    job = client.jobs.create(files.url + "/pic.png", type="image.transform", params={"width": 16, "format": "png"})
    assert job["id"].startswith("job_") and job["name"].startswith("pic.png (")
    done = client.jobs.wait(job["id"], timeout=60)
    assert done["status"] == "completed", done
    path = client.jobs.download(job["id"], tmp_path)
    assert path.parent == tmp_path and not list(tmp_path.glob("*.part"))
    with Image.open(path) as image:
        assert image.format == "PNG" and image.width == 16


def test_download_writes_into_a_file_object_and_reports_progress(free, connect, files):
    client = connect(free)
    job = client.jobs.wait(client.jobs.create(files.url + "/notes.txt", type="document.extract_text")["id"])
    sink, seen = io.BytesIO(), []
    client.jobs.download(job["id"], sink, on_progress=lambda done, total: seen.append((done, total)))
    assert b"Some notes." in sink.getvalue()
    assert seen[-1][0] == len(sink.getvalue())


def test_a_create_whose_answer_was_lost_is_retried_and_makes_one_job(free, live_server, files):
    with AnswerDroppingProxy(live_server.url, "POST", "/jobs") as proxy:
        retries = []
        with Client(api_key=free.key, base_url=proxy.url, max_retries=2,
                    on_retry=lambda attempt, wait, reason: retries.append(reason)) as client:
            job = client.jobs.create(files.url + "/notes.txt", name="lost answer", type="document.extract_text")
    posts = [r for r in proxy.seen if r["method"] == "POST"]
    assert len(posts) == 2 and retries == ["ConnectionError"]
    assert posts[0]["headers"]["Idempotency-Key"] == posts[1]["headers"]["Idempotency-Key"]
    assert Job.objects.filter(account=free.account, name="lost answer").count() == 1
    assert job["id"] == Job.objects.get(account=free.account, name="lost answer").pk


def test_a_streamed_upload_whose_answer_was_lost_is_resent_and_makes_one_job(free, live_server, media):
    with AnswerDroppingProxy(live_server.url, "POST", "/jobs/stream") as proxy:
        with Client(api_key=free.key, base_url=proxy.url, max_retries=2) as client:
            client.uploads._direct = False  # the stream path, also where POST /uploads exists
            job = client.uploads.upload(io.BytesIO(media["notes.txt"]), filename="notes.txt",
                                        type="document.extract_text")
    sent = [r for r in proxy.seen if r["path"].startswith("/jobs/stream")]
    assert len(sent) == 2  # the second got DUPLICATE_JOB: the name is unique per month
    assert list(Job.objects.filter(account=free.account).values_list("pk", flat=True)) == [job["id"]]


def test_a_post_the_server_cannot_deduplicate_is_not_resent_after_a_lost_answer(pro, live_server):
    from webhooks.models import WebhookEndpoint

    with AnswerDroppingProxy(live_server.url, "POST", "/account/webhooks") as proxy, serve({"/h": 200}) as receiver:
        with Client(api_key=pro.key, base_url=proxy.url, max_retries=3) as client:
            with pytest.raises(errors.APIConnectionError) as caught:
                client.webhooks.create(receiver.url + "/h")
    assert caught.value.attempts == 1 and len(proxy.seen) == 1
    assert WebhookEndpoint.objects.filter(account=pro.account).count() == 1


def test_every_post_carries_a_fresh_idempotency_key(free, live_server, files):
    with AnswerDroppingProxy(live_server.url, "POST", "/nothing", drop=0) as proxy:
        with Client(api_key=free.key, base_url=proxy.url) as client:
            first = client.jobs.create(files.url + "/notes.txt", name="one", type="document.extract_text")
            second = client.jobs.create(files.url + "/notes.txt", name="two", type="document.extract_text")
    keys = [r["headers"]["Idempotency-Key"] for r in proxy.seen if r["method"] == "POST"]
    assert len(set(keys)) == 2 and first["id"] != second["id"]


def test_list_follows_cursors_newest_first(free, connect, files):
    client = connect(free)
    made = [client.jobs.create(files.url + "/notes.txt", name=f"page {i}", type="document.extract_text")["id"]
            for i in range(5)]
    listing = client.jobs.list(limit=2)
    assert [job["id"] for job in listing] == made[::-1]
    assert [len(page["data"]) for page in listing.pages()] == [2, 2, 1]
    assert [job["id"] for job in client.jobs.list(limit=2, max_items=3)] == made[::-1][:3]


def test_an_upload_is_streamed_in_chunks_and_becomes_a_job(free, connect, tmp_path):
    path = tmp_path / "big notes.txt"
    path.write_bytes(b"A line of notes to extract.\n" * 40_000)  # 1.1 MB: several chunks
    progress = []
    client = connect(free)
    job = client.uploads.upload(path, type="document.extract_text",
                                on_progress=lambda done, total: progress.append((done, total)))
    assert job["input"]["filename"] == "big notes.txt"
    done = client.jobs.wait(job["id"], timeout=60)  # a direct upload's size is known once the job read it
    assert done["status"] == "completed" and done["input"]["size_bytes"] == path.stat().st_size
    assert len(progress) > 3 and progress[-1] == (path.stat().st_size, path.stat().st_size)


def test_an_upload_takes_an_open_file(free, connect, media):
    job = connect(free).uploads.upload(io.BytesIO(media["pic.png"]), filename="pic.png", type="media.probe")
    assert job["input"]["filename"] == "pic.png" and job["type"] == "media.probe"


@pytest.fixture
def queued(monkeypatch):
    """Jobs stay pending (queued for a cluster that is not running)."""
    monkeypatch.setattr(Conf, "SYNC", False)


def test_cancel_retry_timeline_and_delete(free, connect, files, queued):
    client = connect(free)
    job = client.jobs.create(files.url + "/notes.txt", type="document.extract_text")
    assert client.jobs.get(job["id"])["status"] == "pending"
    assert client.jobs.cancel(job["id"])["status"] == "cancelled"
    with pytest.raises(errors.InvalidStateError) as caught:
        client.jobs.cancel(job["id"])
    assert caught.value.status == 422 and caught.value.request_id.startswith("req_")
    assert client.jobs.retry(job["id"])["status"] == "pending"
    assert "cancelled" in str(client.jobs.timeline(job["id"]))
    client.jobs.delete(job["id"])
    with pytest.raises(errors.NotFoundError):
        client.jobs.get(job["id"])


def test_batch_needs_a_paid_tier_and_answers_found_and_missing(free, pro, connect, files):
    with pytest.raises(errors.TierRequiredError):
        connect(free).jobs.batch(["job_x"])
    client = connect(pro)
    job = client.jobs.create(files.url + "/notes.txt", type="document.extract_text")
    answer = client.jobs.batch([job["id"], "job_missing"])
    assert [j["id"] for j in answer["data"]] == [job["id"]] and answer["not_found"] == ["job_missing"]


def test_each_error_code_raises_its_own_class_with_the_request_id(free, personas, connect, files):
    with pytest.raises(errors.InvalidCredentialsError) as caught:
        connect("sk_live_" + "x" * 40).usage()
    assert isinstance(caught.value, errors.AuthenticationError)
    assert (caught.value.status, caught.value.code) == (401, "INVALID_CREDENTIALS")
    assert caught.value.request_id.startswith("req_")

    with pytest.raises(errors.MissingCredentialsError):
        connect(None).usage()

    reader = personas("free", scopes=["jobs.read"])
    with pytest.raises(errors.InsufficientScopeError) as caught:
        connect(reader).usage()
    assert isinstance(caught.value, errors.PermissionDeniedError) and "account.read" in caught.value.message

    client = connect(free)
    with pytest.raises(errors.NotFoundError):
        client.jobs.get("job_doesnotexist")
    with pytest.raises(errors.ValidationError) as caught:
        client.jobs.create(files.url + "/notes.txt", type="no.such.type")
    assert caught.value.status == 400 and caught.value.details["type"][0].startswith("Unknown choice. Must be one of: auto,")
    client.jobs.create(files.url + "/notes.txt", name="twice", type="document.extract_text")
    with pytest.raises(errors.DuplicateJobError) as caught:
        client.jobs.create(files.url + "/notes.txt", name="twice", type="document.extract_text")
    assert isinstance(caught.value, errors.ConflictError)
    with pytest.raises(errors.InvalidUrlError):
        client.jobs.create(files.url + "/missing.txt")

    # 503 STORAGE_UNAVAILABLE (the bucket did not answer; see tests/jobs/test_object_storage.py for the server side)
    storage = errors.error_for(503, {"code": "STORAGE_UNAVAILABLE", "message": "Storage unavailable",
                                     "request_id": "req_1"}, {"Retry-After": "5"})
    assert type(storage) is errors.StorageUnavailableError and isinstance(storage, errors.ServiceUnavailableError)
    assert (storage.status, storage.code, storage.request_id) == (503, "STORAGE_UNAVAILABLE", "req_1")


def test_quota_exceeded_is_its_own_class(free, connect, files):
    from quotas.models import MonthlyUsage
    from core.timefmt import month_start

    MonthlyUsage.objects.create(account=free.account, month=month_start(), jobs_count=100)
    with pytest.raises(errors.QuotaExceededError) as caught:
        connect(free).jobs.create(files.url + "/notes.txt")
    assert caught.value.status == 422 and "Monthly job limit (100)" in caught.value.message


@pytest.mark.parametrize("call", [lambda c: c.usage(), lambda c: c.jobs.cancel("job_x")], ids=["GET", "POST"])
def test_a_refused_connection_is_retried_with_capped_backoff_then_raised(call):
    retries = []
    with closed_port() as port:
        client = Client(api_key="sk_live_x", base_url=f"http://127.0.0.1:{port}", max_retries=2,
                        backoff_max=0.05, on_retry=lambda attempt, wait, reason: retries.append((attempt, wait)))
        with pytest.raises(errors.APIConnectionError) as caught:
            call(client)
    assert [a for a, _ in retries] == [1, 2] and all(0 <= w <= 0.05 for _, w in retries)
    assert caught.value.attempts == 3


def test_close_hangs_up_at_once_while_a_raised_error_is_still_held():
    """The error's traceback keeps the response (and urllib3's pool) alive:
    close() must still end the kept-alive connection, or the server's request
    thread (the live server's, with its database session) waits on it."""
    listener = socket.create_server(("127.0.0.1", 0))
    hung_up = threading.Event()

    def answer_once_then_wait():
        conn, _ = listener.accept()
        with conn:
            conn.recv(65536)
            body = b'{"code": "NOT_FOUND", "message": "No such job."}'
            conn.sendall(b"HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\n"
                         b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
            conn.settimeout(5)
            if conn.recv(1) == b"":
                hung_up.set()

    server = threading.Thread(target=answer_once_then_wait, daemon=True)
    server.start()
    with listener:
        client = Client(api_key="sk_live_x", base_url=f"http://127.0.0.1:{listener.getsockname()[1]}", max_retries=0)
        with pytest.raises(errors.NotFoundError) as caught:
            client.jobs.get("job_x")
        client.close()
        assert hung_up.wait(5) and caught.value.status == 404
        server.join(5)


def test_keys_current_create_and_revoke(free, connect):
    client = connect(free)
    assert client.keys.current()["environment"] == "live"
    made = client.keys.create("ci", scopes=["jobs.read"])
    assert made["key"].startswith("sk_live_") and made["scopes"] == ["jobs.read"]
    assert made["id"] in [k["id"] for k in client.keys.list()]
    client.keys.revoke(made["id"])
    with pytest.raises(errors.RevokedKeyError):
        connect(made["key"]).jobs.get("job_x")


def test_logs_show_the_failed_request_by_its_request_id(free, connect):
    client = connect(free)
    with pytest.raises(errors.NotFoundError) as caught:
        client.jobs.get("job_nothere")
    entries = client.logs(errors=True)["data"]
    assert caught.value.request_id in [e["request_id"] for e in entries]


def _server_offers_direct_uploads() -> bool:
    from django.urls import Resolver404, resolve

    try:
        resolve("/uploads")
    except Resolver404:
        return False
    return True


def _requests_made(client) -> list[tuple[str, str, int]]:
    return [(e["method"], e["path"].split("?")[0], e["status"]) for e in client.logs(sort="asc")["data"]]


def test_an_upload_goes_direct_where_the_server_offers_post_uploads(free, connect, media):
    if not _server_offers_direct_uploads():
        pytest.skip("this server has no POST /uploads (direct uploads)")
    client = connect(free)
    job = client.uploads.upload(io.BytesIO(media["pic.png"]), filename="pic.png", type="media.probe")
    assert client.jobs.wait(job["id"], timeout=60)["status"] == "completed"
    made = _requests_made(client)
    assert ("POST", "/uploads", 201) in made and ("POST", "/jobs", 201) in made
    assert not [m for m in made if m[1] == "/jobs/stream"]


def test_an_upload_streams_to_jobs_stream_where_there_are_no_direct_uploads(free, connect, media):
    client = connect(free)
    if _server_offers_direct_uploads():
        client.uploads._direct = False  # as on a server without POST /uploads
    job = client.uploads.upload(io.BytesIO(media["pic.png"]), filename="pic.png", type="media.probe")
    assert job["input"]["size_bytes"] == len(media["pic.png"])
    assert ("POST", "/jobs/stream", 201) in _requests_made(client)
