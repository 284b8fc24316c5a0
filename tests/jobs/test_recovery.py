"""The sweeper and recover_stuck_jobs: nothing stays processing forever."""

from __future__ import annotations

import json
import os
import time
from datetime import timedelta
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone
from django_q.conf import Conf
from django_q.models import OrmQ

from jobs.models import Job, JobStatus, JobTransition
from jobs.services.recovery import queued_job_ids, sweep_stale_jobs
from jobs.services.scratch import make_work_dir
from tests.jobs.helpers import create_job, created


@pytest.fixture
def queue(monkeypatch):
    """Tasks go to the real ORM queue instead of running inline."""
    monkeypatch.setattr(Conf, "SYNC", False)


@pytest.fixture
def processing_job(free, files):
    def make(*, idle: timedelta, attempted: int = 1, attempt_base: int = 0) -> Job:
        job_id = created(create_job(free.api, files, "pic.png", type="media.probe"))["id"]
        now = timezone.now()
        Job.objects.filter(pk=job_id).update(
            status=JobStatus.PROCESSING, attempted_count=attempted, attempt_base=attempt_base,
            worker_instance="gone-host:4242", started_at=now - idle, last_activity_at=now - idle,
        )
        return Job.objects.get(pk=job_id)

    return make


def test_a_job_without_heartbeat_is_requeued_and_queued_again(processing_job, queue, django_capture_on_commit_callbacks):
    job = processing_job(idle=timedelta(minutes=5))
    with django_capture_on_commit_callbacks(execute=True):
        summary = sweep_stale_jobs()
    assert summary["requeued"] == 1
    job.refresh_from_db()
    assert (job.status, job.worker_instance) == ("pending", None)
    assert job.pk in queued_job_ids()
    step = JobTransition.objects.filter(job=job).last()
    assert (step.from_status, step.to_status, step.actor, step.worker) == ("processing", "pending", "sweeper", "gone-host:4242")
    assert step.reason.startswith("Re-queued after worker loss") and "gone-host" not in step.reason


def test_a_job_that_lost_its_worker_three_times_fails_worker_lost(processing_job):
    job = processing_job(idle=timedelta(minutes=5), attempted=3)
    assert sweep_stale_jobs()["failed"] == 1
    job.refresh_from_db()
    assert (job.status, job.error_code, job.error) == ("failed", "WORKER_LOST", "Worker lost: gave up after 3 attempts")


def test_a_manual_retry_gives_a_fresh_attempt_budget(processing_job):
    processing_job(idle=timedelta(minutes=5), attempted=4, attempt_base=3)
    assert sweep_stale_jobs()["requeued"] == 1


def test_a_job_with_a_recent_heartbeat_is_left_alone(processing_job):
    job = processing_job(idle=timedelta(seconds=30))
    assert sweep_stale_jobs() == {
        "requeued": 0, "failed": 0, "pending_requeued": 0, "idempotency_keys_pruned": 0, "work_dirs_removed": 0,
    }
    job.refresh_from_db()
    assert job.status == "processing"


def test_scratch_left_by_a_killed_worker_is_removed_and_live_scratch_is_kept(db, settings, tmp_path):
    settings.AIPROD_JOB_WORK_DIR = str(tmp_path / "work")
    abandoned, live = Path(make_work_dir("job_abandoned")), Path(make_work_dir("job_live"))
    (abandoned / "input.mp4").write_bytes(b"x" * 10)
    (live / "input.mp4").write_bytes(b"x" * 10)
    hours_ago = time.time() - 4 * 3600
    for path in (abandoned, abandoned / "input.mp4", live):  # live: its file is still being written
        os.utime(path, (hours_ago, hours_ago))
    assert sweep_stale_jobs()["work_dirs_removed"] == 1
    assert not abandoned.exists() and (live / "input.mp4").exists()


