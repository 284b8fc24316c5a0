"""End to end through a REAL `manage.py qcluster` on the test database:
create over the API → queued in django-q2's ORM broker → a worker process
claims, processes in its forked child, completes. Workers SIGKILLed mid-job
(the sweeper re-queues, another cluster finishes, the attempt cap) are in
tests/resilience/test_worker_loss.py."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from django_q.conf import Conf

from jobs.models import Job
from jobs.services import storage
from tests.conftest import make_persona, requires_postgres
from tests.jobs.helpers import downloaded, unique_name
from tests.s3server import own_disk_env

pytestmark = [requires_postgres, pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

ROOT = Path(settings.BASE_DIR)


@pytest.fixture(autouse=True)
def _queue_for_the_cluster(monkeypatch):
    monkeypatch.setattr(Conf, "SYNC", False)


@pytest.fixture(autouse=True)
def _remove_stored_files():
    yield
    for job in Job.objects.all():
        storage.delete_job_files(job.pk, [job.input_file, job.output_file])


@pytest.fixture
def qcluster(tmp_path):
    """Starts `manage.py qcluster` (one worker) against the test database; stopped in a finally.
    On S3 (AIPROD_TEST_STORAGE=s3) with a media root of its own."""
    db = settings.DATABASES["default"]
    url = f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    if db.get("PASSWORD"):
        url = url.replace("@", f":{db['PASSWORD']}@", 1)
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "DJANGO_SETTINGS_MODULE": "aiprod.test_settings",
        "AIPROD_Q_SYNC": "0",
        "AIPROD_Q_WORKERS": "1",
        "AIPROD_JOB_HEARTBEAT_SECONDS": "0.2",
        "AIPROD_JOB_WORK_DIR": os.environ.get("AIPROD_JOB_WORK_DIR", ""),
        **own_disk_env(tmp_path / "worker-media"),
    }
    process = subprocess.Popen([sys.executable, "manage.py", "qcluster"], cwd=ROOT, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    try:
        yield process
    finally:
        try:
            # django-q2 stops promptly on SIGINT (Ctrl-C); SIGTERM waits out its guard cycle.
            os.killpg(process.pid, signal.SIGINT)
            process.wait(5)
        except (subprocess.TimeoutExpired, ProcessLookupError):
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            process.wait(5)
        connection.close()


def wait_for(predicate, what: str, timeout: float = 60):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.1)


def job_status(job_id: str) -> str:
    return Job.objects.values_list("status", flat=True).get(pk=job_id)


def test_a_job_created_over_the_api_is_run_by_a_real_worker(files, qcluster):
    persona = make_persona("pro")
    probe = persona.api.post("/jobs", {"name": unique_name(), "type": "media.probe",
                                       "input_url": f"{files.url}/clip.mp4"}).json()
    transform = persona.api.post("/jobs", {"name": unique_name(), "type": "image.transform",
                                           "params": {"format": "webp"}, "input_url": f"{files.url}/pic.png"}).json()
    for job_id in (probe["id"], transform["id"]):
        wait_for(lambda: job_status(job_id) in ("completed", "failed"), f"{job_id} to finish")
    job = Job.objects.get(pk=probe["id"])
    assert job.status == "completed", job.error
    host_pid = job.worker_instance.rsplit(":", 1)
    assert int(host_pid[1]) != os.getpid()
    assert job.attempted_count == 1 and job.output["format"] == "mp4"
    output = persona.api.get(f"/jobs/{transform['id']}/output")  # a 302 to the bucket with object storage
    assert downloaded(output)[8:12] == b"WEBP"
