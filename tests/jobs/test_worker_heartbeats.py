"""Worker clusters' heartbeat rows: a silent cluster's jobs go back to the
queue at once, whatever their own age or timeout (jobs.services.workers)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from django_q.conf import Conf
from django_q.models import OrmQ

from jobs.models import Job, JobStatus, JobTransition, WorkerHeartbeat
from jobs.services import workers
from jobs.services.recovery import sweep_stale_jobs
from tests.jobs.helpers import create_job, created


@pytest.fixture(autouse=True)
def queue(monkeypatch, settings):
    monkeypatch.setattr(Conf, "SYNC", False)  # re-queued tasks go to the real ORM queue
    settings.AIPROD_WORKER_DEAD_AFTER = 15


def cluster(name: str, *, silent: float, pids=(101, 102), host: str = "box") -> WorkerHeartbeat:
    workers.beat(name, queue=Conf.CLUSTER_NAME, host=host, pid=100, worker_pids=list(pids))
    WorkerHeartbeat.objects.filter(pk=name).update(beat_at=timezone.now() - timedelta(seconds=silent))
    return WorkerHeartbeat.objects.get(pk=name)


@pytest.fixture
def running(free, files):
    def make(worker: str) -> Job:
        job_id = created(create_job(free.api, files, "pic.png", type="media.probe"))["id"]
        now = timezone.now()
        # A fresh heartbeat and a long timeout: neither the stale sweep nor the job's age would touch it.
        Job.objects.filter(pk=job_id).update(status=JobStatus.PROCESSING, attempted_count=1, worker_instance=worker,
                                             started_at=now, last_activity_at=now, timeout=7200)
        return Job.objects.get(pk=job_id)

    return make


def test_the_jobs_of_a_cluster_silent_past_the_threshold_are_re_queued_at_once(running, django_capture_on_commit_callbacks):
    cluster("dead", silent=20)
    cluster("live", silent=1, host="other")
    lost, kept = running("box:101"), running("other:101")
    with django_capture_on_commit_callbacks(execute=True):
        summary = sweep_stale_jobs()
    assert summary["requeued"] == 1
    assert Job.objects.get(pk=lost.pk).status == JobStatus.PENDING
    assert Job.objects.get(pk=kept.pk).status == JobStatus.PROCESSING
    step = JobTransition.objects.filter(job_id=lost.pk).last()
    assert (step.from_status, step.to_status, step.actor) == ("processing", "pending", "worker-monitor")
    assert step.reason.startswith("Re-queued after worker loss (") and "box:101" not in step.reason
    assert WorkerHeartbeat.objects.get(pk="dead").recovered_at is not None
    assert any(tuple(row.task["args"]) == (lost.pk,) for row in OrmQ.objects.all())


def test_a_dead_cluster_is_recovered_once(running):
    cluster("dead", silent=20)
    running("box:102")
    assert workers.recover_dead_clusters()["clusters"] == 1
    assert workers.recover_dead_clusters() == {"clusters": 0, "jobs_requeued": 0, "tasks_released": 0}


def test_the_tasks_a_dead_cluster_had_taken_are_released_for_other_clusters(db):
    cluster("dead", silent=20)
    now = timezone.now()
    taken = OrmQ.objects.create(key=Conf.CLUSTER_NAME, payload="-", lock=now + timedelta(hours=2))
    other_queue = OrmQ.objects.create(key="webhooks", payload="-", lock=now + timedelta(hours=2))
    assert workers.recover_dead_clusters()["tasks_released"] == 1
    assert OrmQ.objects.get(pk=taken.pk).lock <= timezone.now()
    assert OrmQ.objects.get(pk=other_queue.pk).lock > timezone.now()


def test_a_worker_process_that_died_under_a_live_cluster_has_its_job_re_queued(running):
    job = running("box:4242")
    assert workers.requeue_jobs_of_workers("box", [4242]) == 1
    assert Job.objects.get(pk=job.pk).status == JobStatus.PENDING


def test_a_beat_refreshes_the_row_and_a_clean_stop_removes_it(db):
    row = cluster("c1", silent=30)
    workers.beat("c1", queue=Conf.CLUSTER_NAME, host="box", pid=100, worker_pids=[7])
    fresh = WorkerHeartbeat.objects.get(pk="c1")
    assert fresh.beat_at > row.beat_at and fresh.worker_pids == [7]
    assert workers.alive().filter(pk="c1").exists()
    workers.remove("c1")
    assert not WorkerHeartbeat.objects.exists()


def test_diagnostics_show_the_queue_depth_per_kind_workers_with_their_heartbeat_and_jobs_re_queued_after_worker_loss(free, files):
    workers.beat("c-alive", queue=Conf.CLUSTER_NAME, host="box", pid=1, worker_pids=[2, 3])
    workers.beat("c-dead", queue=Conf.CLUSTER_NAME, host="gone", pid=1, worker_pids=[2])
    WorkerHeartbeat.objects.filter(pk="c-dead").update(beat_at=timezone.now() - timedelta(minutes=5))
    job_id = created(create_job(free.api, files, "pic.png", type="media.probe"))["id"]
    Job.objects.filter(pk=job_id).update(last_activity_at=timezone.now() - timedelta(seconds=40))
    JobTransition.objects.create(job_id=job_id, from_status="processing", to_status="pending",
                                 reason="Re-queued after worker loss: worker gone:2 lost")
    response = free.api.get("/diagnostics")
    assert response.status_code == 200, response.content
    queue = response.json()["queue"]
    assert queue["jobs_pending"] == 1
    assert 40 <= queue["oldest_pending_job_age_seconds"] < 60
    assert queue["webhook_deliveries_waiting"] == 0
    assert queue["worker_clusters_alive"] == 1
    assert queue["worker_processes_alive"] == 2
    alive = [c for c in queue["worker_clusters"] if c["alive"]]
    assert [c["workers"] for c in alive] == [2] and alive[0]["worker"].startswith("worker_")
    assert "host" not in alive[0]  # host names and pids: staff only (/admin/diagnostics/)
    assert alive[0]["last_heartbeat_age_seconds"] < 5
    assert queue["jobs_requeued_after_worker_loss_last_hour"] == 1
