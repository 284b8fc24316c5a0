"""Real processes for end-to-end and resilience tests, each stopped in a finally.

* :class:`ThrowawayPostgres` — a PostgreSQL cluster of our own (initdb/pg_ctl,
  run as ``postgres`` when the tests run as root) on a free port, which a test
  may stop and start;
* :class:`RedisServer` — a redis-server of our own (unix socket, or a TCP port)
  which a test may kill and start again at the same address;
* :func:`gunicorn` — the real WSGI server on a free port (context manager);
* :func:`qcluster` — ``manage.py qcluster`` (context manager), stopped with
  SIGINT to its process group: a group SIGTERM kills the workers, which the
  sentinel restarts, and the cluster takes ~40 s to give up;
* :class:`RequestStream` — a thread making requests at a steady rate and
  recording every answer (status, headers, JSON), for "under load" tests;
* small helpers: :func:`free_port`, :func:`wait_until`, :func:`manage`,
  :func:`children_of`, :func:`alive`, :func:`stop_group`.

Every wait has a hard timeout.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import redis
import requests

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(condition, *, timeout: float, what: str, interval: float = 0.1):
    """Calls ``condition()`` until it returns something truthy (returned);
    fails the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


def manage(env: dict, *args: str, timeout: float = 180) -> str:
    """Runs ``manage.py <args>`` with ``env``; returns stdout, fails the test on a non-zero exit."""
    result = subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True,
                            text=True, timeout=timeout)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


# --------------------------------------------------------------------------- process groups


