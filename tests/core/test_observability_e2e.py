"""/metrics and JSON logs with REAL processes: gunicorn with two workers and a
qcluster sharing one PROMETHEUS_MULTIPROC_DIR, on pytest's test database.

A job created through one gunicorn worker and processed by the qcluster
shows in one scrape answered by any worker; every line gunicorn, the app and
the worker write under AIPROD_LOG_FORMAT=json is one JSON object."""

from __future__ import annotations

import json
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
from django.db import connection
from django_q.conf import Conf
from prometheus_client.parser import text_string_to_metric_families

from jobs.models import Job
from jobs.services import storage
from tests import media_factory as mf
from tests.conftest import make_persona, requires_postgres
from tests.httpservers import serve
from tests.processes import gunicorn, qcluster, wait_until, with_metrics_dir
from tests.resilience.conftest import database_url_under_test

pytestmark = [requires_postgres, pytest.mark.e2e, pytest.mark.slow]

TOKEN = "e2e-metrics-token"


@pytest.fixture
def host(transactional_db, monkeypatch, tmp_path):
    """The environment of one host's processes (gunicorn and qcluster on the
    test database, one metrics directory); the jobs' files deleted after."""
    monkeypatch.setattr(Conf, "SYNC", False)
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "aiprod.settings",
        "DATABASE_URL": database_url_under_test(),
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "AIPROD_ALLOW_INSECURE_URLS": "1",
        "AIPROD_MEDIA_ROOT": str(tmp_path / "media"),
        "AIPROD_Q_SYNC": "0",
        "AIPROD_Q_WORKERS": "1",
        "AIPROD_JOB_HEARTBEAT_SECONDS": "0.2",
        "AIPROD_JOB_WORK_DIR": str(tmp_path / "work"),
        "AIPROD_METRICS_TOKEN": TOKEN,
    }
    yield with_metrics_dir(env, tmp_path / "prometheus")
    for job in Job.objects.all():
        storage.delete_job_files(job.pk, [job.input_file, job.output_file])
    connection.close()


@pytest.fixture(scope="module")
def wav(tmp_path_factory) -> bytes:
    return Path(mf.make_wav(tmp_path_factory.mktemp("wav") / "tone.wav", seconds=0.5)).read_bytes()


