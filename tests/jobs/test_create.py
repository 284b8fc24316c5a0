"""POST /jobs: every validation message, every 422 code, defaults, idempotency."""

from __future__ import annotations

import pytest
from django.test import override_settings

from jobs.models import Job, JobTransition
from tests.httpservers import serve
from tests.jobs.helpers import create_job, created, unique_name

ALL_TYPES = "auto, audio.convert, audio.transcribe, document.extract_text, image.transform, media.probe, video.convert, video.thumbnail"


def details(response) -> dict:
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["error"] == "Validation failed"
    return body["details"]


def error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content
    body = response.json()
    assert body["code"] == code
    assert body["request_id"].startswith("req_")
    return body


# --------------------------------------------------------------------------- the happy path


def test_it_creates_a_pending_job_with_the_spec_fields(free, files):
    job = created(create_job(free.api, files, "pic.png", metadata={"user_id": "123"}))
    assert set(job) == {
        "id", "object", "livemode", "name", "type", "requested_type", "status", "progress", "input_url", "input",
        "params", "timeout", "webhook_url", "metadata", "output", "output_url", "error", "error_code",
        "attempted_count", "worker_instance", "created_at", "started_at", "completed_at", "last_activity_at",
        "duration_ms",
    }
    assert job["id"].startswith("job_")
    assert job["object"] == "job"
    assert job["status"] == "pending"
    assert job["livemode"] is True
    assert job["input"] == {"filename": "pic.png", "content_type": "image/png", "size_bytes": len(files.routes["/pic.png"][2])}
    assert job["metadata"] == {"user_id": "123"}
    assert job["created_at"].endswith("Z")
    assert job["last_activity_at"] == job["created_at"]
    assert job["attempted_count"] == 0
    row = Job.objects.get(pk=job["id"])
    assert row.account_id == free.account.id
    assert JobTransition.objects.filter(job=row, from_status=None, to_status="pending").exists()


def test_auto_resolves_by_the_inputs_kind_and_remembers_what_was_asked(free, files):
    job = created(create_job(free.api, files, "pic.png"))
    assert job["requested_type"] == "auto"
    assert job["type"] == "image.transform"
    audio = created(create_job(free.api, files, "tone.wav"))
    assert audio["type"] == "audio.transcribe"


def test_auto_stays_auto_when_the_url_does_not_tell_the_kind(free, files):
    job = created(create_job(free.api, files, "garbage.bin"))
    assert job["type"] == "auto"
    assert job["timeout"] == 3600


@pytest.mark.parametrize(
    ("job_type", "filename", "timeout"),
    [("media.probe", "clip.mp4", 300), ("image.transform", "pic.png", 300), ("audio.transcribe", "tone.wav", 1800),
     ("video.convert", "clip.mp4", 3600)],
)
def test_the_default_timeout_follows_the_types_class(free, files, job_type, filename, timeout):
    job = created(create_job(free.api, files, filename, type=job_type))
    assert job["timeout"] == timeout


@pytest.mark.parametrize(("filename", "timeout"), [("pic.png", 300), ("tone.wav", 1800), ("clip.mp4", 3600)])
def test_auto_gets_the_default_timeout_of_the_type_it_resolves_to(free, files, filename, timeout):
    assert created(create_job(free.api, files, filename))["timeout"] == timeout


def test_an_explicit_timeout_is_kept(free, files):
    assert created(create_job(free.api, files, timeout=1800))["timeout"] == 1800


def test_a_test_key_makes_a_test_mode_job(free, files):
    job = created(create_job(free.test_api, files))
    assert job["livemode"] is False


def test_params_are_validated_and_completed_by_the_types_processor(free, files):
    job = created(create_job(free.api, files, type="image.transform", params={"width": 32, "format": "webp"}))
    assert job["params"]["width"] == 32
    assert job["params"]["format"] == "webp"


# --------------------------------------------------------------------------- 400s, with docs/errors.md's messages


def test_missing_name_and_input_url_are_required(free):
    assert details(free.api.post("/jobs", {})) == {
        "name": ["This field is required"],
        "input_url": ["This field is required"],
    }


def test_a_string_timeout_is_expected_integer_got_string(free, files):
    assert details(create_job(free.api, files, timeout="3600")) == {"timeout": ["Expected integer, got string"]}


@pytest.mark.parametrize("timeout", [59, 7201, 0])
def test_a_timeout_outside_60_to_7200_is_refused(free, files, timeout):
    assert details(create_job(free.api, files, timeout=timeout)) == {"timeout": ["Must be between 60 and 7200"]}


