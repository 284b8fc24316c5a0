"""`make bench`: AIPROD against bare baselines served by the same gunicorn and
database, measured in one run. Prints a table and writes bench/RESULTS.md.

Needs PostgreSQL (DATABASE_URL, default postgres://postgres@127.0.0.1:5432/aiprod_bench),
Redis (REDIS_URL, default redis://127.0.0.1:6379/3) and wrk (apt-get install wrk).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = str(ROOT / ".venv" / "bin" / "python")
DURATION = int(os.environ.get("BENCH_SECONDS", "8"))
# Each ratio's two sides run alternately this many times; medians are reported
# (this shared VM's throughput drifts by tens of percent between minutes).
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", "8"))
GUNICORN_WORKERS = int(os.environ.get("BENCH_WORKERS", str(2 * (os.cpu_count() or 2))))

ENV = {
    **os.environ,
    "DATABASE_URL": os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/aiprod_bench"),
    "REDIS_URL": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/3"),
    "DJANGO_SETTINGS_MODULE": "aiprod.settings",
    "DJANGO_DEBUG": "0",
    "DJANGO_SECRET_KEY": os.environ.get("DJANGO_SECRET_KEY") or secrets.token_urlsafe(50),
    "AIPROD_BENCH_BASELINES": "1",
    "AIPROD_ALLOW_INSECURE_URLS": "1",
    "AIPROD_MEDIA_ROOT": str(ROOT / "var" / "bench-media"),
    "AIPROD_CACHE_PREFIX": "aiprod-bench",
    "AIPROD_LOG_LEVEL": "ERROR",
}


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def manage(*args: str, capture: bool = True) -> str:
    result = subprocess.run([PY, "manage.py", *args], cwd=ROOT, env=ENV, capture_output=capture, text=True)
    if result.returncode != 0:
        raise SystemExit(f"manage.py {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result.stdout


def sql(statement: str, params: tuple = ()) -> list:
    import psycopg

    with psycopg.connect(ENV["DATABASE_URL"], autocommit=True) as conn:
        cur = conn.execute(statement, params)
        return cur.fetchall() if cur.description else []


def prepare_database() -> None:
    import psycopg

    url = ENV["DATABASE_URL"]
    name = url.rsplit("/", 1)[1]
    admin = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    manage("migrate", "--noinput", "-v0")
    sql("CREATE TABLE IF NOT EXISTS bench_rows (id bigserial primary key, payload text, created_at timestamptz default now())")
    import redis

    redis.Redis.from_url(ENV["REDIS_URL"]).flushdb()


def create_account(email: str, tier: str = "enterprise") -> tuple[str, str]:
    out = json.loads(manage("create_account", "--email", email, "--tier", tier, "--json"))
    # Enterprise limits high enough that the benchmark measures work, not 429s.
    sql(
        "UPDATE accounts_account SET requests_per_second=100000, jobs_per_month=10000000, data_gb_per_month=100000 WHERE id=%s",
        (out["account_id"],),
    )
    return out["account_id"], out["api_key"]


def seed_jobs(account_id: str, count: int, prefix: str) -> None:
    """Inserts `count` jobs server-side with generate_series (not through the API)."""
    columns = sql(
        "SELECT column_name, data_type FROM information_schema.columns "
        "WHERE table_name='jobs_job' AND is_nullable='NO' AND column_default IS NULL"
    )
    fill = {"text": "''", "character varying": "''", "boolean": "false", "integer": "0", "smallint": "0",
            "bigint": "0", "jsonb": "'{}'::jsonb", "timestamp with time zone": "now()", "date": "current_date"}
    chosen = {
        "id": f"'job_{prefix}' || lpad(g::text, 10, '0')",
        "account_id": "%(account)s",
        "livemode": "true",
        "name": f"'{prefix} ' || g",
        "requested_type": "'media.probe'",
        "type": "'media.probe'",
        "status": "(ARRAY['completed','failed','completed','processing','cancelled'])[1 + mod(g, 5)]",
        "timeout": "300",
        "created_at": "now() - make_interval(secs => g)",
        "created_month": "date_trunc('month', now() - make_interval(secs => g))::date",
        "input_url": "'https://example.com/in.png'",
    }
    names = [c for c, _ in columns] + [c for c in chosen if c not in {c for c, _ in columns}]
    exprs = [chosen.get(c, fill.get(t, "''")) for c, t in columns] + [chosen[c] for c in names[len(columns):]]
    statement = (
        f"INSERT INTO jobs_job ({', '.join(names)}) SELECT {', '.join(exprs)} FROM generate_series(1, {count}) g"
    )
    import psycopg

    with psycopg.connect(ENV["DATABASE_URL"], autocommit=True) as conn:
        conn.execute(statement, {"account": account_id})
        # VACUUM now, so autovacuum does not wake up on the new rows in the
        # middle of a later measurement.
        conn.execute("VACUUM ANALYZE jobs_job")


@contextmanager
def gunicorn(workers: int = GUNICORN_WORKERS):
    port = free_port()
    proc = subprocess.Popen(
        [str(ROOT / ".venv" / "bin" / "gunicorn"), "aiprod.wsgi:application", "-b", f"127.0.0.1:{port}",
         "-w", str(workers), "--worker-class", "sync", "--log-level", "warning", "--timeout", "120",
         "--no-control-socket"],
        cwd=ROOT, env=ENV,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_http(base + "/health")
        yield base, proc
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


def wait_http(url: str, seconds: float = 30) -> None:
    import requests

    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            if requests.get(url, timeout=2).status_code < 500:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise SystemExit(f"{url} did not answer")


LUA_REPORT = """
done = function(summary, latency, requests)
  io.write(string.format("JSON{\\"requests\\":%d,\\"duration_us\\":%d,\\"p50_us\\":%d,\\"p99_us\\":%d,\\"errors\\":%d,\\"non2xx\\":%d}\\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout, summary.errors.status))
end
"""


def wrk(url: str, *, headers: dict | None = None, method: str = "GET", body: str | None = None,
        unique_names: bool = False, seconds: int = DURATION) -> dict:
    script = LUA_REPORT
    lines = []
    if method != "GET":
        lines.append(f'wrk.method = "{method}"')
    for name, value in (headers or {}).items():
        lines.append(f'wrk.headers["{name}"] = "{value}"')
    if body and not unique_names:
        lines.append(f"wrk.body = {json.dumps(body)}")
    def run(run_seconds: int) -> subprocess.CompletedProcess:
        script_lines = list(lines)
        if unique_names:
            # Each request gets its own job name (the duplicate-name rule is part
            # of the work); each run's names carry their own nonce.
            nonce_body = body.replace("NAME", f"{uuid.uuid4().hex[:8]}-NAME")
            script_lines.append(
                "counter = 0\nthread_id = 0\n"
                "setup = function(thread) thread:set('tid', thread_id); thread_id = thread_id + 1 end"
            )
            script_lines.append(
                "request = function()\n counter = counter + 1\n local b = string.gsub(" + json.dumps(nonce_body)
                + ', "NAME", tid .. "-" .. counter)\n return wrk.format(nil, nil, nil, b)\nend'
            )
        with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
            f.write("\n".join(script_lines) + "\n" + script)
        try:
            return subprocess.run(["wrk", "-t2", f"-c{CONNECTIONS}", f"-d{run_seconds}s", "-s", f.name, url],
                                  capture_output=True, text=True)
        finally:
            os.unlink(f.name)

    warm = run(2)
    result = run(seconds)
    line = next((ln for ln in result.stdout.splitlines() if ln.startswith("JSON")), None)
    if line is None:
        raise SystemExit(f"wrk failed: {result.stdout}\n{result.stderr}\n{warm.stderr}")
    data = json.loads(line[4:])
    seconds_run = data["duration_us"] / 1e6
    return {
        "rps": data["requests"] / seconds_run,
        "p50_ms": data["p50_us"] / 1000,
        "p99_ms": data["p99_us"] / 1000,
        "errors": data["errors"] + data["non2xx"],
        "requests": data["requests"],
    }


def median_run(runs: list[dict]) -> dict:
    return {
        "rps": statistics.median(r["rps"] for r in runs),
        "p50_ms": statistics.median(r["p50_ms"] for r in runs),
        "p99_ms": statistics.median(r["p99_ms"] for r in runs),
        "errors": sum(r["errors"] for r in runs),
        "requests": sum(r["requests"] for r in runs),
        "runs_rps": [round(r["rps"], 1) for r in runs],
    }


def alternate(baseline, measured, rounds: int = ROUNDS) -> tuple[dict, dict]:
    """Runs the two load tests in turns and returns the median of each, so a
    ratio compares like with like even while the machine's speed drifts."""
    base_runs, measured_runs = [], []
    for _ in range(rounds):
        base_runs.append(baseline())
        measured_runs.append(measured())
    return median_run(base_runs), median_run(measured_runs)


class Receiver:
    """A local webhook receiver that timestamps every delivery."""

    def __init__(self):
        self.received: list[tuple[float, dict]] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                now = time.time()
                try:
                    payload = json.loads(body)
                except ValueError:
                    payload = {}
                with receiver.lock:
                    receiver.received.append((now, payload))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def do_GET(self):
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()


class StaticFiles:
    """Serves a directory over HTTP for URL-input jobs."""

    def __init__(self, directory: str):
        import functools
        from http.server import SimpleHTTPRequestHandler

        class Quiet(SimpleHTTPRequestHandler):
            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=directory))
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()