def scrape(base: str) -> dict:
    response = requests.get(base + "/metrics", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10)
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].startswith("text/plain")
    found = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            found[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return found


def value(scraped: dict, name: str, **labels) -> float:
    return scraped.get((name, frozenset(labels.items())), 0.0)


def gunicorn_pids(port: str) -> set[int]:
    """The master and workers serving ``port`` (workers share the master's command line)."""
    pids = set()
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                if f"127.0.0.1:{port}".encode() in (proc / "cmdline").read_bytes():
                    pids.add(int(proc.name))
            except OSError:
                pass
    return pids


def pids_with_counts(directory: Path) -> set[int]:
    return {int(p.stem.rsplit("_", 1)[1]) for p in directory.glob("counter_*.db")}


def create_and_finish_a_job(base: str, key: str, input_url: str) -> dict:
    created = requests.post(base + "/jobs", json={"name": "observed", "input_url": input_url, "type": "media.probe"},
                            headers={"X-API-Key": key}, timeout=30)
    assert created.status_code == 201, created.text
    job_id = created.json()["id"]

    def finished():
        body = requests.get(f"{base}/jobs/{job_id}", headers={"X-API-Key": key}, timeout=10).json()
        return body if body["status"] in ("completed", "failed") else None

    job = wait_until(finished, timeout=60, what="the qcluster to finish the job", interval=0.3)
    assert job["status"] == "completed", job
    return {**job, "request_id": created.headers["X-Request-ID"]}


def test_one_scrape_adds_up_every_gunicorn_worker_and_the_qcluster(host, tmp_path, wav):
    persona = make_persona("pro")
    with serve({"/tone.wav": (200, {"Content-Type": "audio/wav"}, wav)}) as files, \
            qcluster(host, tmp_path / "qcluster.log"), \
            gunicorn(host, tmp_path / "gunicorn.log", workers=2, threads=2) as base:
        job = create_and_finish_a_job(base, persona.key, files.url + "/tone.wav")

        # Enough concurrent requests that both workers serve some.
        made = 0
        served_by = set()
        workers = gunicorn_pids(base.rsplit(":", 1)[1])
        with ThreadPoolExecutor(8) as pool:
            for _ in range(10):
                answers = list(pool.map(lambda _: requests.get(base + "/jobs", headers={"X-API-Key": persona.key},
                                                                timeout=10).status_code, range(40)))
                assert set(answers) == {200}
                made += len(answers)
                served_by = pids_with_counts(Path(host["PROMETHEUS_MULTIPROC_DIR"])) & workers
                if len(served_by) >= 2:
                    break
        assert len(served_by) >= 2, "one gunicorn worker served every request"

        scrapes = [scrape(base) for _ in range(4)]  # whichever worker answers, the totals are the same

    for scraped in scrapes:
        assert value(scraped, "aiprod_http_requests_total", method="GET", route="jobs", status="2xx") == made
        # Created in a gunicorn worker, completed in the qcluster's worker process.
        assert value(scraped, "aiprod_jobs_created_total", type="media.probe") == 1
        assert value(scraped, "aiprod_jobs_completed_total", type="media.probe") == 1
        assert value(scraped, "aiprod_job_processing_seconds_count", type="media.probe", status="completed") == 1
        assert value(scraped, "aiprod_jobs_active", status="pending", type="media.probe") == 0
        assert value(scraped, "aiprod_jobs_oldest_pending_age_seconds") == 0
    assert job["duration_ms"] is not None
    assert value(scrapes[0], "aiprod_job_processing_seconds_sum", type="media.probe", status="completed") == \
        pytest.approx(job["duration_ms"] / 1000, abs=0.002)


def test_json_logs_are_one_object_per_line_with_the_ids_that_apply(host, tmp_path, wav):
    persona = make_persona("pro")
    env = {**host, "AIPROD_LOG_FORMAT": "json"}
    access, errors, worker = tmp_path / "access.log", tmp_path / "gunicorn.log", tmp_path / "qcluster.log"
    with serve({"/tone.wav": (200, {"Content-Type": "audio/wav"}, wav)}) as files, qcluster(env, worker), \
            gunicorn(env, errors, workers=2, threads=2, extra_args=("--access-logfile", str(access))) as base:
        job = create_and_finish_a_job(base, persona.key, files.url + "/tone.wav")
        missing = requests.get(base + "/jobs/job_nope", headers={"X-API-Key": persona.key}, timeout=10)
        token_url = requests.get(f"{base}/jobs/{job['id']}", headers={"X-API-Key": persona.key}, timeout=10)
        assert missing.status_code == 404 and token_url.status_code == 200

        def logged():
            lines = access.read_text().splitlines()
            return lines if any(missing.headers["X-Request-ID"] in line for line in lines) else None

        wait_until(logged, timeout=10, what="the access log line")

    def objects(path: Path) -> list[dict]:
        lines = [line for line in path.read_text().splitlines() if line.strip()]
        assert lines, f"{path.name} is empty"
        parsed = []
        for line in lines:
            try:
                parsed.append(json.loads(line))
            except ValueError:
                pytest.fail(f"{path.name}: not JSON: {line[:300]}")
        return parsed

    access_lines, error_lines, worker_lines = objects(access), objects(errors), objects(worker)
    for line in access_lines + error_lines + worker_lines:
        assert {"time", "level", "logger", "message"} <= set(line), line

    created = next(line for line in access_lines if line.get("request_id") == job["request_id"])
    assert created["event"] == "http.access" and created["account_id"] == persona.account.pk
    assert created["method"] == "POST" and created["path"] == "/jobs" and created["status"] == 201
    assert created["route"] == "jobs" and isinstance(created["duration_ms"], int)
    not_found = next(line for line in access_lines if line.get("request_id") == missing.headers["X-Request-ID"])
    assert not_found["status"] == 404 and not_found["route"] == "jobs/<str:job_id>"
    # The output link's token is redacted from any logged query string.
    assert not any("token=" in line.get("query", "") and "[redacted]" not in line["query"] for line in access_lines)

    assert any("Booting worker" in line["message"] for line in error_lines)
    # The app inside gunicorn: the job's creation, with the request's ids.
    created_event = next(line for line in error_lines if line.get("event") == "job.created")
    assert created_event["job_id"] == job["id"] and created_event["request_id"] == job["request_id"]
    assert created_event["account_id"] == persona.account.pk
    # The worker: claim and completion, with the job id and the processing time.
    completed = next(line for line in worker_lines if line.get("event") == "job.completed")
    assert completed["job_id"] == job["id"] and completed["account_id"] == persona.account.pk
    assert completed["duration_ms"] == job["duration_ms"]
    assert any(line.get("event") == "job.processing" and line["job_id"] == job["id"] for line in worker_lines)


def test_a_worker_host_serves_its_job_metrics_on_its_own_port(host, tmp_path, wav):
    """A dedicated worker host runs no gunicorn: with AIPROD_WORKER_METRICS_PORT
    the qcluster answers Prometheus itself, adding up its processes."""
    from tests.processes import free_port

    persona = make_persona("pro")
    port = free_port()
    env = {**host, "AIPROD_WORKER_METRICS_PORT": str(port)}
    with serve({"/tone.wav": (200, {"Content-Type": "audio/wav"}, wav)}) as files, \
            qcluster(env, tmp_path / "qcluster.log"):
        job_id = persona.api.post("/jobs", {"name": "on a worker host", "type": "media.probe",
                                            "input_url": files.url + "/tone.wav"}).json()["id"]
        wait_until(lambda: Job.objects.filter(pk=job_id, status__in=("completed", "failed")).exists(),
                   timeout=60, what="the qcluster to finish the job", interval=0.3)
        assert Job.objects.get(pk=job_id).status == "completed"
        response = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=10)

    assert response.status_code == 200
    scraped = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            scraped[(sample.name, frozenset(sample.labels.items()))] = sample.value
    # Completed in the cluster's worker process, served by its main process.
    assert value(scraped, "aiprod_jobs_completed_total", type="media.probe") == 1
    assert value(scraped, "aiprod_job_processing_seconds_count", type="media.probe", status="completed") == 1
