"""Cancel, timeout, retry, PATCH and DELETE: which states allow what."""

from __future__ import annotations

import pytest
from django.core.files.storage import default_storage

from jobs import tasks
from jobs.models import Job, JobTransition
from tests.jobs.helpers import create_job, created, unique_name


@pytest.fixture
def job_in(free, files):
    """job_in("failed") → the id of a real job of `free` put in that state."""

    def make(status: str) -> str:
        job_id = created(create_job(free.api, files))["id"]
        Job.objects.filter(pk=job_id).update(status=status, attempted_count=1 if status != "pending" else 0)
        return job_id

    return make


def assert_invalid_state(response):
    assert response.status_code == 422, response.content
    assert response.json()["code"] == "INVALID_STATE"


# --------------------------------------------------------------------------- cancel


@pytest.mark.parametrize("status", ["pending", "processing"])
def test_an_active_job_can_be_cancelled(free, job_in, status):
    job_id = job_in(status)
    response = free.api.post(f"/jobs/{job_id}/cancel")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "cancelled"
    assert body["completed_at"] is not None
    row = Job.objects.get(pk=job_id)
    assert row.cancel_requested is (status == "processing")
    assert JobTransition.objects.filter(job=row, from_status=status, to_status="cancelled").exists()


@pytest.mark.parametrize("status", ["completed", "failed", "cancelled"])
def test_a_finished_job_cannot_be_cancelled(free, job_in, status):
    assert_invalid_state(free.api.post(f"/jobs/{job_in(status)}/cancel"))


# --------------------------------------------------------------------------- timeout


@pytest.mark.parametrize("status", ["pending", "processing"])
def test_force_timeout_fails_an_active_job_with_code_timeout(free, job_in, status):
    job_id = job_in(status)
    response = free.api.post(f"/jobs/{job_id}/timeout", {"reason": "Stuck in processing"})
    assert response.status_code == 200
    body = response.json()
    assert (body["status"], body["error_code"], body["error"]) == ("failed", "TIMEOUT", "Timeout: Stuck in processing")


def test_force_timeout_accepts_the_guides_form_labelled_json(free, job_in):
    job_id = job_in("processing")
    response = free.api.post(f"/jobs/{job_id}/timeout", '{"reason": "Stuck in processing"}',
                             content_type="application/x-www-form-urlencoded")
    assert response.json()["error"] == "Timeout: Stuck in processing"


def test_force_timeout_without_a_body_says_forced(free, job_in):
    response = free.api.post(f"/jobs/{job_in('pending')}/timeout", b"", content_type="application/json")
    assert response.json()["error"] == "Timeout: Forced timeout"


@pytest.mark.parametrize("status", ["completed", "failed", "cancelled"])
def test_a_finished_job_cannot_be_timed_out(free, job_in, status):
    assert_invalid_state(free.api.post(f"/jobs/{job_in(status)}/timeout", {"reason": "x"}))


# --------------------------------------------------------------------------- retry


@pytest.mark.parametrize("status", ["failed", "cancelled"])
def test_a_failed_or_cancelled_job_can_be_retried_without_counting_a_new_job(free, job_in, status, django_capture_on_commit_callbacks):
    from quotas.models import MonthlyUsage

    job_id = job_in(status)
    Job.objects.filter(pk=job_id).update(error="boom", error_code="PROCESSING_FAILED")
    used = MonthlyUsage.objects.get(account=free.account).jobs_count
    with django_capture_on_commit_callbacks() as callbacks:
        response = free.api.post(f"/jobs/{job_id}/retry")
    assert response.status_code == 200
    body = response.json()
    assert (body["status"], body["error"], body["error_code"]) == ("pending", None, None)
    assert MonthlyUsage.objects.get(account=free.account).jobs_count == used
    assert callbacks, "the job is queued again after commit"