def make_tiny_png(path: Path) -> None:
    from PIL import Image

    Image.new("RGB", (16, 16), (200, 30, 30)).save(path)


def run_qcluster(workers: int) -> subprocess.Popen:
    env = {**ENV, "AIPROD_Q_WORKERS": str(workers)}
    return subprocess.Popen([PY, "manage.py", "qcluster"], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)


def stop(proc: subprocess.Popen) -> None:
    # SIGINT, as a terminal's Ctrl-C (SIGTERM works the same way now): qcluster
    # hands back what it has not started and stops within its grace period.
    try:
        os.killpg(proc.pid, signal.SIGINT)
        proc.wait(timeout=20)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


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


def fmt(value, digits=1):
    return "—" if value is None else f"{value:,.{digits}f}"


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


def render(results: dict, rows: list, elapsed: float) -> str:
    lines = [
        "# AIPROD benchmark results",
        "",
        f"Run {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC on {platform.node()}: {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, gunicorn {GUNICORN_WORKERS} sync workers, wrk {CONNECTIONS} connections, "
        f"{DURATION} s per run, the two sides of each ratio alternated {ROUNDS} times (medians), "
        f"PostgreSQL + Redis local. Whole run {elapsed:.0f} s.",
        "",
        "| scenario | req/s | p50 ms | p99 ms | errors | ratio |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, r, ratio in rows:
        lines.append(
            f"| {name} | {fmt(r['rps'])} | {fmt(r['p50_ms'], 2)} | {fmt(r['p99_ms'], 2)} | {r['errors']} | "
            f"{'' if ratio is None else f'{ratio:.2f}×'} |"
        )
    lines += [
        "",
        "Ratios: GET /jobs/{id} ÷ bare SELECT view (target ≥ 0.6); POST /jobs ÷ bare INSERT view; "
        "1M-job list ÷ 1k-job list (target ≥ 0.67, i.e. 1M within 1.5× of 1k).",
        "",
        "| pipeline / delivery | figure |",
        "| --- | ---: |",
    ]
    p = results.get("pipeline", {})
    lines += [
        f"| media.probe jobs through 2 workers | {fmt(p.get('jobs_per_s'))} jobs/s ({p.get('completed')} completed, {p.get('failed')} failed of {p.get('jobs')}) |",
        f"| median processing time per job | {fmt(p.get('median_processing_s'), 3)} s |",
        f"| median create → completed, idle worker | {fmt(p.get('idle_median_create_to_completed_s'), 3)} s |",
    ]
    p1 = results.get("pipeline_1_worker", {})
    lines.append(
        f"| media.probe jobs through 1 worker | {fmt(p1.get('jobs_per_s'))} jobs/s ({p1.get('completed')} completed, {p1.get('failed')} failed of {p1.get('jobs')}) |"
    )
    w = results.get("webhooks", {})
    lines += [
        f"| webhook deliveries, 1 worker | {fmt(w.get('deliveries_per_s'))} /s ({w.get('delivered')} delivered) |",
        f"| median event → receipt, during the 1,000-event burst (queueing included) | {fmt(w.get('median_latency_s'), 3)} s |",
        f"| median job completed → job.completed received, idle | {fmt(results.get('job_event_latency', {}).get('median_s'), 3)} s |",
    ]
    for key, where in (("stream", ""), ("stream_s3", ", S3 multipart")):
        for mode, s in results.get(key, {}).items():
            if not isinstance(s, dict):
                continue
            lines += [
                f"| /jobs/stream 1 GiB upload ({mode}{where}) | {fmt(s.get('mb_per_s'))} MB/s |",
                f"| gunicorn worker peak RSS growth, {mode} upload{where} | {fmt(s.get('peak_rss_growth_mib'))} MiB (target ≤ 32) |",
            ]
    lines += [
        "",
        "Raw figures:",
        "",
        "```json",
        json.dumps(results, indent=1, default=str),
        "```",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
