"""`make bench`: AIPROD against bare baselines served by the same gunicorn and
database, measured in one run. Prints a table and writes bench/RESULTS.md.

Needs PostgreSQL (DATABASE_URL, default postgres://postgres@127.0.0.1:5432/aiprod_bench),
Redis (REDIS_URL, default redis://127.0.0.1:6379/3) and wrk (apt-get install wrk).
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

from bench.report import render
from bench.harness import (
    ROOT,
    PY,
    ROUNDS,
    ENV,
    log,
    sql,
    prepare_database,
    create_account,
    seed_jobs,
    gunicorn,
    wrk,
    alternate,
    Receiver,
    StaticFiles,
    make_tiny_png,
    run_qcluster,
    stop,
)


def bench_pipeline(base: str, key: str, files: StaticFiles, count: int = 1000, workers: int = 2,
                   prefix: str = "pipe") -> dict:
    """`count` media.probe jobs queued first, then drained by `workers` workers:
    jobs/s and create→completed latency."""
    import requests

    session = requests.Session()
    session.headers["X-API-Key"] = key
    started = time.time()
    ids = []
    for i in range(count):
        r = session.post(f"{base}/jobs", json={"name": f"{prefix} {i}", "type": "media.probe", "input_url": files.base + "/tiny.png"})
        if r.status_code != 201:
            raise SystemExit(f"pipeline create failed: {r.status_code} {r.text}")
        ids.append(r.json()["id"])
    created = time.time()
    worker = run_qcluster(workers)
    try:
        deadline = time.time() + 300
        while time.time() < deadline:
            rows = sql("SELECT count(*) FROM jobs_job WHERE id = ANY(%s) AND status IN ('completed','failed')", (ids,))
            if rows[0][0] >= count:
                break
            time.sleep(0.5)
        finished = time.time()
    finally:
        stop(worker)
    rows = sql(
        "SELECT status, extract(epoch FROM completed_at - started_at), extract(epoch FROM completed_at) "
        "FROM jobs_job WHERE id = ANY(%s)", (ids,)
    )
    done = [r for r in rows if r[0] == "completed"]
    processing = [float(r[1]) for r in done if r[1] is not None]
    return {
        "workers": workers,
        "jobs": count,
        "completed": len(done),
        "failed": sum(1 for r in rows if r[0] == "failed"),
        "create_rps": count / (created - started),
        "jobs_per_s": len(done) / (finished - created),
        "median_processing_s": statistics.median(processing) if processing else None,
        "median_queue_to_done_s": statistics.median([float(r[2]) - created for r in done]) if done else None,
    }


@contextmanager
def idle_cluster(key: str):
    """A 2-worker qcluster that has had time to start, and an API session."""
    import requests

    worker = run_qcluster(2)
    try:
        time.sleep(3)
        session = requests.Session()
        session.headers["X-API-Key"] = key
        yield session
    finally:
        stop(worker)


def bench_pipeline_latency(base: str, key: str, files: StaticFiles, count: int = 20) -> float | None:
    """Median create→completed on an idle worker (jobs sent one at a time)."""
    latencies = []
    with idle_cluster(key) as session:
        for i in range(count):
            t0 = time.time()
            job = session.post(f"{base}/jobs", json={"name": f"lat {i}", "type": "media.probe", "input_url": files.base + "/tiny.png"}).json()
            while time.time() - t0 < 30:
                status = session.get(f"{base}/jobs/{job['id']}").json()["status"]
                if status in ("completed", "failed"):
                    latencies.append(time.time() - t0)
                    break
                time.sleep(0.02)
    return statistics.median(latencies) if latencies else None


def bench_job_event_latency(base: str, key: str, files: StaticFiles, receiver: Receiver, count: int = 20) -> dict:
    """Median time from a job's completed_at to its job.completed reaching the
    job's own webhook_url, on an idle system (jobs sent one at a time)."""
    latencies = []
    with idle_cluster(key) as session:
        for i in range(count):
            job = session.post(f"{base}/jobs", json={"name": f"event {i}", "type": "media.probe",
                                                     "input_url": files.base + "/tiny.png",
                                                     "webhook_url": receiver.url}).json()
            deadline = time.time() + 10
            while time.time() < deadline:
                with receiver.lock:
                    got = [(at, p) for at, p in receiver.received
                           if p.get("event") == "job.completed" and p.get("data", {}).get("id") == job["id"]]
                if got:
                    at, payload = got[0]
                    completed = dt.datetime.fromisoformat(payload["data"]["completed_at"].replace("Z", "+00:00"))
                    latencies.append(at - completed.timestamp())
                    break
                time.sleep(0.01)
    return {"events": len(latencies), "median_s": statistics.median(latencies) if latencies else None}