@pytest.mark.parametrize("status", ["pending", "processing", "completed"])
def test_an_active_or_completed_job_cannot_be_retried(free, job_in, status):
    assert_invalid_state(free.api.post(f"/jobs/{job_in(status)}/retry"))


def test_a_retried_job_runs_again_and_counts_its_attempts(free, files):
    job_id = created(create_job(free.api, files, "pic.png", type="media.probe"))["id"]
    Job.objects.filter(pk=job_id).update(input_url=f"{files.url}/gone.png")
    tasks.run_job(job_id)
    assert Job.objects.get(pk=job_id).status == "failed"
    Job.objects.filter(pk=job_id).update(input_url=f"{files.url}/pic.png")
    free.api.post(f"/jobs/{job_id}/retry")
    tasks.run_job(job_id)
    job = Job.objects.get(pk=job_id)
    assert (job.status, job.attempted_count, job.error) == ("completed", 2, None)


# --------------------------------------------------------------------------- PATCH


def test_patch_updates_name_metadata_and_webhook_url(free, job_in):
    job_id = job_in("pending")
    response = free.api.patch(f"/jobs/{job_id}", {"name": "renamed", "metadata": {"a": "b"},
                                                 "webhook_url": "https://example.com/hook"})
    assert response.status_code == 200
    body = response.json()
    assert (body["name"], body["metadata"], body["webhook_url"]) == ("renamed", {"a": "b"}, "https://example.com/hook")
    assert free.api.patch(f"/jobs/{job_id}", {"webhook_url": None}).json()["webhook_url"] is None


def test_patch_to_a_name_taken_this_month_is_duplicate_job(free, files, job_in):
    taken = unique_name()
    created(free.api.post("/jobs", {"name": taken, "input_url": f"{files.url}/pic.png"}))
    response = free.api.patch(f"/jobs/{job_in('pending')}", {"name": taken})
    assert response.status_code == 422
    assert response.json()["code"] == "DUPLICATE_JOB"


@pytest.mark.parametrize("status", ["pending", "processing"])
def test_patch_status_cancelled_cancels(free, job_in, status):
    response = free.api.patch(f"/jobs/{job_in(status)}", {"status": "cancelled"})
    assert response.json()["status"] == "cancelled"


@pytest.mark.parametrize("target", ["pending", "processing", "completed", "failed"])
def test_patch_to_any_other_valid_status_is_invalid_state(free, job_in, target):
    job_id = job_in("pending")
    assert_invalid_state(free.api.patch(f"/jobs/{job_id}", {"status": target}))
    assert Job.objects.get(pk=job_id).status == "pending"


def test_patch_to_an_unknown_status_lists_the_statuses(free, job_in):
    response = free.api.patch(f"/jobs/{job_in('pending')}", {"status": "running"})
    assert response.status_code == 400
    assert response.json()["details"] == {
        "status": ["Must be one of: pending, processing, completed, failed, cancelled"]
    }


def test_patch_with_a_cancel_that_fails_changes_nothing(free, job_in):
    job_id = job_in("completed")
    assert_invalid_state(free.api.patch(f"/jobs/{job_id}", {"name": "new name", "status": "cancelled"}))
    assert Job.objects.get(pk=job_id).name != "new name"


def test_patch_refuses_fields_that_are_not_editable(free, job_in):
    response = free.api.patch(f"/jobs/{job_in('pending')}", {"timeout": 100})
    assert response.json()["details"] == {"timeout": ["Unknown field"]}


def test_patch_of_another_accounts_job_is_not_found(free, pro, job_in):
    assert pro.api.patch(f"/jobs/{job_in('pending')}", {"name": "x"}).status_code == 404


# --------------------------------------------------------------------------- DELETE


def test_delete_removes_the_job_and_its_files(free, files):
    job_id = created(create_job(free.api, files, "pic.png", type="image.transform"))["id"]
    tasks.run_job(job_id)
    output = Job.objects.get(pk=job_id).output_file
    assert default_storage.exists(output)
    response = free.api.delete(f"/jobs/{job_id}")
    assert response.status_code == 204
    assert not Job.objects.filter(pk=job_id).exists()
    assert free.api.get(f"/jobs/{job_id}").status_code == 404


