"""PostgreSQL goes away under a real gunicorn and comes back (SPEC §12).

A throw-away PostgreSQL cluster (initdb/pg_ctl) on a free port, migrated,
with an account made by the management command; gunicorn serves the app
against it. While the database is stopped every API request answers 503
SERVICE_UNAVAILABLE with Retry-After in the error JSON (never a 500 or an HTML
page) and /health says unhealthy; when it starts again the same gunicorn
serves 2xx without a restart. Then the same with maintenance mode on, which
must survive the database going away during the maintenance.
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
import requests

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
CURRENT = "/account/api-keys/current"
RECOVERY_SECONDS = 10


def _postgres_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


PG_BIN = _postgres_bin()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ThrowawayPostgres:
    """One PostgreSQL cluster in a temporary directory, run as `postgres`
    when the tests run as root (PostgreSQL refuses to run as root)."""

    def __init__(self):
        self.port = free_port()
        self.datadir = Path(tempfile.mkdtemp(prefix="aiprod-outage-pg-"))
        self.as_postgres = os.geteuid() == 0
        if self.as_postgres:
            shutil.chown(self.datadir, "postgres", "postgres")

    def run(self, tool: str, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
        command = [str(PG_BIN / tool), *args]
        if self.as_postgres:
            command = ["runuser", "-u", "postgres", "--", *command]
        return subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=True)

    def init(self) -> None:
        self.run("initdb", "-D", str(self.datadir / "data"), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync")

    def start(self) -> None:
        options = f"-p {self.port} -k {self.datadir} -c listen_addresses=127.0.0.1 -c fsync=off"
        self.run("pg_ctl", "-D", str(self.datadir / "data"), "-o", options, "-l", str(self.datadir / "log"),
                 "-w", "-t", "30", "start", timeout=45)

    def stop(self, mode: str = "fast") -> None:
        self.run("pg_ctl", "-D", str(self.datadir / "data"), "-m", mode, "-w", "-t", "30", "stop", timeout=45)

    def cleanup(self) -> None:
        try:
            self.stop("immediate")
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired):
            pass  # already stopped
        shutil.rmtree(self.datadir, ignore_errors=True)

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/aiprod_outage"


@pytest.fixture
def postgres():
    if PG_BIN is None:
        pytest.skip("initdb/pg_ctl not found (install the PostgreSQL server package to run the outage test)")
    if os.geteuid() == 0 and not shutil.which("runuser"):
        pytest.skip("running as root without runuser: cannot start PostgreSQL as the postgres user")
    cluster = ThrowawayPostgres()
    try:
        cluster.init()
        cluster.start()
        cluster.run("createdb", "-h", "127.0.0.1", "-p", str(cluster.port), "-U", "postgres", "aiprod_outage")
        yield cluster
    finally:
        cluster.cleanup()


@pytest.fixture
def app_env(postgres, tmp_path):
    env = dict(os.environ)
    env.update({
        "DJANGO_SETTINGS_MODULE": "aiprod.settings",
        "DATABASE_URL": postgres.url,
        "AIPROD_CACHE_PREFIX": f"aiprod-outage-{os.getpid()}-{postgres.port}",
        "AIPROD_MEDIA_ROOT": str(tmp_path / "media"),
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
    })
    return env


def manage(env: dict, *args: str, timeout: float = 180) -> str:
    result = subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True,
                            text=True, timeout=timeout)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


@pytest.fixture
def server(app_env, tmp_path):
    """A migrated database, an account with a key, and gunicorn serving them."""
    manage(app_env, "migrate", "--noinput", "-v0")
    key = json.loads(manage(app_env, "create_account", "--email", "outage@example.com", "--tier", "pro", "--json"))["api_key"]
    port = free_port()
    # One process with threads: the maintenance switch is memoised per
    # process, so the maintenance phase below is deterministic.
    gunicorn = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "aiprod.wsgi:application", "--bind", f"127.0.0.1:{port}",
         "--workers", "1", "--threads", "4", "--timeout", "30", "--graceful-timeout", "5", "--no-control-socket"],
        cwd=ROOT, env=app_env, stdout=subprocess.DEVNULL, stderr=open(tmp_path / "gunicorn.log", "w"),
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: get(base, "/health").status_code == 200, timeout=30, what="gunicorn to start")
        yield base, key
    finally:
        os.killpg(gunicorn.pid, signal.SIGTERM)
        try:
            gunicorn.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(gunicorn.pid, signal.SIGKILL)
            gunicorn.wait(timeout=10)


def get(base: str, path: str, key: str | None = None, **kwargs) -> requests.Response:
    headers = {"X-API-Key": key} if key else {}
    try:
        return requests.get(base + path, headers=headers, timeout=10, **kwargs)
    except requests.ConnectionError:
        response = requests.Response()
        response.status_code = 0  # nothing listening (yet)
        return response


def wait_until(condition, *, timeout: float, what: str) -> float:
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > timeout:
            pytest.fail(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.2)
    return time.monotonic() - started


def assert_json_503(response: requests.Response, code: str) -> dict:
    assert response.status_code == 503, (response.status_code, response.text[:500])
    assert response.headers["Content-Type"].startswith("application/json"), response.text[:500]
    body = response.json()
    assert body["error"] == "Service unavailable"
    assert body["code"] == code
    assert body["request_id"] == response.headers["X-Request-ID"]
    assert int(response.headers["Retry-After"]) >= 1
    return body


@pytest.mark.skipif(PG_BIN is None, reason="initdb/pg_ctl not found (PostgreSQL server package not installed)")
def test_the_api_answers_503_while_postgres_is_down_and_recovers_by_itself(postgres, server, app_env):
    base, key = server
    # Up: every thread holds a persistent connection afterwards.
    for _ in range(8):
        assert get(base, CURRENT, key).status_code == 200
    assert get(base, "/health").json()["status"] == "healthy"

    postgres.stop("fast")
    for _ in range(8):
        assert_json_503(get(base, CURRENT, key), "SERVICE_UNAVAILABLE")
    assert_json_503(requests.post(base + "/jobs", json={"name": "x", "input_url": "https://example.com/a.mp4"},
                                  headers={"X-API-Key": key}, timeout=10), "SERVICE_UNAVAILABLE")
    assert_json_503(get(base, "/diagnostics", key), "SERVICE_UNAVAILABLE")
    health = get(base, "/health")
    assert health.status_code == 503 and health.json()["status"] == "unhealthy"
    assert int(health.headers["Retry-After"]) >= 1
    # The status page is what customers read during an outage: it answers.
    status = get(base, "/api/status.json")
    assert status.status_code == 200
    assert {c["id"]: c["status"] for c in status.json()["components"]}["database"] == "major_outage"
    assert status.json()["status"]["indicator"] == "critical"
    assert get(base, "/status").status_code == 200

    postgres.start()
    wait_until(lambda: get(base, CURRENT, key).status_code == 200, timeout=RECOVERY_SECONDS,
               what="the API to recover without restarting gunicorn")
    for _ in range(8):
        assert get(base, CURRENT, key).status_code == 200
    assert get(base, "/health").json()["status"] == "healthy"

    # Maintenance announced, then the database goes away for the upgrade:
    # clients keep getting MAINTENANCE with its Retry-After, health stays 200.
    manage(app_env, "maintenance", "on", "--message", "Database upgrade", timeout=60)
    wait_until(lambda: get(base, CURRENT, key).status_code == 503, timeout=RECOVERY_SECONDS,
               what="the maintenance switch to reach the server")
    postgres.stop("fast")
    for _ in range(4):
        assert "Database upgrade" in assert_json_503(get(base, CURRENT, key), "MAINTENANCE")["message"]
    assert get(base, "/health").json()["status"] == "maintenance"
    postgres.start()
    manage(app_env, "maintenance", "off", timeout=60)
    wait_until(lambda: get(base, CURRENT, key).status_code == 200, timeout=RECOVERY_SECONDS,
               what="the API to leave maintenance")
