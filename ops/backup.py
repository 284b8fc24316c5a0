"""Database backups with pg_dump (`manage.py backup`); each run leaves a
BackupRecord, which /diagnostics reads as `backup_age_hours`."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from django.conf import settings
from django.db import connection
from django.utils import timezone

from ops.models import BackupRecord

PG_DUMP_TIMEOUT_SECONDS = 6 * 3600


class BackupError(Exception):
    pass


def _pg_dump_command(target: Path) -> tuple[list[str], dict]:
    db = connection.settings_dict
    command = [shutil.which("pg_dump") or "", "--format=custom", "--no-owner", f"--file={target}"]
    if db.get("HOST"):
        command.append(f"--host={db['HOST']}")
    if db.get("PORT"):
        command.append(f"--port={db['PORT']}")
    if db.get("USER"):
        command.append(f"--username={db['USER']}")
    command.append(db["NAME"])
    env = dict(os.environ)
    if db.get("PASSWORD"):
        env["PGPASSWORD"] = db["PASSWORD"]  # kept out of argv, which `ps` shows
    env["PGCONNECT_TIMEOUT"] = "10"
    return command, env


def run_backup(directory: Path | None = None) -> BackupRecord:
    """Dumps the database (pg_dump custom format) into `directory` (default
    AIPROD_BACKUP_DIR) and records the outcome, failed or not.

    Raises BackupError (after recording it) when the dump fails, and at once,
    without a record, on SQLite or without pg_dump on PATH.
    """
    if connection.vendor != "postgresql":
        raise BackupError(
            f"manage.py backup needs PostgreSQL (pg_dump); this database is {connection.vendor}. "
            "For the SQLite development database, copy the file instead."
        )
    if not shutil.which("pg_dump"):
        raise BackupError("pg_dump is not on PATH; install the PostgreSQL client tools (e.g. postgresql-client)")
    directory = Path(directory or settings.AIPROD_BACKUP_DIR)
    directory.mkdir(parents=True, exist_ok=True)
    started_at = timezone.now()
    target = directory / f"aiprod-{started_at:%Y%m%dT%H%M%S%fZ}.dump"
    command, env = _pg_dump_command(target)
    try:
        result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=PG_DUMP_TIMEOUT_SECONDS)
        error = result.stderr.strip() if result.returncode else ""
    except subprocess.TimeoutExpired:
        error = f"pg_dump did not finish within {PG_DUMP_TIMEOUT_SECONDS} s"
    if error:
        target.unlink(missing_ok=True)
        BackupRecord.objects.create(
            started_at=started_at, finished_at=timezone.now(), status=BackupRecord.Status.FAILED, error=error[:5000]
        )
        raise BackupError(f"pg_dump failed: {error}")
    return BackupRecord.objects.create(
        started_at=started_at,
        finished_at=timezone.now(),
        status=BackupRecord.Status.SUCCEEDED,
        path=str(target),
        size_bytes=target.stat().st_size,
    )


def prune_backups(directory: Path | None = None, *, keep: int | None = None) -> list[Path]:
    """Deletes all but the newest `keep` dumps (default AIPROD_BACKUP_KEEP)
    that this command wrote to `directory`; their records stay as history.
    Returns the deleted paths, oldest first."""
    keep = settings.AIPROD_BACKUP_KEEP if keep is None else keep
    if keep < 1:
        raise BackupError("keep must be at least 1: pruning must never delete the newest backup")
    directory = Path(directory or settings.AIPROD_BACKUP_DIR)
    # The names carry a sortable UTC timestamp, so name order is age order.
    dumps = sorted(directory.glob("aiprod-*.dump"))
    doomed = dumps[:-keep]
    for path in doomed:
        path.unlink(missing_ok=True)
    return doomed
