"""Readings behind GET /diagnostics (docs/operations.md), each taken live.

Every reader returns a dict and never raises: a part that cannot be read says
so ("down", null) and the rest is still reported. The whole report costs a
handful of small queries, one Redis PING and a few /proc reads.
"""

from __future__ import annotations

import logging
import os
import platform
import shutil
import socket
import time
from pathlib import Path

import django
from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from ops.maintenance import current_state
from core.timefmt import iso
from core.version import VERSION

logger = logging.getLogger(__name__)

_IMPORTED_AT = time.time()

# Thresholds for "degraded" (docs/operations.md, "Reading /diagnostics").
SLOW_DATABASE_MS = 1000
REPLICATION_LAG_LIMIT_MS = 1000
QUEUE_AGE_DEGRADED_SECONDS = 300
LOW_DISK_BYTES = 1024**3
LOW_DISK_RATIO = 0.05


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 3)


# --- process / system -----------------------------------------------------------


def uptime_seconds() -> float:
    """Seconds since this process started (from /proc; import time elsewhere)."""
    try:
        with open("/proc/self/stat") as f:
            # Field 22 (starttime, in clock ticks since boot); the fields after
            # the ")" closing the command name start at field 3.
            start_ticks = int(f.read().rsplit(")", 1)[1].split()[19])
        with open("/proc/uptime") as f:
            since_boot = float(f.read().split()[0])
        return round(max(0.0, since_boot - start_ticks / os.sysconf("SC_CLK_TCK")), 3)
    except (OSError, ValueError, IndexError):
        return round(time.time() - _IMPORTED_AT, 3)


def _meminfo() -> dict:
    try:
        with open("/proc/meminfo") as f:
            values = {}
            for line in f:
                name, _, rest = line.partition(":")
                parts = rest.split()
                if parts and parts[0].isdigit():
                    values[name] = int(parts[0]) * 1024  # kB
        return {"total_bytes": values.get("MemTotal"), "available_bytes": values.get("MemAvailable")}
    except OSError:
        return {"total_bytes": None, "available_bytes": None}


def _process_rss_bytes() -> int | None:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return None


def system_reading(*, staff: bool = False) -> dict:
    """Load, CPUs and memory (`system`, which docs/troubleshooting.md has customers read); the
    host name and software versions only for ``staff``: they tell an attacker
    which host answered and where to aim."""
    try:
        load = [round(value, 2) for value in os.getloadavg()]
    except OSError:
        load = None
    reading = {
        "load_average": load,
        "cpu_count": os.cpu_count(),
        "memory": _meminfo(),
        "process_rss_bytes": _process_rss_bytes(),
    }
    if staff:
        reading = {
            "hostname": socket.gethostname(),
            "python": platform.python_version(),
            "django": django.get_version(),
            "postgres": _postgres_version(),
            **reading,
        }
    return reading


def _postgres_version() -> str | None:
    """The server's version string; None on SQLite or when it does not answer."""
    if connection.vendor != "postgresql":
        return None
    try:
        with connection.cursor() as cursor:
            cursor.execute("SHOW server_version")
            return cursor.fetchone()[0]
    except DatabaseError:
        return None


# --- database --------------------------------------------------------------------


def ping_database() -> float | None:
    """Round-trip time of `SELECT 1` in ms, or None when the database is down."""
    try:
        with connection.cursor() as cursor:
            started = time.perf_counter()
            cursor.execute("SELECT 1")
            cursor.fetchone()
            return _ms(time.perf_counter() - started)
    except DatabaseError:
        return None


_POOL_SQL = """
SELECT count(*) FILTER (WHERE datname = current_database()),
       count(*),
       current_setting('max_connections')::int,
       current_setting('superuser_reserved_connections')::int
FROM pg_stat_activity
WHERE backend_type = 'client backend'
"""


def _postgres_pool(cursor) -> tuple[int, int]:
    """(this database's client connections, connection slots still free server-wide)."""
    # Statistics views are snapshotted once per transaction: inside one (e.g.
    # ATOMIC_REQUESTS) the counts would be stale without a fresh snapshot.
    cursor.execute("SELECT pg_stat_clear_snapshot()")
    cursor.execute(_POOL_SQL)
    ours, everyone, max_connections, reserved = cursor.fetchone()
    return ours, max(0, max_connections - reserved - everyone)


