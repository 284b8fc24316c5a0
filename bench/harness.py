"""The benchmark's moving parts: the database, accounts and seeded jobs,
gunicorn and a qcluster started as real processes, wrk driving HTTP load, a
webhook receiver and a static file server on local ports."""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import statistics
import subprocess
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