def bench_webhooks(account_id: str, receiver: Receiver, count: int = 1000) -> dict:
    """`count` events to a local receiver through one worker."""
    script = f"""
import time, json
from django.db import transaction
from accounts.models import Account
from webhooks.services import events
account = Account.objects.get(pk={account_id!r})
t0 = time.time()
for i in range({count}):
    with transaction.atomic():
        events.emit_account_event(account, livemode=True, event_type="quota.warning", data={{"quota": "jobs", "threshold": 80, "n": i}})
print(json.dumps({{"emitted_s": time.time() - t0}}))
"""
    worker = run_qcluster(1)
    try:
        time.sleep(3)
        t0 = time.time()
        out = subprocess.run([PY, "manage.py", "shell", "-c", script], cwd=ROOT, env=ENV, capture_output=True, text=True)
        if out.returncode != 0:
            return {"error": out.stderr[-500:]}
        deadline = time.time() + 180
        while time.time() < deadline and len(receiver.received) < count:
            time.sleep(0.2)
        elapsed = time.time() - t0
    finally:
        stop(worker)
    created = []
    for received_at, payload in receiver.received:
        if payload.get("created_at"):
            sent = dt.datetime.fromisoformat(payload["created_at"].replace("Z", "+00:00")).timestamp()
            created.append(received_at - sent)
    return {
        "delivered": len(receiver.received),
        "deliveries_per_s": len(receiver.received) / elapsed,
        "median_latency_s": statistics.median(created) if created else None,
    }


def register_webhook(base: str, key: str, url: str) -> None:
    import requests

    headers = {"X-API-Key": key}
    endpoint = requests.post(f"{base}/account/webhooks", json={"url": url, "events": ["quota.warning"]}, headers=headers).json()
    requests.post(f"{base}/account/webhooks/{endpoint['id']}/verify", headers=headers)


def completion_to_webhook(receiver: Receiver, ids: list[str]) -> dict:
    """For jobs that completed while the queue drained: completed_at → their
    job.completed reaching the receiver (median, p95)."""
    wanted = set(ids)
    lags = []
    with receiver.lock:
        got = list(receiver.received)
    for at, payload in got:
        data = payload.get("data") or {}
        if payload.get("event") == "job.completed" and data.get("id") in wanted and data.get("completed_at"):
            done = dt.datetime.fromisoformat(data["completed_at"].replace("Z", "+00:00")).timestamp()
            lags.append(at - done)
            wanted.discard(data["id"])
    lags.sort()
    return {"events": len(lags), "median_s": statistics.median(lags) if lags else None,
            "p95_s": lags[int(0.95 * (len(lags) - 1))] if lags else None}