def children_of(pid: int) -> list[int]:
    """Direct children of ``pid`` (Linux /proc)."""
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def alive(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def stop_group(process: subprocess.Popen, sig: int = signal.SIGTERM, grace: float = 15) -> None:
    """Sends ``sig`` to the process group led by ``process`` (started with
    start_new_session=True), waits up to ``grace`` seconds, then SIGKILLs
    whatever is left of the group."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, sig)
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        pass
    # Stragglers (a worker or a forked processor child) go with the group.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=10)


def _log_tail(path: Path, size: int = 3000) -> str:
    try:
        return path.read_text(errors="replace")[-size:]
    except OSError:
        return ""


# --------------------------------------------------------------------------- PostgreSQL


def _postgres_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


PG_BIN = _postgres_bin()


def postgres_missing_reason() -> str | None:
    """Why a throw-away cluster cannot be started here, or None."""
    if PG_BIN is None:
        return "initdb/pg_ctl not found (install the PostgreSQL server package to run this test)"
    if os.geteuid() == 0 and not shutil.which("runuser"):
        return "running as root without runuser: cannot start PostgreSQL as the postgres user"
    return None


class ThrowawayPostgres:
    """One PostgreSQL cluster in a temporary directory, run as `postgres`
    when the tests run as root (PostgreSQL refuses to run as root)."""

    def __init__(self, database: str = "aiprod_outage"):
        self.port = free_port()
        self.database = database
        self.datadir = Path(tempfile.mkdtemp(prefix="aiprod-outage-pg-"))
        self.as_postgres = os.geteuid() == 0
        if self.as_postgres:
            shutil.chown(self.datadir, "postgres", "postgres")

    def run(self, tool: str, *args: str, timeout: float = 60, check: bool = True) -> subprocess.CompletedProcess:
        command = [str(PG_BIN / tool), *args]
        if self.as_postgres:
            command = ["runuser", "-u", "postgres", "--", *command]
        return subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=check)

    def init(self) -> None:
        self.run("initdb", "-D", str(self.datadir / "data"), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync")

    def start(self) -> None:
        options = f"-p {self.port} -k {self.datadir} -c listen_addresses=127.0.0.1 -c fsync=off"
        self.run("pg_ctl", "-D", str(self.datadir / "data"), "-o", options, "-l", str(self.datadir / "log"),
                 "-w", "-t", "30", "start", timeout=45)

    def stop(self, mode: str = "fast") -> None:
        self.run("pg_ctl", "-D", str(self.datadir / "data"), "-m", mode, "-w", "-t", "30", "stop", timeout=45)

    def is_running(self) -> bool:
        return self.run("pg_ctl", "-D", str(self.datadir / "data"), "status", timeout=15, check=False).returncode == 0

    def create_database(self) -> None:
        self.run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", self.database)

    def cleanup(self) -> None:
        try:
            self.stop("immediate")
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired):
            pass  # already stopped
        shutil.rmtree(self.datadir, ignore_errors=True)

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{self.database}"


# --------------------------------------------------------------------------- Redis


class RedisServer:
    """A redis-server of our own, on a unix socket in ``directory`` or on a
    TCP ``port`` of 127.0.0.1, which a test may kill and start again (same
    address, empty) to play an outage."""

    def __init__(self, directory: Path, *, port: int | None = None):
        self.socket = str(Path(directory) / "redis.sock")
        self.port = port
        self.process: subprocess.Popen | None = None

    @property
    def location(self) -> str:
        """The django-redis LOCATION / REDIS_URL of this server."""
        if self.port:
            return f"redis://127.0.0.1:{self.port}/0"
        return f"unix://{self.socket}?db=0"

    def client(self) -> redis.Redis:
        if self.port:
            return redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=2)
        return redis.Redis(unix_socket_path=self.socket, socket_timeout=2)

    def start(self) -> None:
        if self.port:
            listen = ["--port", str(self.port), "--bind", "127.0.0.1"]
        else:
            listen = ["--port", "0", "--unixsocket", self.socket, "--unixsocketperm", "700"]
        self.process = subprocess.Popen(
            ["redis-server", *listen, "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while True:
            try:
                if self.client().ping():
                    return
            except redis.RedisError:
                pass
            if time.monotonic() > deadline or self.process.poll() is not None:
                self.kill()
                raise RuntimeError("redis-server did not start")
            time.sleep(0.02)

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        self.process = None

    def command_calls(self) -> dict[str, int]:
        """Commands served since reset_stats(), by name, minus this helper's
        own. Commands a Lua script runs appear beside their EVAL."""
        stats = self.client().info("commandstats")
        calls = {name.removeprefix("cmdstat_"): v["calls"] for name, v in stats.items()}
        for own in ("info", "config|resetstat", "hello"):
            calls.pop(own, None)
        return calls

    def reset_stats(self) -> None:
        self.client().config_resetstat()


# --------------------------------------------------------------------------- gunicorn and qcluster


def http_get(url: str, key: str | None = None, timeout: float = 10) -> requests.Response:
    """GET that answers status 0 instead of raising when nothing listens."""
    headers = {"X-API-Key": key} if key else {}
    try:
        return requests.get(url, headers=headers, timeout=timeout)
    except requests.ConnectionError:
        response = requests.Response()
        response.status_code = 0
        return response


def with_metrics_dir(env: dict, directory: Path) -> dict:
    """``env`` plus PROMETHEUS_MULTIPROC_DIR at ``directory``, emptied (as
    scripts/run.sh does): give it to every gunicorn and qcluster of one
    "host" so /metrics adds up all of them."""
    shutil.rmtree(directory, ignore_errors=True)
    Path(directory).mkdir(parents=True)
    return {**env, "PROMETHEUS_MULTIPROC_DIR": str(directory)}


@contextlib.contextmanager
def gunicorn(env: dict, log_path: Path, *, workers: int = 1, threads: int = 4, extra_args=()):
    """Serves aiprod.wsgi with real gunicorn on a free port; yields the base URL.
    ``extra_args``: more gunicorn options (``--access-logfile -`` ...).

    ``--no-control-socket``: gunicorn 27 otherwise makes every instance fight
    over /root/.gunicorn/gunicorn.ctl."""
    port = free_port()
    log = open(log_path, "w")
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "aiprod.wsgi:application", "--bind", f"127.0.0.1:{port}",
         "--workers", str(workers), "--threads", str(threads), "--timeout", "30", "--graceful-timeout", "5",
         "--no-control-socket", *extra_args],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=log, start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        def up():
            if process.poll() is not None:
                pytest.fail(f"gunicorn exited with {process.returncode}:\n{_log_tail(log_path)}")
            return http_get(base + "/health").status_code == 200

        wait_until(up, timeout=30, what="gunicorn to start", interval=0.2)
        yield base
    finally:
        stop_group(process, signal.SIGTERM, grace=15)
        log.close()


@contextlib.contextmanager
def qcluster(env: dict, log_path: Path):
    """Runs ``manage.py qcluster`` with ``env``; yields the Popen (its pid
    leads the cluster's process group: sentinel, workers, their children)."""
    log = open(log_path, "w")
    process = subprocess.Popen([sys.executable, "manage.py", "qcluster"], cwd=ROOT, env=env,
                               stdout=subprocess.DEVNULL, stderr=log, start_new_session=True)
    try:
        yield process
    finally:
        # django-q2 stops promptly on SIGINT (Ctrl-C) sent to the whole group.
        stop_group(process, signal.SIGINT, grace=10)
        log.close()


# --------------------------------------------------------------------------- steady load


@dataclass
class Answer:
    at: float  # time.monotonic() when the answer came
    path: str
    status: int  # 0: no HTTP answer (connection refused, reset, timeout)
    headers: dict = field(default_factory=dict)
    body: object = None  # parsed JSON, or the text when it is not JSON
    error: str = ""
    method: str = "GET"


class RequestStream:
    """A thread making requests round-robin over ``calls`` at about ``rate``
    per second (each with the API key) and recording every answer. A call is a
    path (GET) or ``("POST", path, body)`` where ``body()`` makes the JSON body."""

    def __init__(self, base: str, key: str, calls: list, rate: float = 20, timeout: float = 10):
        self.base, self.key, self.calls, self.interval, self.timeout = base, key, calls, 1 / rate, timeout
        self.answers: list[Answer] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="request-stream")

    def _one(self, call) -> Answer:
        method, path, body = ("GET", call, None) if isinstance(call, str) else call
        try:
            response = requests.request(method, self.base + path, headers={"X-API-Key": self.key},
                                        json=body() if body else None, timeout=self.timeout)
        except requests.RequestException as exc:
            return Answer(time.monotonic(), path, 0, error=f"{type(exc).__name__}: {exc}", method=method)
        try:
            body = response.json()
        except ValueError:
            body = response.text[:500]
        return Answer(time.monotonic(), path, response.status_code, dict(response.headers), body, method=method)

    def _run(self) -> None:
        n = 0
        next_at = time.monotonic()
        while not self._stop.is_set():
            answer = self._one(self.calls[n % len(self.calls)])
            n += 1
            with self._lock:
                self.answers.append(answer)
            next_at += self.interval
            self._stop.wait(max(0.0, next_at - time.monotonic()))

    def start(self) -> "RequestStream":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=self.timeout + 5)

    def since(self, moment: float) -> list[Answer]:
        with self._lock:
            return [a for a in self.answers if a.at >= moment]

    def wait_for(self, count: int, *, after: float = 0.0, timeout: float = 20, what: str = "",
                 where=lambda answer: True) -> list[Answer]:
        """Waits until ``count`` answers matching ``where`` came after ``after``; returns them."""
        def enough():
            found = [a for a in self.since(after) if where(a)]
            return found if len(found) >= count else None

        return wait_until(enough, timeout=timeout, what=what or f"{count} answers")

    def __enter__(self) -> "RequestStream":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
