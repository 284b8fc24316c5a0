"""Where a job's files live: Django's storage API (a local directory by
default, an S3-compatible bucket when scaled out), plus local scratch space.

Names: `jobs/<job id>/input.<ext>` (uploads), `jobs/<job id>/output/<file>`.
Scratch (uploads in flight, downloads, processor output) lives under
AIPROD_JOB_WORK_DIR, by default `<MEDIA_ROOT>/.work`, on the same file system
as local storage so a finished file is renamed into place, not copied.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Iterator

from django.conf import settings
from django.core.files import File
from django.core.files.storage import default_storage

logger = logging.getLogger(__name__)


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


def input_name(job_id: str, extension: str) -> str:
    return f"jobs/{job_id}/input.{extension or 'bin'}"


def output_name(job_id: str, filename: str) -> str:
    return f"jobs/{job_id}/output/{os.path.basename(filename)}"


class _LocalFile(File):
    """A finished local file; FileSystemStorage moves it instead of copying."""

    def __init__(self, path: str):
        super().__init__(open(path, "rb"), name=os.path.basename(path))
        self._path = path

    def temporary_file_path(self) -> str:
        return self._path


def save_local_file(name: str, path: str) -> str:
    """Puts the local file at `path` into storage as `name` (moved when the
    storage is local). Returns the stored name (storage may alter it)."""
    content = _LocalFile(path)
    try:
        return default_storage.save(name, content)
    finally:
        content.close()


@contextlib.contextmanager
def local_copy(name: str, work_dir: str) -> Iterator[str]:
    """A local path with the stored file's bytes: the file itself for local
    storage, else a copy in `work_dir`."""
    try:
        path = default_storage.path(name)
    except NotImplementedError:
        path = None
    if path is not None:
        # Only the storage lookup is guarded: an exception raised in the
        # caller's `with` block propagates as itself.
        yield path
        return
    target = os.path.join(work_dir, "input" + os.path.splitext(name)[1])
    with default_storage.open(name, "rb") as src, open(target, "wb") as dst:
        shutil.copyfileobj(src, dst, 1024 * 1024)
    yield target


def open_stored(name: str):
    return default_storage.open(name, "rb")


def stored_exists(name: str) -> bool:
    return bool(name) and default_storage.exists(name)


def delete_files(names: list[str]) -> None:
    """Deletes stored files, ignoring ones already gone (runs after commit)."""
    for name in names:
        if not name:
            continue
        try:
            default_storage.delete(name)
        except OSError:
            logger.warning("could not delete stored file %s", name, exc_info=True)


def delete_job_files(job_id: str, names: list[str]) -> None:
    """Deletes a job's stored files and, for local storage, its directory."""
    delete_files(names)
    try:
        directory = default_storage.path(f"jobs/{job_id}")
    except NotImplementedError:
        return
    shutil.rmtree(directory, ignore_errors=True)
