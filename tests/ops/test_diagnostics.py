"""GET /diagnostics: every field it reports (docs/operations.md), from real readings."""

from __future__ import annotations

import io
import json
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from datetime import timedelta

import django
import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from django.db import connection, connections
from django.utils import timezone
from django_q.conf import Conf
from django_q.models import OrmQ

from ops.models import BackupRecord
from core.version import VERSION
from tests.conftest import requires_postgres

pytestmark = requires_postgres


def diagnostics(persona) -> dict:
    response = persona.api.get("/diagnostics")
    assert response.status_code == 200, response.content
    return response.json()


def test_diagnostics_needs_a_valid_key(anonymous, db):
    assert anonymous.get("/diagnostics").status_code == 401
    assert anonymous.get("/diagnostics", headers={"X-API-Key": "sk_live_" + "x" * 40}).status_code == 401


def test_any_valid_key_may_read_diagnostics_whatever_its_scopes(personas):
    narrow = personas("free", scopes=["jobs.read"])
    assert narrow.api.get("/diagnostics").status_code == 200


def test_diagnostics_reports_every_field_from_live_readings(free):
    body = diagnostics(free)
    assert body["status"] in ("healthy", "degraded")
    assert body["version"] == VERSION
    assert body["timestamp"].endswith("Z")
    assert body["uptime_seconds"] > 0

    database = body["database"]
    assert database["status"] == "healthy"
    assert database["latency_ms"] > 0
    with connection.cursor() as cursor:
        cursor.execute("SHOW max_connections")
        max_connections = int(cursor.fetchone()[0])
    assert database["connection_pool_active"] >= 1  # this very connection
    assert 0 <= database["connection_pool_available"] < max_connections
    assert database["replication"] == "none"
    assert database["replication_lag_ms"] == 0
    assert database["backup_age_hours"] is None  # never backed up

    queue = body["queue"]
    for field in ("workers_alive", "tasks_waiting", "tasks_in_progress", "oldest_waiting_age_seconds"):
        assert field in queue
    assert queue["tasks_waiting"] == 0
    assert queue["oldest_waiting_age_seconds"] is None

    storage = body["storage"]
    if storage["backend"] == "s3":  # AIPROD_TEST_STORAGE=s3: the bucket answered a HEAD
        assert (storage["status"], storage["free_bytes"]) == ("healthy", None)
        assert storage["latency_ms"] > 0
    else:
        assert storage["backend"] == "local"
        assert storage["status"] in ("healthy", "degraded")
        disk = shutil.disk_usage(settings.BASE_DIR)
        assert storage["total_bytes"] == disk.total
        assert 0 < storage["free_bytes"] <= disk.total

    redis = body["external_services"]["redis"]
    if settings.REDIS_URL:
        assert redis["status"] == "healthy"
        assert redis["latency_ms"] > 0
    else:
        assert redis["status"] == "not_configured"

    system = body["system"]
    assert len(system["load_average"]) == 3
    assert system["memory"]["total_bytes"] > system["memory"]["available_bytes"] > 0
    assert system["cpu_count"] == os.cpu_count() and system["process_rss_bytes"] > 0


def test_a_customer_key_sees_no_host_name_or_versions_even_a_free_test_key(free):
    response = free.test_api.get("/diagnostics")
    assert response.status_code == 200
    text = response.content.decode()
    assert f"\"{socket.gethostname()}\"" not in text
    assert django.get_version() not in text and platform.python_version() not in text
    assert not {"hostname", "python", "django", "postgres"} & set(response.json()["system"])


def test_staff_read_the_host_name_and_versions_in_the_admin(db, client):
    User.objects.create_user("sam", "sam@aiprod.example", "support-pass-phrase-9", is_staff=True)
    assert client.get("/admin/diagnostics/").status_code == 302  # to the admin login
    assert client.post("/admin/login/", {"username": "sam", "password": "support-pass-phrase-9",
                                         "next": "/admin/"}).status_code == 302
    response = client.get("/admin/diagnostics/")
    assert response.status_code == 200
    system = response.json()["system"]
    assert system["hostname"] == socket.gethostname()
    assert system["python"] == platform.python_version()
    assert system["django"] == django.get_version()
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        assert system["postgres"] == cursor.fetchone()[0]
    assert response.json()["database"]["status"] == "healthy"


def test_worker_cluster_host_and_pid_are_shown_to_staff_only(free, client):
    from jobs.models import WorkerHeartbeat

    WorkerHeartbeat.objects.create(cluster_id="c-secret", queue=Conf.CLUSTER_NAME,
                                   host="secret-host-01.internal", pid=424242, worker_pids=[424243])
    response = free.test_api.get("/diagnostics")
    assert response.status_code == 200
    assert "secret-host-01.internal" not in response.content.decode()
    assert "424242" not in response.content.decode()
    [cluster] = response.json()["queue"]["worker_clusters"]
    assert "host" not in cluster and "pid" not in cluster
    assert cluster["worker"].startswith("worker_") and cluster["workers"] == 1

    User.objects.create_user("sam", "sam@aiprod.example", "support-pass-phrase-9", is_staff=True)
    client.post("/admin/login/", {"username": "sam", "password": "support-pass-phrase-9", "next": "/admin/"})
    staff = client.get("/admin/diagnostics/")
    assert staff.status_code == 200
    [cluster] = staff.json()["queue"]["worker_clusters"]
    assert (cluster["host"], cluster["pid"]) == ("secret-host-01.internal", 424242)