def test_the_stale_threshold_is_a_setting(processing_job, settings):
    settings.AIPROD_JOB_STALE_AFTER = 10
    processing_job(idle=timedelta(seconds=30))
    assert sweep_stale_jobs()["requeued"] == 1


def test_an_old_pending_job_whose_task_vanished_is_queued_again(free, files, queue, django_capture_on_commit_callbacks):
    job_id = created(create_job(free.api, files))["id"]  # on_commit never ran: no task queued
    Job.objects.filter(pk=job_id).update(last_activity_at=timezone.now() - timedelta(minutes=10))
    assert job_id not in queued_job_ids()
    with django_capture_on_commit_callbacks(execute=True):
        assert sweep_stale_jobs()["pending_requeued"] == 1
    assert job_id in queued_job_ids()
    # Queued now, and its activity bumped: the next sweep leaves it.
    assert sweep_stale_jobs()["pending_requeued"] == 0


def test_an_old_pending_job_still_in_the_queue_is_not_queued_twice(free, files, queue, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        job_id = created(create_job(free.api, files))["id"]
    Job.objects.filter(pk=job_id).update(last_activity_at=timezone.now() - timedelta(minutes=10))
    before = OrmQ.objects.count()
    assert sweep_stale_jobs()["pending_requeued"] == 0
    assert OrmQ.objects.count() == before


def test_an_old_pending_job_whose_task_a_dead_cluster_took_is_queued_again(free, files, queue, django_capture_on_commit_callbacks):
    # A cluster took the task (the ORM broker locks the row for the Q_CLUSTER
    # retry time, over 2 h) and was killed before a worker claimed the job.
    with django_capture_on_commit_callbacks(execute=True):
        job_id = created(create_job(free.api, files))["id"]
    OrmQ.objects.update(lock=timezone.now() + timedelta(seconds=7800))
    Job.objects.filter(pk=job_id).update(last_activity_at=timezone.now() - timedelta(minutes=10))
    assert job_id not in queued_job_ids()
    with django_capture_on_commit_callbacks(execute=True):
        assert sweep_stale_jobs()["pending_requeued"] == 1
    assert job_id in queued_job_ids()


def test_the_sweeper_runs_every_minute_from_a_schedule(db):
    from django_q.models import Schedule

    schedule = Schedule.objects.get(func="jobs.tasks.sweep_stale_jobs")
    assert (schedule.schedule_type, schedule.minutes, schedule.repeats) == ("I", 1, -1)


# --------------------------------------------------------------------------- recover_stuck_jobs


def run_command(*args) -> str:
    out = StringIO()
    call_command("recover_stuck_jobs", *args, stdout=out)
    return out.getvalue()


def test_recover_dry_run_lists_stuck_jobs_and_changes_nothing(processing_job):
    stuck = processing_job(idle=timedelta(hours=25))
    processing_job(idle=timedelta(hours=1))
    report = json.loads(run_command("--dry-run", "--json"))
    assert report["dry_run"] is True and report["older_than_seconds"] == 86400
    assert [j["id"] for j in report["jobs"]] == [stuck.pk]
    assert report["jobs"][0]["result"] == "would timeout"
    stuck.refresh_from_db()
    assert stuck.status == "processing"


def test_recover_force_times_out_stuck_jobs_like_the_api(processing_job):
    stuck = processing_job(idle=timedelta(hours=25))
    report = json.loads(run_command("--json"))
    assert report["jobs"][0]["result"] == "failed"
    stuck.refresh_from_db()
    assert (stuck.status, stuck.error_code) == ("failed", "TIMEOUT")
    assert stuck.error == "Timeout: Stuck in processing: no activity for more than 24h"
    assert JobTransition.objects.filter(job=stuck).last().actor == "recover_stuck_jobs"


def test_recover_with_retry_queues_them_again(processing_job):
    stuck = processing_job(idle=timedelta(hours=3))
    report = json.loads(run_command("--older-than", "2h", "--action", "retry", "--json"))
    assert report["jobs"][0]["result"] == "pending"
    stuck.refresh_from_db()
    assert stuck.status == "pending"
    steps = list(JobTransition.objects.filter(job=stuck).values_list("to_status", flat=True))
    assert steps[-2:] == ["failed", "pending"]


def test_recover_prints_a_readable_summary_without_json(processing_job):
    processing_job(idle=timedelta(hours=25))
    assert "1 job(s)" in run_command()


def test_recover_one_named_job_whatever_its_age_with_a_reason(processing_job):
    fresh = processing_job(idle=timedelta(minutes=1))  # too young for --older-than
    report = json.loads(run_command("--job", fresh.pk, "--reason", "stuck after the storage incident", "--json"))
    assert report["job_ids"] == [fresh.pk] and report["jobs"][0]["result"] == "failed"
    fresh.refresh_from_db()
    assert (fresh.status, fresh.error) == ("failed", "Timeout: stuck after the storage incident")


def test_recover_retries_a_failed_named_job_and_reports_what_it_cannot_do(processing_job):
    failed = processing_job(idle=timedelta(minutes=1))
    Job.objects.filter(pk=failed.pk).update(status=JobStatus.FAILED, error_code="TIMEOUT")
    completed = processing_job(idle=timedelta(minutes=1))
    Job.objects.filter(pk=completed.pk).update(status=JobStatus.COMPLETED)
    report = json.loads(run_command("--job", failed.pk, "--job", completed.pk, "--job", "job_nope",
                                    "--action", "retry", "--json"))
    results = {entry["id"]: entry["result"] for entry in report["jobs"]}
    assert results[failed.pk] == "pending"
    assert results[completed.pk].startswith("error: Job") and "completed" in results[completed.pk]
    assert results["job_nope"] == "not found"
    assert Job.objects.get(pk=completed.pk).status == "completed"


def test_recover_dry_run_on_named_jobs_changes_nothing(processing_job):
    job = processing_job(idle=timedelta(minutes=1))
    out = run_command("--job", job.pk, "--dry-run")
    assert f"{job.pk} (" in out and "would timeout" in out and "1 job(s) (dry run)" in out
    assert Job.objects.get(pk=job.pk).status == "processing"


def test_recover_takes_either_job_ids_or_an_age(db):
    with pytest.raises(CommandError, match="either --job or --older-than"):
        run_command("--job", "job_x", "--older-than", "2h")


def test_recover_refuses_a_bad_age(db):
    with pytest.raises(CommandError):
        run_command("--older-than", "yesterday")


def test_the_pending_job_fallback_reads_no_queue_longer_than_its_limit(free, files, queue, monkeypatch,
                                                                       django_capture_on_commit_callbacks):
    from jobs.services import recovery

    monkeypatch.setattr(recovery, "QUEUE_SCAN_LIMIT", 2)
    with django_capture_on_commit_callbacks(execute=True):
        waiting = [created(create_job(free.api, files))["id"] for _ in range(3)]
    orphan = created(create_job(free.api, files))["id"]  # on_commit never ran: no task queued
    Job.objects.filter(pk=orphan).update(last_activity_at=timezone.now() - timedelta(minutes=10))
    assert queued_job_ids(limit=2) is None
    assert queued_job_ids(limit=3) == set(waiting)

    # Three tasks waiting, over the limit: the sweep does not read them and leaves the orphan for later.
    assert sweep_stale_jobs()["pending_requeued"] == 0
    assert Job.objects.get(pk=orphan).status == "pending"
    # Once the queue is within the limit, the next sweep finds and queues it again.
    OrmQ.objects.filter(pk__in=list(OrmQ.objects.values_list("pk", flat=True)[:2])).delete()
    with django_capture_on_commit_callbacks(execute=True):
        assert sweep_stale_jobs()["pending_requeued"] == 1
    assert orphan in queued_job_ids()