def test_an_unknown_type_is_unknown_choice_listing_the_valid_types(free, files):
    assert details(create_job(free.api, files, type="video.teleport")) == {"type": [f"Unknown choice. Must be one of: {ALL_TYPES}"]}


@pytest.mark.parametrize("name", ["", "x" * 256])
def test_a_name_must_be_1_to_255_characters(free, files, name):
    response = free.api.post("/jobs", {"name": name, "input_url": f"{files.url}/pic.png"})
    assert details(response) == {"name": ["Must be between 1 and 255 characters"]}


def test_a_255_character_name_is_fine(free, files):
    assert created(free.api.post("/jobs", {"name": "n" * 255, "input_url": f"{files.url}/pic.png"}))


@pytest.mark.parametrize("url", ["ftp://example.com/hook", "not a url", "https://", "//example.com/x"])
def test_webhook_url_must_be_a_valid_https_url(free, files, url):
    assert details(create_job(free.api, files, webhook_url=url)) == {"webhook_url": ["Must be a valid HTTPS URL"]}


def test_webhook_url_must_be_https_when_insecure_urls_are_off(free, files, settings):
    settings.AIPROD_ALLOW_INSECURE_URLS = False
    response = free.api.post("/jobs", {"name": "x", "input_url": "https://example.com/a.png",
                                       "webhook_url": "http://example.com/hook"})
    assert details(response) == {"webhook_url": ["Must be a valid HTTPS URL"]}


def test_metadata_is_limited_to_100_keys(free, files):
    metadata = {f"k{i}": "v" for i in range(101)}
    assert details(create_job(free.api, files, metadata=metadata)) == {"metadata": ["Must have at most 100 keys"]}


def test_metadata_values_must_be_strings(free, files):
    assert details(create_job(free.api, files, metadata={"user_id": 123})) == {
        "metadata": ["Values must be strings ('user_id' is not)"]
    }


def test_metadata_values_are_at_most_1000_characters(free, files):
    response = create_job(free.api, files, metadata={"note": "x" * 1001})
    assert details(response) == {"metadata": ["Values must be at most 1000 characters ('note' is 1001)"]}


def test_metadata_must_be_an_object(free, files):
    assert details(create_job(free.api, files, metadata=["a"])) == {"metadata": ["Expected object, got array"]}


def test_params_the_processor_refuses_are_reported_under_params(free, files):
    response = create_job(free.api, files, type="image.transform", params={"width": "32", "colour": "red"})
    assert details(response) == {"params": {"width": ["Expected integer, got string"], "colour": ["Unknown parameter"]}}


def test_unknown_fields_are_refused(free, files):
    assert details(create_job(free.api, files, priority="high")) == {"priority": ["Unknown field"]}


def test_a_near_miss_field_name_gets_a_hint(free, files):
    assert details(create_job(free.api, files, meta={"a": "b"})) == {"meta": ["Unknown field; did you mean `metadata`?"]}


def test_a_newcomers_first_body_gets_every_error_at_once(free):
    # {"type", "url"}: the unknown field, both missing fields and the bad type, in one answer.
    response = free.api.post("/jobs", {"type": "transcribe", "url": "http://example.com/a.wav", "timeout": "60"})
    assert details(response) == {
        "name": ["This field is required"],
        "input_url": ["This field is required"],
        "type": [f"Unknown choice. Must be one of: {ALL_TYPES}"],
        "timeout": ["Expected integer, got string"],
        "url": ["Unknown field; did you mean `input_url`?"],
    }


def test_a_non_object_body_is_refused(free):
    assert details(free.api.post("/jobs", ["name"])) == {"body": ["Expected object, got array"]}


# --------------------------------------------------------------------------- 422s


def test_a_duplicate_name_in_the_same_month_is_duplicate_job(free, files):
    name = unique_name()
    created(free.api.post("/jobs", {"name": name, "input_url": f"{files.url}/pic.png"}))
    body = error(free.api.post("/jobs", {"name": name, "input_url": f"{files.url}/pic.png"}), 422, "DUPLICATE_JOB")
    assert body["error"] == "Unprocessable entity"
    assert body["message"] == "Job with this name already exists in this month"
    assert Job.objects.filter(name=name).count() == 1


def test_the_same_name_is_fine_for_another_account_or_the_test_environment(free, pro, files):
    name = unique_name()
    for api in (free.api, free.test_api, pro.api):
        created(api.post("/jobs", {"name": name, "input_url": f"{files.url}/pic.png"}))


