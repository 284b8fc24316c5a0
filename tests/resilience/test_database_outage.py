"""PostgreSQL goes away under a real gunicorn and a real qcluster, and comes back (docs/operations.md).

A throw-away PostgreSQL cluster (initdb/pg_ctl, see conftest ``deployment``),
migrated, with an account made by the management command; gunicorn and
qcluster run against it. While the database is stopped every API request
answers 503 SERVICE_UNAVAILABLE with Retry-After in the error JSON (never a
500 or an HTML page) and /health says unhealthy; when it starts again the same
gunicorn serves 2xx and the same qcluster runs jobs, neither restarted: a job
that was running when the database went away, and finished processing while it
was away, completes in that same attempt once it is back. Then
maintenance mode, which must survive the database going away during the
maintenance.
"""

from __future__ import annotations

import itertools
import time

import psycopg
import pytest
import requests

from tests.httpservers import serve
from tests.processes import RequestStream, alive, children_of, gunicorn, http_get, manage, qcluster, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

CURRENT = "/account/api-keys/current"
RECOVERY_SECONDS = 10
_names = itertools.count(1)


def _job_body() -> dict:
    return {"name": f"stream {next(_names)}", "type": "document.extract_text", "input_url": INPUT_URL["notes"]}


INPUT_URL: dict[str, str] = {}  # set by the test once its file server runs
# Reads and job creations: 5 POST /jobs a second at the stream's 20 requests a second.
STREAM = [CURRENT, ("POST", "/jobs", _job_body), "/jobs?limit=5", "/account/usage"]


def ok(answer) -> bool:
    return 200 <= answer.status < 300


def assert_json_503(response, code: str) -> dict:
    assert response.status_code == 503, (response.status_code, response.text[:500])
    assert response.headers["Content-Type"].startswith("application/json"), response.text[:500]
    body = response.json()
    assert body["error"] == "Service unavailable"
    assert body["code"] == code
    assert body["request_id"] == response.headers["X-Request-ID"]
    assert int(response.headers["Retry-After"]) >= 1
    return body


def create_job(base: str, key: str, input_url: str, job_type: str = "document.extract_text") -> str:
    response = requests.post(base + "/jobs", json={"name": f"outage {time.monotonic_ns()}", "input_url": input_url,
                                                   "type": job_type},
                             headers={"X-API-Key": key}, timeout=10)
    assert response.status_code == 201, (response.status_code, response.text[:500])
    return response.json()["id"]


def wait_for_job(base: str, key: str, job_id: str, timeout: float) -> dict:
    def finished():
        response = http_get(f"{base}/jobs/{job_id}", key)
        return response.status_code == 200 and response.json()["status"] in ("completed", "failed") and response.json()

    return wait_until(finished, timeout=timeout, what=f"job {job_id} to finish", interval=0.3)


def test_a_postgres_restart_under_a_request_stream_costs_only_503s_and_the_worker_carries_on(
    deployment, long_wav, tmp_path
):
    postgres, key = deployment.postgres, deployment.key
    env = deployment.env()
    routes = {"/notes.txt": (200, {"Content-Type": "text/plain"}, b"Written after the outage.\n"),
              "/long.wav": (200, {"Content-Type": "audio/wav"}, long_wav)}
    with serve(routes) as files, gunicorn(env, tmp_path / "gunicorn.log") as base, \
            qcluster(env, tmp_path / "qcluster.log") as cluster:
        INPUT_URL["notes"] = files.url + "/notes.txt"
        # A job that takes seconds is running when the database goes away,
        # and finishes its processing before the database is back.
        running = create_job(base, key, files.url + "/long.wav", "audio.transcribe")
        wait_until(lambda: http_get(f"{base}/jobs/{running}", key).json()["status"] == "processing",
                   timeout=30, what="the long job to start")
        # The API names the worker by an opaque label; its host:pid is in the row.
        with psycopg.connect(env["DATABASE_URL"]) as db:
            host_pid = db.execute("SELECT worker_instance FROM jobs_job WHERE id = %s", [running]).fetchone()[0]
        worker = int(host_pid.rsplit(":", 1)[1])
        child = wait_until(lambda: children_of(worker), timeout=15, what="the processing child")[0]

        with RequestStream(base, key, STREAM, rate=20) as stream:
            stream.wait_for(10, where=ok, what="the stream to warm up")
            assert http_get(f"{base}/jobs/{running}", key).json()["status"] == "processing"
            stopped_at = time.monotonic()
            postgres.stop("fast")
            stream.wait_for(20, after=stopped_at, where=lambda a: a.status == 503, what="20 answers while it is down")
            wait_until(lambda: not alive(child), timeout=30, what="the job's processing to end during the outage")
            postgres.start()
            back_at = time.monotonic()
            first_ok = stream.wait_for(1, after=back_at, where=ok, timeout=RECOVERY_SECONDS,
                                       what="a 2xx after PostgreSQL is back")[0]
            stream.wait_for(20, after=first_ok.at, what="20 answers after the recovery")

        # The same worker, never restarted, finishes the job it was running
        # (same attempt), every job the stream created, and one created now.
        across = wait_for_job(base, key, running, timeout=45)
        created = [a.body["id"] for a in stream.answers if a.method == "POST" and a.status == 201]
        streamed = [wait_for_job(base, key, job_id, timeout=45) for job_id in created]
        after = wait_for_job(base, key, create_job(base, key, files.url + "/notes.txt"), timeout=45)
        assert cluster.poll() is None

    assert (across["status"], across["attempted_count"]) == ("completed", 1), across
    assert after["status"] == "completed", after
    assert len(streamed) >= 5 and {j["status"] for j in streamed} == {"completed"}
    answers = stream.answers
    statuses = {(a.method, a.status) for a in answers}
    assert statuses <= {("GET", 200), ("POST", 201), ("GET", 503), ("POST", 503)}, [
        (a.method, a.path, a.status, a.body, a.error) for a in answers if not ok(a) and a.status != 503]
    assert all(ok(a) for a in answers if a.at < stopped_at)
    assert all(ok(a) for a in answers if a.at >= first_ok.at), "a 503 after the recovery"
    outage = [a for a in answers if a.status == 503]
    assert len(outage) >= 20
    for answer in outage:
        assert answer.headers["Content-Type"].startswith("application/json")
        assert answer.body["code"] == "SERVICE_UNAVAILABLE" and answer.body["error"] == "Service unavailable"
        assert answer.body["request_id"] == answer.headers["X-Request-ID"]
        assert int(answer.headers["Retry-After"]) >= 1