def _postgres_replication(cursor) -> tuple[str, float]:
    """(role, lag in ms). A standby measures replay lag; a primary reports its
    slowest standby's replay lag; without replication the lag is 0."""
    cursor.execute("SELECT pg_is_in_recovery()")
    if cursor.fetchone()[0]:
        # Caught up (nothing received left to replay) counts as no lag, even if
        # the primary has been idle since the last replayed transaction.
        cursor.execute(
            "SELECT CASE WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0"
            " ELSE EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp()) * 1000 END"
        )
        lag = cursor.fetchone()[0]
        return "standby", round(float(lag or 0), 3)
    cursor.execute("SELECT count(*), max(EXTRACT(EPOCH FROM replay_lag) * 1000) FROM pg_stat_replication")
    standbys, lag = cursor.fetchone()
    if standbys:
        return "primary", round(float(lag or 0), 3)
    return "none", 0.0


def backup_age_hours() -> float | None:
    from ops.models import BackupRecord

    finished_at = (
        BackupRecord.objects.filter(status=BackupRecord.Status.SUCCEEDED)
        .order_by("-finished_at")
        .values_list("finished_at", flat=True)
        .first()
    )
    if finished_at is None:
        return None
    return round((timezone.now() - finished_at).total_seconds() / 3600, 3)


def database_reading() -> dict:
    reading = {
        "status": "down",
        "engine": connection.vendor,
        "latency_ms": None,
        "connection_pool_active": None,
        "connection_pool_available": None,
        "replication": None,
        "replication_lag_ms": None,
        "backup_age_hours": None,
    }
    latency = ping_database()
    if latency is None:
        return reading
    reading["latency_ms"] = latency
    try:
        with transaction.atomic():  # a savepoint when inside a transaction
            if connection.vendor == "postgresql":
                with connection.cursor() as cursor:
                    reading["connection_pool_active"], reading["connection_pool_available"] = _postgres_pool(cursor)
                    reading["replication"], reading["replication_lag_ms"] = _postgres_replication(cursor)
            else:
                reading["replication"], reading["replication_lag_ms"] = "none", 0.0
            reading["backup_age_hours"] = backup_age_hours()
    except DatabaseError:
        logger.warning("database diagnostics incomplete", exc_info=True)
        reading["status"] = "degraded"
        return reading
    degraded = (
        latency > SLOW_DATABASE_MS
        or reading["connection_pool_available"] == 0
        or (reading["replication_lag_ms"] or 0) > REPLICATION_LAG_LIMIT_MS
    )
    reading["status"] = "degraded" if degraded else "healthy"
    return reading


# --- queue -----------------------------------------------------------------------


def _shared_cache() -> bool:
    """django-q2 keeps cluster stats in the Django cache: only a shared one
    (Redis) lets a web process see the workers of another process."""
    from django.core.cache import caches
    from django.core.cache.backends.dummy import DummyCache
    from django.core.cache.backends.locmem import LocMemCache
    from django_q.conf import Conf

    return not isinstance(caches[Conf.CACHE], (LocMemCache, DummyCache))


def workers_alive() -> tuple[int | None, int | None]:
    """(worker processes alive, clusters alive) from django-q2's cluster stats,
    which each running cluster refreshes in the cache every few seconds."""
    from django_q.conf import Conf
    from django_q.status import Stat

    if not _shared_cache():
        return None, None
    try:
        stats = Stat.get_all()
    except Exception:  # the cache is down
        logger.warning("django-q2 cluster stats unreadable", exc_info=True)
        return None, None
    stopped = {str(Conf.STOPPED), str(Conf.STOPPING)}
    alive = [stat for stat in stats if str(stat.status) not in stopped]
    return sum(len(stat.workers) for stat in alive), len(alive)


