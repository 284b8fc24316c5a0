"""Scaled out (docs/deploy.md): two API nodes and two worker nodes that share only
PostgreSQL, Redis and a bucket on a real S3 server (moto's, on a local port).
Each node has a media root of its own, so anything that still went through
a shared disk would break here.

A job created through node A (by URL and by streamed upload) is processed by
either worker and downloaded through node B (302 to the bucket); the worker
holding a job is SIGKILLed and the other one finishes it, reading the input
from the bucket, not from the dead node's disk.
"""

from __future__ import annotations

import contextlib
import os
import signal
from pathlib import Path

import pytest
import requests
from django.db import connection
from django_q.conf import Conf

from jobs.models import Job
from jobs.services.recovery import sweep_stale_jobs
from tests.conftest import make_persona
from tests.httpservers import serve
from tests.processes import alive, children_of, gunicorn, qcluster, wait_until
from tests.resilience.conftest import database_url_under_test

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

STALE_AFTER = 1


@pytest.fixture
def cluster(transactional_db, monkeypatch, tmp_path, s3_server):
    """start(kind, name): a gunicorn ("api") or qcluster ("worker") node with
    its own media root and the shared database, Redis and bucket."""
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: the nodes share the test database")
    monkeypatch.setattr(Conf, "SYNC", False)  # the sweeper's re-queue goes to the broker
    bucket = s3_server.create_bucket()
    shared = {
        **os.environ,
        **s3_server.env(bucket, prefix="prod"),
        "DJANGO_SETTINGS_MODULE": "aiprod.settings",
        "DATABASE_URL": database_url_under_test(),
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "AIPROD_ALLOW_INSECURE_URLS": "1",
        "AIPROD_Q_SYNC": "0",
        "AIPROD_Q_WORKERS": "1",
        "AIPROD_JOB_HEARTBEAT_SECONDS": "0.2",
        "AIPROD_REQUEST_LOG_ASYNC": "0",
        "AIPROD_CACHE_PREFIX": f"aiprod-multinode-{os.getpid()}",
    }
    shared.pop("AIPROD_JOB_WORK_DIR", None)
    roots: dict[str, Path] = {}
    with contextlib.ExitStack() as stack:

        def start(kind: str, name: str):
            roots[name] = tmp_path / name / "media"
            env = {**shared, "AIPROD_MEDIA_ROOT": str(roots[name])}
            if kind == "api":
                return stack.enter_context(gunicorn(env, tmp_path / f"{name}.log", workers=1, threads=4))
            return stack.enter_context(qcluster(env, tmp_path / f"{name}.log"))

        start.roots = roots
        start.s3 = s3_server.client()
        start.bucket = bucket
        try:
            yield start
        finally:
            stack.close()
            connection.close()


