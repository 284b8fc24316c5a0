"""Private scratch space: uploads in flight, downloads, processor output.

It lives under AIPROD_JOB_WORK_DIR, by default `<MEDIA_ROOT>/.work`, on the
same file system as local storage so a finished file is renamed into place,
not copied. It is private to the process: with a bucket, nothing here is read
by another node.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import time
from pathlib import Path

from django.conf import settings


def work_root() -> Path:
    root = Path(settings.AIPROD_JOB_WORK_DIR or Path(settings.MEDIA_ROOT) / ".work")
    root.mkdir(parents=True, exist_ok=True)
    return root


def make_work_dir(prefix: str) -> str:
    """A fresh private scratch directory; the caller removes it (remove_work_dir)."""
    return tempfile.mkdtemp(prefix=f"{prefix}-", dir=work_root())


def remove_work_dir(path: str | None) -> None:
    if path:
        shutil.rmtree(path, ignore_errors=True)


def remove_stale_work_dirs(older_than_seconds: float, *, now: float | None = None) -> int:
    """Removes scratch directories nothing has written to for
    `older_than_seconds`: what a killed worker or server left behind (a live
    job or upload writes into its directory, which keeps it fresh). Returns
    how many were removed."""
    now = time.time() if now is None else now
    removed = 0
    for entry in work_root().iterdir():
        try:
            if not entry.is_dir() or now - _last_write(entry) < older_than_seconds:
                continue
        except FileNotFoundError:  # removed meanwhile by its owner
            continue
        shutil.rmtree(entry, ignore_errors=True)
        removed += 1
    return removed


def _last_write(directory: Path) -> float:
    newest = directory.stat().st_mtime
    for root, dirs, files in os.walk(directory):
        for name in files + dirs:
            with contextlib.suppress(FileNotFoundError):
                newest = max(newest, os.stat(os.path.join(root, name)).st_mtime)
    return newest