def pipeline_only(count: int) -> None:
    """`bench.py --pipeline-only [--jobs N]`: the worker figures alone (issue 18):
    N tiny jobs drained by 2 then 1 worker (queue full before the workers start),
    job.completed webhooks while the queue drains, the idle create→completed
    median, and the 1,000-event delivery burst. Printed as JSON."""
    t_start = time.time()
    log("preparing database")
    prepare_database()
    account, key = create_account("bench@example.com")
    media = Path(tempfile.mkdtemp())
    make_tiny_png(media / "tiny.png")
    files = StaticFiles(str(media))
    results: dict = {"jobs": count}
    with gunicorn() as (base, _):
        import requests

        receiver = Receiver()
        headers = {"X-API-Key": key}
        for workers in (2, 1):
            log(f"pipeline: {count} media.probe jobs through {workers} worker(s), no webhooks")
            results[f"pipeline_{workers}_workers"] = bench_pipeline(base, key, files, count=count, workers=workers,
                                                                   prefix=f"w{workers}")
        results["scaling_2_over_1"] = (results["pipeline_2_workers"]["jobs_per_s"]
                                       / results["pipeline_1_workers"]["jobs_per_s"])
        endpoint = requests.post(f"{base}/account/webhooks", json={"url": receiver.url, "events": ["job.completed"]},
                                 headers=headers).json()
        requests.post(f"{base}/account/webhooks/{endpoint['id']}/verify", headers=headers)
        log(f"pipeline: {count} media.probe jobs through 2 workers, job.completed to a receiver")
        receiver.received.clear()
        run = bench_pipeline(base, key, files, count=count, workers=2, prefix="hook")
        ids = [r[0] for r in sql("SELECT id FROM jobs_job WHERE name LIKE %s", ("hook %",))]
        run["completed_to_webhook"] = completion_to_webhook(receiver, ids)
        results["pipeline_2_workers_with_webhooks"] = run
        requests.delete(f"{base}/account/webhooks/{endpoint['id']}", headers=headers)
        log("idle create → completed")
        results["idle_median_create_to_completed_s"] = bench_pipeline_latency(base, key, files)
        log("webhooks: 1,000 events")
        receiver.received.clear()
        ep = requests.post(f"{base}/account/webhooks", json={"url": receiver.url + "?burst", "events": ["quota.warning"]},
                           headers=headers).json()
        requests.post(f"{base}/account/webhooks/{ep['id']}/verify", headers=headers)
        receiver.received.clear()
        results["webhooks"] = bench_webhooks(account, receiver)
        receiver.close()
    files.close()
    results["elapsed_s"] = time.time() - t_start
    print(json.dumps(results, indent=1, default=str))