def job_on(node: str, key: str, job_id: str) -> dict:
    response = requests.get(f"{node}/jobs/{job_id}", headers={"X-API-Key": key}, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()


def finished(node: str, key: str, job_id: str, timeout: float = 90) -> dict:
    return wait_until(lambda: (j := job_on(node, key, job_id))["status"] in ("completed", "failed") and j,
                      timeout=timeout, what=f"job {job_id} to finish", interval=0.3)


def download_through(node: str, key: str, job_id: str) -> requests.Response:
    answer = requests.get(f"{node}/jobs/{job_id}/output", headers={"X-API-Key": key}, timeout=10,
                          allow_redirects=False)
    assert answer.status_code == 302, answer.text
    fetched = requests.get(answer.headers["Location"], timeout=10)
    assert fetched.status_code == 200
    return fetched


def stream_to(node: str, key: str, data: bytes, **query) -> str:
    response = requests.post(f"{node}/jobs/stream", params=query, data=data, timeout=30,
                             headers={"X-API-Key": key, "Content-Type": "application/octet-stream"})
    assert response.status_code == 201, response.text
    return response.json()["id"]


def no_job_files_on_any_disk(roots: dict[str, Path]) -> bool:
    return all(not (root / "jobs").exists() for root in roots.values())


def test_api_and_worker_nodes_with_their_own_disks_share_jobs_through_the_bucket(
    cluster, long_wav, tone_wav, settings
):
    settings.AIPROD_JOB_STALE_AFTER = STALE_AFTER
    persona = make_persona("pro")
    key = persona.key
    node_a, node_b = cluster("api", "api-a"), cluster("api", "api-b")
    workers = [cluster("worker", "worker-1"), cluster("worker", "worker-2")]
    with serve({"/tone.wav": (200, {"Content-Type": "audio/wav"}, tone_wav)}) as files:
        by_url = requests.post(f"{node_a}/jobs", headers={"X-API-Key": key}, timeout=30, json={
            "name": "by url", "type": "audio.convert", "params": {"format": "mp3"},
            "input_url": f"{files.url}/tone.wav"})
        assert by_url.status_code == 201, by_url.text
        by_stream = stream_to(node_a, key, tone_wav, filename="tone.wav", type="audio.convert",
                              params='{"format": "wav"}')
        for job_id, magic in ((by_url.json()["id"], (b"ID3", b"\xff\xfb", b"\xff\xf3")), (by_stream, (b"RIFF",))):
            job = finished(node_b, key, job_id)
            assert job["status"] == "completed", job["error"]
            body = download_through(node_b, key, job_id)  # the bytes come from the bucket
            assert body.content.startswith(magic)
            assert body.headers["Content-Disposition"].startswith("attachment")
    # A direct upload: URL from node A, bytes straight to the bucket, job through node B.
    target = requests.post(f"{node_a}/uploads", headers={"X-API-Key": key}, timeout=30,
                           json={"filename": "tone.wav", "content_type": "audio/wav"}).json()
    requests.put(target["upload_url"], data=tone_wav, headers=target["headers"], timeout=30).raise_for_status()
    direct = requests.post(f"{node_b}/jobs", headers={"X-API-Key": key}, timeout=30, json={
        "name": "direct", "type": "media.probe", "upload_id": target["id"]})
    assert direct.status_code == 201, direct.text
    job = finished(node_a, key, direct.json()["id"])
    assert job["status"] == "completed", job["error"]
    assert job["output"]["format"] == "wav"
    # Inputs and outputs are objects: no node wrote a job file to its own disk.
    keys = {item["Key"] for item in cluster.s3.list_objects_v2(Bucket=cluster.bucket)["Contents"]}
    assert f"prod/jobs/{by_stream}/input.wav" in keys
    assert no_job_files_on_any_disk(cluster.roots)

    # The worker holding a job dies; the other one finishes it from the bucket.
    long_job = stream_to(node_a, key, long_wav, filename="long.wav", type="audio.transcribe")
    job = wait_until(lambda: Job.objects.filter(pk=long_job, status="processing").first(), timeout=60,
                     what="the long job to start")
    pid = int(job.worker_instance.rsplit(":", 1)[1])
    wait_until(lambda: children_of(pid), timeout=15, what="the forked processing child")
    victim = next(w for w in workers if w.pid == os.getpgid(pid))
    survivor = next(w for w in workers if w is not victim)
    os.killpg(victim.pid, signal.SIGKILL)
    victim.wait(timeout=10)
    wait_until(lambda: not alive(pid), timeout=10, what="the worker to die")
    wait_until(lambda: sweep_stale_jobs(stale_after=STALE_AFTER)["requeued"], timeout=15,
               what="the sweeper to re-queue the job", interval=0.3)
    done = finished(node_b, key, long_job, timeout=120)
    assert done["status"] == "completed", done["error"]
    assert done["attempted_count"] == 2
    assert survivor.poll() is None
    # The API shows an opaque worker label; the host:pid is in the database (and the admin).
    finished_by = Job.objects.get(pk=long_job).worker_instance
    assert os.getpgid(int(finished_by.rsplit(":", 1)[1])) == survivor.pid
    assert done["output"]["text"] is not None
    assert download_through(node_b, key, long_job).content
    assert no_job_files_on_any_disk(cluster.roots)