def queue_reading(*, staff: bool = False) -> dict:
    """The queue's readings; worker clusters' host names and pids only for ``staff``."""
    from django.db.models import Count, Min, Q
    from django_q.conf import Conf
    from django_q.models import OrmQ

    now = timezone.now()
    reading = {
        "status": "down",
        "broker": f"orm:{Conf.ORM}",
        "mode": "sync" if Conf.SYNC else "workers",
        "workers_alive": None,
        "clusters_alive": None,
        "tasks_waiting": None,
        "tasks_in_progress": None,
        "oldest_waiting_age_seconds": None,
    }
    reading["workers_alive"], reading["clusters_alive"] = workers_alive()
    if reading["workers_alive"] is None:
        reading["workers_note"] = "worker stats unreadable: they need the shared Redis cache (REDIS_URL)"
    try:
        # Waiting: unlocked (lock in the past); in progress: claimed by a worker.
        with transaction.atomic(using=Conf.ORM):  # a savepoint when inside a transaction
            counts = OrmQ.objects.using(Conf.ORM).aggregate(
                waiting=Count("id", filter=Q(lock__lte=now)),
                in_progress=Count("id", filter=Q(lock__gt=now)),
                oldest=Min("lock", filter=Q(lock__lte=now)),
            )
    except DatabaseError:
        return reading
    reading["tasks_waiting"] = counts["waiting"]
    reading["tasks_in_progress"] = counts["in_progress"]
    if counts["oldest"] is not None:
        reading["oldest_waiting_age_seconds"] = round((now - counts["oldest"]).total_seconds(), 3)
    try:
        from jobs.selectors import queue_progress

        with transaction.atomic():
            reading.update(queue_progress(now=now, staff=staff))
        if reading["workers_alive"] is None and reading["worker_clusters"]:
            # No shared cache for django-q2's stats: the clusters' heartbeat rows say it.
            reading["workers_alive"] = reading["worker_processes_alive"]
            reading["clusters_alive"] = reading["worker_clusters_alive"]
            reading.pop("workers_note", None)
    except DatabaseError:
        logger.warning("queue progress unreadable", exc_info=True)
    reading["status"] = queue_status(reading)
    return reading


def queue_status(reading: dict) -> str:
    if reading["mode"] == "sync":  # tasks run inline in the web process
        return "healthy"
    if reading["workers_alive"] == 0:
        return "down"
    if (reading["oldest_waiting_age_seconds"] or 0) > QUEUE_AGE_DEGRADED_SECONDS:
        return "degraded"
    return "healthy"


# --- storage and external services ---------------------------------------------------


def storage_reading() -> dict:
    """The job files' store: the local directory's free space, or whether the
    bucket answers (docs/deploy.md)."""
    from jobs.services import storage as job_storage  # ops reads jobs, as the status page does

    if job_storage.is_remote():
        check = job_storage.check_backend()
        return {**check, "free_bytes": None, "total_bytes": None}
    reading = _local_storage_reading()
    return {"backend": "local", **reading}


def _local_storage_reading() -> dict:
    path = Path(settings.MEDIA_ROOT)
    while not path.exists() and path != path.parent:
        path = path.parent  # MEDIA_ROOT is created on first upload
    try:
        usage = shutil.disk_usage(path)
    except OSError:
        return {"status": "down", "free_bytes": None, "total_bytes": None}
    if not os.access(path, os.W_OK):
        status = "down"
    elif usage.free < LOW_DISK_BYTES or usage.free < usage.total * LOW_DISK_RATIO:
        status = "degraded"
    else:
        status = "healthy"
    return {"status": status, "free_bytes": usage.free, "total_bytes": usage.total}


def redis_reading() -> dict:
    if not settings.REDIS_URL:
        return {"status": "not_configured", "latency_ms": None}
    try:
        from django_redis import get_redis_connection

        client = get_redis_connection("default")
        started = time.perf_counter()
        client.ping()
        return {"status": "healthy", "latency_ms": _ms(time.perf_counter() - started)}
    except Exception:  # any Redis or connection error means "down" here
        logger.warning("redis ping failed", exc_info=True)
        return {"status": "down", "latency_ms": None}


# --- the report --------------------------------------------------------------------------


def overall_status(database: dict, queue: dict, storage: dict, external: dict) -> str:
    if current_state().enabled:
        return "maintenance"
    if database["status"] == "down":
        return "unhealthy"
    if storage["status"] == "down" and storage.get("backend") == "s3":
        return "unhealthy"  # no uploads, no outputs, no downloads
    parts = [database["status"], queue["status"], storage["status"]]
    parts += [service["status"] for service in external.values()]
    return "degraded" if any(part in ("degraded", "down") for part in parts) else "healthy"


def collect(*, staff: bool = False) -> dict:
    """The whole /diagnostics body; host name and versions only for ``staff``
    (the admin's /admin/diagnostics, never an API key)."""
    database = database_reading()
    queue = queue_reading(staff=staff)
    storage = storage_reading()
    external = {"redis": redis_reading()}
    return {
        "status": overall_status(database, queue, storage, external),
        "version": VERSION,
        "timestamp": iso(timezone.now()),
        "uptime_seconds": uptime_seconds(),
        "database": database,
        "queue": queue,
        "storage": storage,
        "external_services": external,
        "system": system_reading(staff=staff),
    }
