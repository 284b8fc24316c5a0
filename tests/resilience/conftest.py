"""Fixtures for the resilience tests: real servers we can break.

* ``deployment``: a throw-away PostgreSQL cluster (made, migrated and given a
  pro account once for this directory; started again before each test if a
  failed test left it stopped) and the environment that points gunicorn and
  qcluster subprocesses at it. Start servers with ``tests.processes.gunicorn``
  and ``tests.processes.qcluster``.
* ``start_qcluster``: real ``manage.py qcluster`` processes on pytest's own test
  database (``transactional_db``: what the test commits, they see), stopped in
  a finally; tasks queued by the test process go to them.
* ``long_wav``: 60 s of audio (transcribing it takes a few seconds); ``tone_wav``: 0.5 s.
* ``DedupingReceiver``: a webhook receiver as a careful customer writes one.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import threading
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.db import connection
from django_q.conf import Conf

from tests import media_factory as mf
from tests.processes import ThrowawayPostgres, manage, postgres_missing_reason, qcluster
from tests.s3server import own_disk_env
from webhooks import signing

_names = itertools.count(1)


@dataclass
class Deployment:
    postgres: ThrowawayPostgres
    key: str  # a live API key of a pro account
    base_env: dict
    media_root: Path

    def env(self, **overrides) -> dict:
        """The environment for one test's servers; its own cache prefix, so
        rate-limit counters do not carry over between tests."""
        env = {**self.base_env, "AIPROD_CACHE_PREFIX": f"aiprod-resilience-{os.getpid()}-{next(_names)}"}
        env.update({name: str(value) for name, value in overrides.items()})
        return env


@pytest.fixture(scope="package")
def _deployment(tmp_path_factory):
    reason = postgres_missing_reason()
    if reason:
        pytest.skip(reason)
    cluster = ThrowawayPostgres()
    try:
        cluster.init()
        cluster.start()
        cluster.create_database()
        media_root = tmp_path_factory.mktemp("deployment-media")
        env = dict(os.environ)
        env.update({
            "DJANGO_SETTINGS_MODULE": "aiprod.settings",
            "DATABASE_URL": cluster.url,
            "AIPROD_MEDIA_ROOT": str(media_root),
            "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
            "AIPROD_ALLOW_INSECURE_URLS": "1",  # inputs and receivers are local servers
            "AIPROD_Q_SYNC": "0",  # jobs go to a qcluster, not inline in gunicorn
            "AIPROD_Q_WORKERS": "1",
            "AIPROD_JOB_HEARTBEAT_SECONDS": "0.2",
        })
        manage(env, "migrate", "--noinput", "-v0")
        created = manage(env, "create_account", "--email", "outage@example.com", "--tier", "pro", "--json")
        yield Deployment(postgres=cluster, key=json.loads(created)["api_key"], base_env=env, media_root=media_root)
    finally:
        cluster.cleanup()


@pytest.fixture
def deployment(_deployment) -> Deployment:
    if not _deployment.postgres.is_running():  # a failed test may have left it stopped
        _deployment.postgres.start()
    return _deployment


def database_url_under_test() -> str:
    """The URL of the database this pytest run uses (pytest-django's test_<name>)."""
    db = connection.settings_dict
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    return f"postgres://{db['USER']}{password}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


@pytest.fixture
def start_qcluster(transactional_db, monkeypatch, tmp_path):
    """``start_qcluster(**env)`` starts one more cluster (one worker unless
    ``AIPROD_Q_WORKERS`` says otherwise) on the test database and returns
    its Popen. All are stopped (SIGINT to the group, then SIGKILL) and the
    jobs' stored files deleted at the end of the test."""
    from jobs.models import Job
    from jobs.services import storage

    if not connection.vendor == "postgresql":
        pytest.skip("needs PostgreSQL: the qcluster shares the test database")
    monkeypatch.setattr(Conf, "SYNC", False)  # async_task goes to the ORM broker, not inline
    base = {
        **os.environ,
        "DATABASE_URL": database_url_under_test(),
        "DJANGO_SETTINGS_MODULE": "aiprod.test_settings",
        "AIPROD_Q_SYNC": "0",
        "AIPROD_Q_WORKERS": "1",
        "AIPROD_JOB_HEARTBEAT_SECONDS": "0.2",
        "AIPROD_WORKER_GRACE_SECONDS": "3",  # the fixture's SIGINT stop hands running jobs back quickly
        # A killed worker leaves its scratch directory behind: keep those in this test's tmp dir.
        "AIPROD_JOB_WORK_DIR": str(tmp_path / "work"),
    }
    counter = itertools.count(1)
    own_disk = own_disk_env(tmp_path / "worker-media")
    if own_disk:  # on S3 each cluster gets a disk of its own (and its scratch space on it)
        base.update(own_disk)
    with contextlib.ExitStack() as stack:

        def start(**overrides):
            n = next(counter)
            env = {**base, **{name: str(value) for name, value in overrides.items()}}
            if own_disk:
                env["AIPROD_TEST_MEDIA_ROOT"] = str(tmp_path / f"worker-media-{n}")
            return stack.enter_context(qcluster(env, tmp_path / f"qcluster-{n}.log"))

        try:
            yield start
        finally:
            stack.close()
            for job in Job.objects.all():
                storage.delete_job_files(job.pk, [job.input_file, job.output_file])
            connection.close()


@pytest.fixture(scope="session")
def long_wav(tmp_path_factory) -> bytes:
    """60 s of audio: transcribing it takes a few seconds, long enough to kill its worker."""
    return Path(mf.make_wav(tmp_path_factory.mktemp("long") / "long.wav", seconds=60)).read_bytes()


@pytest.fixture(scope="session")
def tone_wav(tmp_path_factory) -> bytes:
    """Half a second of audio: a job on it takes a moment."""
    return Path(mf.make_wav(tmp_path_factory.mktemp("tone") / "tone.wav", seconds=0.5)).read_bytes()


class DedupingReceiver:
    """A webhook route (``serve({"/hook": receiver})``) doing what docs/webhooks.md
    asks of customers: check the signature (once ``secret`` is set), then keep
    the first copy of each event id and answer 200 to every copy, so an
    at-least-once delivery is processed exactly once."""

    def __init__(self):
        self.secret: str | None = None
        self.events: dict[str, dict] = {}  # event id -> first body, in arrival order
        self.copies: Counter = Counter()
        self.rejected: list[str] = []
        self._lock = threading.Lock()

    def __call__(self, request):
        if self.secret is not None:
            try:
                signing.verify(self.secret, request.body, request.header_dict)
            except signing.SignatureError as exc:
                self.rejected.append(str(exc))
                return 400
        event = request.json()
        if request.header_dict.get("webhook-id") != event["id"]:  # the dedupe key is in the headers too
            self.rejected.append(f"webhook-id {request.header_dict.get('webhook-id')} != {event['id']}")
            return 400
        with self._lock:
            self.copies[event["id"]] += 1
            self.events.setdefault(event["id"], event)
        return (200, {"Content-Type": "application/json"}, b'{"received": true}')

    def of_type(self, *types: str) -> list[dict]:
        with self._lock:
            return [e for e in self.events.values() if e["event"] in types]