def test_a_logged_in_customer_is_not_staff_for_the_full_diagnostics(db, client):
    User.objects.create_user("shop@example.com", "shop@example.com", "customer-pass-phrase-9")
    client.post("/admin/login/", {"username": "shop@example.com", "password": "customer-pass-phrase-9"})
    client.post("/dashboard/login", {"username": "shop@example.com", "password": "customer-pass-phrase-9"})
    response = client.get("/admin/diagnostics/")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_connection_pool_active_moves_with_connections_held_by_other_threads(pro):
    """Like concurrent requests: each thread holds its own Django connection."""
    before = diagnostics(pro)["database"]["connection_pool_active"]
    opened, release = threading.Barrier(4), threading.Event()

    def hold_a_connection():
        try:
            with connections["default"].cursor() as cursor:
                cursor.execute("SELECT 1")
            opened.wait(timeout=10)
            release.wait(timeout=30)
        finally:
            connections["default"].close()

    threads = [threading.Thread(target=hold_a_connection) for _ in range(3)]
    for thread in threads:
        thread.start()
    try:
        opened.wait(timeout=10)
        during = diagnostics(pro)["database"]
    finally:
        release.set()
        for thread in threads:
            thread.join(timeout=10)
    assert during["connection_pool_active"] >= before + 3
    # Closed backends leave pg_stat_activity a moment after the client hangs up.
    deadline = time.monotonic() + 10
    while (after := diagnostics(pro)["database"]["connection_pool_active"]) > during["connection_pool_active"] - 3:
        assert time.monotonic() < deadline, (before, during, after)
        time.sleep(0.1)


def test_waiting_tasks_and_their_age_come_from_the_queue_table(free):
    OrmQ.objects.create(key=Conf.CLUSTER_NAME, payload="-", lock=timezone.now() - timedelta(minutes=2))
    OrmQ.objects.create(key=Conf.CLUSTER_NAME, payload="-", lock=timezone.now() - timedelta(seconds=5))
    OrmQ.objects.create(key=Conf.CLUSTER_NAME, payload="-", lock=timezone.now() + timedelta(hours=1))  # claimed
    queue = diagnostics(free)["queue"]
    assert queue["tasks_waiting"] == 2
    assert queue["tasks_in_progress"] == 1
    assert 120 <= queue["oldest_waiting_age_seconds"] < 3600


def test_backup_writes_a_pg_dump_file_and_diagnostics_reports_its_age(free, tmp_path):
    call_command("backup", "--dir", str(tmp_path), "--json", stdout=open(os.devnull, "w"))
    record = BackupRecord.objects.get()
    assert record.status == "succeeded"
    dump = tmp_path / os.path.basename(record.path)
    assert dump.exists() and dump.stat().st_size == record.size_bytes > 0
    assert dump.read_bytes()[:5] == b"PGDMP"  # pg_dump's custom format
    age = diagnostics(free)["database"]["backup_age_hours"]
    assert 0 <= age < 0.1


def test_backup_keeps_only_the_newest_dumps_and_leaves_other_files_alone(db, tmp_path):
    old = [tmp_path / f"aiprod-20260101T00000{i}000000Z.dump" for i in range(3)]
    for path in old:
        path.write_bytes(b"PGDMP old")
    unrelated = tmp_path / "notes.txt"
    unrelated.write_text("not a backup")
    out = io.StringIO()
    call_command("backup", "--dir", str(tmp_path), "--keep", "2", "--json", stdout=out)
    result = json.loads(out.getvalue())
    assert result["pruned"] == [str(old[0]), str(old[1])]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([old[2].name, os.path.basename(result["path"]), "notes.txt"])


def test_backup_refuses_to_keep_fewer_than_one_dump_before_dumping(db, tmp_path):
    with pytest.raises(CommandError, match="at least 1"):
        call_command("backup", "--dir", str(tmp_path), "--keep", "0")
    assert not BackupRecord.objects.exists() and not list(tmp_path.iterdir())


def test_backup_without_pg_dump_on_path_fails_clearly_and_records_nothing(db, tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(CommandError, match="pg_dump is not on PATH"):
        call_command("backup", "--dir", str(tmp_path))
    assert not BackupRecord.objects.exists()


@pytest.mark.e2e
@pytest.mark.skipif(not settings.REDIS_URL, reason="worker stats need the shared (Redis) cache")
def test_workers_alive_counts_a_running_qcluster_and_drops_when_it_stops(free):
    db = connection.settings_dict
    env = dict(os.environ)
    env["DATABASE_URL"] = f"postgres://{db['USER']}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}"
    env["AIPROD_Q_WORKERS"] = "2"
    cluster = subprocess.Popen(
        [sys.executable, "manage.py", "qcluster"], cwd=settings.BASE_DIR, env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )
    try:
        queue = wait_for(free, lambda q: (q["workers_alive"] or 0) >= 2, timeout=45)
        assert queue["workers_alive"] == 2
        assert queue["clusters_alive"] == 1
    finally:
        # SIGTERM to the cluster's main process only: it stops its sentinel
        # and workers itself (a group-wide SIGTERM kills the sentinel first
        # and leaves the main process waiting).
        cluster.send_signal(signal.SIGTERM)
        try:
            cluster.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(cluster.pid, signal.SIGKILL)
            cluster.wait(timeout=10)
    # The cluster's stats expire from the cache a few seconds after it stops.
    assert wait_for(free, lambda q: q["workers_alive"] == 0, timeout=20)["workers_alive"] == 0


def wait_for(persona, condition, timeout: float) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        queue = diagnostics(persona)["queue"]
        if condition(queue) or time.monotonic() > deadline:
            return queue
        time.sleep(0.5)