def test_the_api_answers_503_while_postgres_is_down_and_maintenance_outlives_the_database(deployment, tmp_path):
    postgres, key = deployment.postgres, deployment.key
    env = deployment.env()
    # One process with threads: the maintenance switch is memoised per
    # process, so the maintenance phase below is deterministic.
    with gunicorn(env, tmp_path / "gunicorn.log") as base:
        def get(path, with_key=True):
            return http_get(base + path, key if with_key else None)

        # Up: every thread holds a persistent connection afterwards.
        for _ in range(8):
            assert get(CURRENT).status_code == 200
        assert get("/health", False).json()["status"] == "healthy"

        postgres.stop("fast")
        for _ in range(8):
            assert_json_503(get(CURRENT), "SERVICE_UNAVAILABLE")
        assert_json_503(requests.post(base + "/jobs", json={"name": "x", "input_url": "https://example.com/a.mp4"},
                                      headers={"X-API-Key": key}, timeout=10), "SERVICE_UNAVAILABLE")
        assert_json_503(get("/diagnostics"), "SERVICE_UNAVAILABLE")
        health = get("/health", False)
        assert health.status_code == 503 and health.json()["status"] == "unhealthy"
        assert int(health.headers["Retry-After"]) >= 1
        # The status page is what customers read during an outage: it answers.
        status = get("/api/status.json", False)
        assert status.status_code == 200
        assert {c["id"]: c["status"] for c in status.json()["components"]}["database"] == "major_outage"
        assert status.json()["status"]["indicator"] == "critical"
        assert get("/status", False).status_code == 200

        postgres.start()
        wait_until(lambda: get(CURRENT).status_code == 200, timeout=RECOVERY_SECONDS,
                   what="the API to recover without restarting gunicorn")
        for _ in range(8):
            assert get(CURRENT).status_code == 200
        assert get("/health", False).json()["status"] == "healthy"

        # Maintenance announced, then the database goes away for the upgrade:
        # clients keep getting MAINTENANCE with its Retry-After, health stays 200.
        manage(env, "maintenance", "on", "--message", "Database upgrade", timeout=60)
        try:
            wait_until(lambda: get(CURRENT).status_code == 503, timeout=RECOVERY_SECONDS,
                       what="the maintenance switch to reach the server")
            postgres.stop("fast")
            for _ in range(4):
                assert "Database upgrade" in assert_json_503(get(CURRENT), "MAINTENANCE")["message"]
            assert get("/health", False).json()["status"] == "maintenance"
            postgres.start()
        finally:
            if not postgres.is_running():
                postgres.start()
            manage(env, "maintenance", "off", timeout=60)  # the database is shared by the other tests here
        wait_until(lambda: get(CURRENT).status_code == 200, timeout=RECOVERY_SECONDS,
                   what="the API to leave maintenance")