def test_the_same_name_is_fine_in_another_month(free, files, time_machine):
    name = unique_name()
    time_machine.move_to("2026-10-31T23:59:00Z", tick=True)
    created(free.api.post("/jobs", {"name": name, "input_url": f"{files.url}/pic.png"}))
    time_machine.move_to("2026-11-01T00:01:00Z", tick=True)
    created(free.api.post("/jobs", {"name": name, "input_url": f"{files.url}/pic.png"}))


def test_an_input_url_answering_404_is_invalid_url(free, files):
    body = error(create_job(free.api, files, "missing.png"), 422, "INVALID_URL")
    assert body["message"] == "Input URL returned HTTP 404"


def test_an_input_url_redirecting_to_garbage_is_invalid_url(free, db):
    from tests.httpservers import redirect, serve

    with serve({"/a.png": redirect("http://[::1")}) as srv:
        response = free.api.post("/jobs", {"name": "x", "input_url": srv.url + "/a.png"})
    assert error(response, 422, "INVALID_URL")["message"] == "Input URL redirected to an invalid URL"


def test_an_unreachable_input_url_is_invalid_url(free, db):
    from tests.httpservers import closed_port

    with closed_port() as port:
        response = free.api.post("/jobs", {"name": "x", "input_url": f"http://127.0.0.1:{port}/a.png"})
    assert error(response, 422, "INVALID_URL")["message"] == "Input URL is unreachable: connection refused"


def test_a_plain_http_input_url_must_use_https(free, settings, db):
    settings.AIPROD_ALLOW_INSECURE_URLS = False
    response = free.api.post("/jobs", {"name": "x", "input_url": "http://example.com/a.png"})
    assert error(response, 422, "INVALID_URL")["message"] == "Input URL must use HTTPS"


LOCAL_HINT = "; for local development set AIPROD_ALLOW_INSECURE_URLS=1 on the server"


def test_a_plain_http_input_url_on_this_machine_says_how_development_setups_allow_it(free, settings, files):
    settings.AIPROD_ALLOW_INSECURE_URLS = False
    response = free.api.post("/jobs", {"name": "x", "input_url": f"{files.url}/pic.png"})
    assert error(response, 422, "INVALID_URL")["message"] == "Input URL must use HTTPS" + LOCAL_HINT


@pytest.mark.parametrize(
    ("url", "hint"),
    [
        ("https://127.0.0.1/a.png", LOCAL_HINT),
        ("https://10.1.2.3/a.png", LOCAL_HINT),
        ("https://169.254.169.254/latest/meta-data/", ""),  # cloud metadata: no invitation
        ("https://[::1]/a.png", LOCAL_HINT),
        ("https://localhost/a.png", LOCAL_HINT),
    ],
)
def test_input_urls_pointing_inside_are_refused(free, settings, url, hint):
    settings.AIPROD_ALLOW_INSECURE_URLS = False
    response = free.api.post("/jobs", {"name": "x", "input_url": url})
    assert error(response, 422, "INVALID_URL")["message"] == "Input URL resolves to a private address" + hint
    assert not Job.objects.exists()


def test_a_webhook_url_pointing_inside_is_invalid_url(free, settings, db):
    settings.AIPROD_ALLOW_INSECURE_URLS = False
    response = free.api.post("/jobs", {"name": "x", "input_url": "https://127.0.0.1/a.png",
                                       "webhook_url": "https://169.254.169.254/hook"})
    assert error(response, 422, "INVALID_URL")["message"] == "Webhook URL resolves to a private address"


def test_the_job_quota_is_quota_exceeded_with_the_guides_message(free, files):
    from quotas.services import reserve_job

    for _ in range(100):
        reserve_job(free.account, livemode=True)
    body = error(create_job(free.api, files), 422, "QUOTA_EXCEEDED")
    assert body["message"] == "Monthly job limit (100) exceeded. Upgrade to Pro for 10,000/month."
    assert not Job.objects.exists()


def test_test_mode_jobs_count_against_no_quota(free, files):
    from quotas.services import reserve_job

    for _ in range(100):
        reserve_job(free.account, livemode=True)
    created(create_job(free.test_api, files))


def test_creating_needs_the_jobs_create_scope(personas, files):
    reader = personas("free", scopes=["jobs.read"])
    body = error(create_job(reader.api, files), 403, "INSUFFICIENT_SCOPE")
    assert "jobs.create" in body["message"]


# --------------------------------------------------------------------------- Idempotency-Key


