"""The jobs admin: stuck filter, force timeout and retry actions, the timeline."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone

from jobs.models import Job, JobStatus
from tests.jobs.helpers import create_job, created

CHANGELIST = "/admin/jobs/job/"


@pytest.fixture
def staff(db) -> Client:
    client = Client()
    client.force_login(User.objects.create_superuser("support", "support@example.com", "pw"))
    return client


@pytest.fixture
def jobs(free, files):
    """One job stuck for 25 h, one processing for 1 h, one failed."""
    now = timezone.now()
    made = {}
    for label, status, idle in (("stuck", "processing", 25), ("busy", "processing", 1), ("failed", "failed", 0)):
        job_id = created(create_job(free.api, files, name=f"{label} job"))["id"]
        Job.objects.filter(pk=job_id).update(status=status, attempted_count=1, last_activity_at=now - timedelta(hours=idle))
        made[label] = job_id
    return made


def test_the_stuck_filter_shows_only_jobs_idle_over_24_hours(staff, jobs):
    page = staff.get(CHANGELIST + "?stuck=24h").content.decode()
    assert jobs["stuck"] in page
    assert jobs["busy"] not in page and jobs["failed"] not in page


def test_the_list_filters_by_status(staff, jobs):
    page = staff.get(CHANGELIST + "?status__exact=failed").content.decode()
    assert jobs["failed"] in page and jobs["stuck"] not in page


def test_force_timeout_action_fails_the_job_and_is_recorded(staff, jobs):
    response = staff.post(CHANGELIST, {"action": "force_timeout", "_selected_action": [jobs["stuck"]]})
    assert response.status_code == 302
    job = Job.objects.get(pk=jobs["stuck"])
    assert (job.status, job.error_code) == ("failed", "TIMEOUT")
    assert job.error == "Timeout: Forced by AIPROD support"
    assert LogEntry.objects.filter(object_id=jobs["stuck"], change_message__contains="Force timeout").exists()


def test_retry_action_requeues_failed_jobs_and_skips_others_with_a_warning(staff, jobs):
    response = staff.post(CHANGELIST, {"action": "retry", "_selected_action": [jobs["failed"], jobs["busy"]]},
                          follow=True)
    assert Job.objects.get(pk=jobs["failed"]).status == JobStatus.PENDING
    assert Job.objects.get(pk=jobs["busy"]).status == JobStatus.PROCESSING
    assert "only failed or cancelled jobs can be retried" in response.content.decode()


def test_the_change_page_shows_the_timeline_read_only(staff, jobs):
    page = staff.get(f"{CHANGELIST}{jobs['stuck']}/change/").content.decode()
    assert "Timeline" in page
    assert "POST /jobs" in page
    assert "— → pending" in page
    assert 'name="name"' not in page  # read-only: no input fields


def test_jobs_cannot_be_added_in_the_admin(staff, db):
    assert staff.get(CHANGELIST + "add/").status_code == 403