def main() -> None:
    if "--pipeline-only" in sys.argv:
        count = int(sys.argv[sys.argv.index("--jobs") + 1]) if "--jobs" in sys.argv else 1000
        return pipeline_only(count)
    http_only = "--http-only" in sys.argv  # quick re-measure of the request figures
    if not shutil.which("wrk"):
        raise SystemExit("wrk is not installed: apt-get install wrk")
    t_start = time.time()
    results: dict = {}
    log("preparing database")
    prepare_database()
    account, key = create_account("bench@example.com")
    small_account, small_key = create_account("bench-1k@example.com")
    big_account, big_key = create_account("bench-1m@example.com")
    seed_jobs(account, 1, "one")
    job_id = "job_one0000000001"
    log("seeding 1,000 and 1,000,000 jobs")
    seed_jobs(small_account, 1_000, "small")
    t0 = time.time()
    seed_jobs(big_account, 1_000_000, "big")
    log(f"seeded 1M jobs in {time.time() - t0:.0f}s")
    media = Path(tempfile.mkdtemp())
    make_tiny_png(media / "tiny.png")
    files = StaticFiles(str(media))
    rows = []

    with gunicorn() as (base, _):
        auth = {"X-API-Key": key}
        log("bare JSON view")
        bare_json = wrk(f"{base}/bench/bare-json")
        log(f"GET /jobs/{{id}} against the bare SELECT view, {ROUNDS} rounds each")
        bare_lookup, get_job = alternate(lambda: wrk(f"{base}/bench/bare-lookup/{job_id}"),
                                         lambda: wrk(f"{base}/jobs/{job_id}", headers=auth))
        log(f"POST /jobs against the bare INSERT view, {ROUNDS} rounds each")
        body = json.dumps({"name": "NAME", "type": "media.probe", "input_url": files.base + "/tiny.png"})
        bare_insert, post_job = alternate(
            lambda: wrk(f"{base}/bench/bare-insert", method="POST", headers={"Content-Type": "application/json"}, body="{}"),
            lambda: wrk(f"{base}/jobs", method="POST", headers={**auth, "Content-Type": "application/json"}, body=body,
                        unique_names=True))
        sql("UPDATE jobs_job SET status='cancelled' WHERE status='pending' AND name LIKE '%%-%%-%%'")
        log(f"GET /jobs?status=failed&limit=20 at 1k and 1M, {ROUNDS} rounds each")
        list_1k, list_1m = alternate(lambda: wrk(f"{base}/jobs?status=failed&limit=20", headers={"X-API-Key": small_key}),
                                     lambda: wrk(f"{base}/jobs?status=failed&limit=20", headers={"X-API-Key": big_key}))
        rows += [
            ("bare Django JSON view (stack limit)", bare_json, None),
            ("bare DRF view, one indexed SELECT", bare_lookup, None),
            ("GET /jobs/{id} (auth+scope+rate+log)", get_job, get_job["rps"] / bare_lookup["rps"]),
            ("bare DRF view, one-row INSERT", bare_insert, None),
            ("POST /jobs (validate+preflight+quota+enqueue)", post_job, post_job["rps"] / bare_insert["rps"]),
            ("GET /jobs?status=failed, 1k jobs", list_1k, None),
            ("GET /jobs?status=failed, 1M jobs", list_1m, list_1m["rps"] / list_1k["rps"]),
        ]
        results["http"] = {name: {**r, "ratio": ratio} for name, r, ratio in rows}

        if http_only:
            files.close()
            print(render(results, rows, time.time() - t_start))
            return
        log("pipeline: 1,000 media.probe jobs through 2 workers")
        results["pipeline"] = bench_pipeline(base, key, files)
        results["pipeline"]["idle_median_create_to_completed_s"] = bench_pipeline_latency(base, key, files)
        log("pipeline: 500 media.probe jobs through 1 worker")
        results["pipeline_1_worker"] = bench_pipeline(base, key, files, count=500, workers=1, prefix="solo")

        log("webhooks: 1,000 events to a local receiver")
        receiver = Receiver()
        register_webhook(base, key, receiver.url)
        receiver.received.clear()
        results["webhooks"] = bench_webhooks(account, receiver)
        log("webhooks: job.completed to the job's webhook_url, idle, 20 jobs")
        receiver.received.clear()
        results["job_event_latency"] = bench_job_event_latency(base, key, files, receiver)
        receiver.close()

    log("streamed upload of 1 GB")
    stream = subprocess.run([PY, str(ROOT / "bench" / "stream_memory.py"), "--size-mb", "1024", "--mode", "both"],
                            cwd=ROOT, env=ENV, capture_output=True, text=True)
    try:
        runs = [json.loads(line) for line in stream.stdout.splitlines() if line.startswith("{")]
        results["stream"] = {run["mode"]: run for run in runs} if runs and "mode" in runs[0] else {"runs": runs}
    except ValueError:
        results["stream"] = {"error": (stream.stdout + stream.stderr)[-500:]}
    log("streamed upload of 1 GB to an S3 bucket (local moto server), multipart while it arrives")
    stream = subprocess.run([PY, str(ROOT / "bench" / "stream_memory.py"), "--size-mb", "1024", "--mode", "both",
                             "--storage", "s3"], cwd=ROOT, env=ENV, capture_output=True, text=True)
    try:
        runs = [json.loads(line) for line in stream.stdout.splitlines() if line.startswith("{")]
        results["stream_s3"] = {run["mode"]: run for run in runs} if runs and "mode" in runs[0] else {"runs": runs}
    except ValueError:
        results["stream_s3"] = {"error": (stream.stdout + stream.stderr)[-500:]}
    files.close()

    report = render(results, rows, time.time() - t_start)
    print(report)
    (ROOT / "bench" / "RESULTS.md").write_text(report)
    log("wrote bench/RESULTS.md")


if __name__ == "__main__":
    sys.exit(main())