def test_delete_removes_stored_files_after_commit(free, files, django_capture_on_commit_callbacks):
    job_id = created(create_job(free.api, files, "pic.png", type="image.transform"))["id"]
    tasks.run_job(job_id)
    output = Job.objects.get(pk=job_id).output_file
    with django_capture_on_commit_callbacks(execute=True):
        free.api.delete(f"/jobs/{job_id}")
    assert not default_storage.exists(output)


def test_deleting_an_active_job_cancels_it_first(free, job_in):
    job_id = job_in("processing")
    assert free.api.delete(f"/jobs/{job_id}").status_code == 204
    assert not Job.objects.filter(pk=job_id).exists()


def test_delete_needs_the_jobs_delete_scope(personas, files):
    persona = personas("free", scopes=["jobs.read", "jobs.create"])
    job_id = created(create_job(persona.api, files))["id"]
    response = persona.api.delete(f"/jobs/{job_id}")
    assert response.status_code == 403
    assert "jobs.delete" in response.json()["message"]


def test_delete_of_another_accounts_job_is_not_found(free, pro, job_in):
    job_id = job_in("pending")
    assert pro.api.delete(f"/jobs/{job_id}").status_code == 404
    assert Job.objects.filter(pk=job_id).exists()


# --------------------------------------------------------------------------- timeline


def test_the_timeline_tells_requests_and_state_changes_in_order(free, files):
    response = create_job(free.api, files, "pic.png", type="media.probe")
    job_id = created(response)["id"]
    tasks.run_job(job_id)
    free.api.get(f"/jobs/{job_id}")
    timeline = free.api.get(f"/jobs/{job_id}/timeline").json()
    assert timeline["object"] == "list" and timeline["job_id"] == job_id
    entries = timeline["data"]
    kinds = [(e["kind"], e.get("to_status") or e.get("method")) for e in entries]
    assert kinds == [
        ("state_change", "pending"),
        ("request", "POST"),
        ("state_change", "processing"),
        ("state_change", "completed"),
        ("request", "GET"),
    ]
    assert entries[1]["request_id"] == response["X-Request-ID"]
    assert entries[2]["attempt"] == 1 and entries[2]["worker"]
    timestamps = [e["timestamp"] for e in entries]
    assert timestamps == sorted(timestamps)


def test_a_transition_records_who_did_it_and_why(free, job_in):
    job_id = job_in("processing")
    free.api.post(f"/jobs/{job_id}/timeout", {"reason": "Stuck in processing"})
    entry = free.api.get(f"/jobs/{job_id}/timeline").json()["data"][-2]
    assert entry["kind"] == "state_change"
    assert (entry["from_status"], entry["to_status"], entry["actor"]) == ("processing", "failed", "api")
    assert (entry["reason"], entry["error_code"]) == ("Timeout: Stuck in processing", "TIMEOUT")


def test_another_accounts_requests_for_the_id_stay_out_of_the_timeline(free, pro, job_in):
    job_id = job_in("pending")
    assert pro.api.post(f"/jobs/{job_id}/cancel").status_code == 404
    requests = [e for e in free.api.get(f"/jobs/{job_id}/timeline").json()["data"] if e["kind"] == "request"]
    assert [r["method"] for r in requests] == ["POST"]  # the create only


def test_the_timeline_shows_the_jobs_webhook_deliveries(free, files):
    job_id = created(create_job(free.api, files, "pic.png", type="media.probe",
                                webhook_url="https://hooks.example.com/aiprod"))["id"]
    tasks.run_job(job_id)
    hooks = [e for e in free.api.get(f"/jobs/{job_id}/timeline").json()["data"] if e["kind"] == "webhook"]
    assert {h["event"] for h in hooks} == {"job.processing", "job.completed"}