def test_the_same_idempotency_key_and_body_replays_the_first_response(free, files):
    body = {"name": unique_name(), "input_url": f"{files.url}/pic.png"}
    first = free.api.post("/jobs", body, headers={"Idempotency-Key": "abc-1"})
    second = free.api.post("/jobs", body, headers={"Idempotency-Key": "abc-1"})
    assert first.status_code == second.status_code == 201
    assert second.json() == first.json()
    assert second["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first
    assert Job.objects.count() == 1


def test_the_same_idempotency_key_with_another_body_is_refused(free, files):
    free.api.post("/jobs", {"name": unique_name(), "input_url": f"{files.url}/pic.png"},
                  headers={"Idempotency-Key": "abc-2"})
    response = free.api.post("/jobs", {"name": unique_name(), "input_url": f"{files.url}/pic.png"},
                             headers={"Idempotency-Key": "abc-2"})
    assert error(response, 422, "IDEMPOTENCY_KEY_REUSED")
    assert Job.objects.count() == 1


def test_an_idempotency_key_is_forgotten_after_24_hours(free, files, time_machine):
    body = {"name": unique_name(), "input_url": f"{files.url}/pic.png"}
    time_machine.move_to("2026-11-10T10:00:00Z", tick=True)
    first = created(free.api.post("/jobs", body, headers={"Idempotency-Key": "abc-3"}))
    time_machine.move_to("2026-11-11T10:00:01Z", tick=True)
    again = free.api.post("/jobs", body, headers={"Idempotency-Key": "abc-3"})
    # Not replayed: a real second attempt, which meets the monthly name rule.
    assert error(again, 422, "DUPLICATE_JOB")
    assert Job.objects.get().pk == first["id"]


def test_a_failed_create_is_not_remembered_for_its_idempotency_key(free, files):
    body = {"name": unique_name(), "input_url": f"{files.url}/missing.png"}
    assert free.api.post("/jobs", body, headers={"Idempotency-Key": "abc-4"}).status_code == 422
    files.routes["/missing.png"] = (200, {"Content-Type": "image/png"}, files.routes["/pic.png"][2])
    try:
        created(free.api.post("/jobs", body, headers={"Idempotency-Key": "abc-4"}))
    finally:
        del files.routes["/missing.png"]


def test_idempotency_keys_belong_to_one_account(free, pro, files):
    body = {"name": unique_name(), "input_url": f"{files.url}/pic.png"}
    a = created(free.api.post("/jobs", body, headers={"Idempotency-Key": "shared"}))
    b = created(pro.api.post("/jobs", body, headers={"Idempotency-Key": "shared"}))
    assert a["id"] != b["id"]


def test_an_overlong_idempotency_key_is_a_400(free, files):
    response = create_job(free.api, files, headers={"Idempotency-Key": "k" * 256})
    assert details(response) == {"Idempotency-Key": ["Must be 1 to 255 characters"]}


def test_enqueueing_happens_only_after_commit(free, files, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        created(create_job(free.api, files))
    assert len(callbacks) >= 1


@override_settings(AIPROD_ALLOW_INSECURE_URLS=True)
def test_a_slow_preflight_is_a_timeout_after_10s_message(free, db, monkeypatch):
    from core import outbound
    from tests.httpservers import HANG, Response

    real = outbound.preflight
    monkeypatch.setattr(outbound, "preflight", lambda url, **kw: real(url, **{**kw, "timeout": 0.5}))
    with serve({"/slow.png": Response(delay=HANG)}) as srv:
        response = free.api.post("/jobs", {"name": "x", "input_url": f"{srv.url}/slow.png"})
    assert error(response, 422, "INVALID_URL")["message"] == "Input URL is unreachable: connection timeout after 0.5s"


# --------------------------------------------------------------------------- the declared type vs the job type


def test_a_type_the_declared_content_type_rules_out_is_refused_at_creation(free, files, media):
    response = create_job(free.api, files, "pic.png", type="audio.transcribe")
    body = error(response, 422, "UNSUPPORTED_INPUT")
    assert body["message"] == "Unsupported Content-Type: audio.transcribe does not take image input"
    assert not Job.objects.exists()
    # The very answer /jobs/stream gives for the same mistake.
    streamed = free.api.post("/jobs/stream?filename=pic.png&type=audio.transcribe", media["pic.png"],
                             content_type="image/png")
    assert streamed.json() == {**body, "request_id": streamed.json()["request_id"]}


def test_a_generic_declared_content_type_leaves_the_type_to_the_bytes(free, files):
    job = created(create_job(free.api, files, "garbage.bin", type="audio.transcribe"))
    assert job["status"] == "pending"


def test_a_type_that_takes_the_declared_kind_is_accepted(free, files):
    assert created(create_job(free.api, files, "clip.mp4", type="audio.transcribe"))["type"] == "audio.transcribe"
    assert created(create_job(free.api, files, "pic.png", type="media.probe"))["type"] == "media.probe"
