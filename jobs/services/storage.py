"""Where a job's files live: Django's storage API (a local directory by
default, an S3-compatible bucket when AIPROD_S3_BUCKET is set), plus local
scratch space.

Names: `jobs/<job id>/input.<ext>` (uploads), `jobs/<job id>/output/<file>`,
`uploads/<upload id>` (direct uploads, jobs/services/direct_uploads.py).
Scratch (uploads in flight, downloads, processor output) lives under
AIPROD_JOB_WORK_DIR, by default `<MEDIA_ROOT>/.work`, on the same file system
as local storage so a finished file is renamed into place, not copied. It is
private to the process: with a bucket, nothing here is read by another node.

With a bucket: uploads go up as a multipart upload while they arrive
(UploadWriter), workers download inputs into scratch and upload outputs
with their Content-Type and Content-Disposition, downloads are presigned
URLs, deleting a job deletes every object under its prefix. A bucket that
does not answer raises StorageUnavailable (503 in the API, a failed job with
STORAGE_UNAVAILABLE in the worker; the stored input stays for a retry).
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import tempfile
import threading
import time
from pathlib import Path
from typing import Iterator

from django.conf import settings
from django.core.files import File
from django.core.files.storage import FileSystemStorage, default_storage, storages

from jobs.processing_errors import ProcessingError

logger = logging.getLogger(__name__)

STORAGE_UNAVAILABLE = "STORAGE_UNAVAILABLE"
PART_SIZE = 5 * 1024 * 1024  # multipart part size (S3's minimum): the most an upload holds in memory


class StorageUnavailable(ProcessingError):
    """The object store did not answer (or refused us). Workers fail the job
    with this code; the API answers 503 with it."""

    def __init__(self, doing: str):
        super().__init__(
            STORAGE_UNAVAILABLE,
            f"Storage unavailable: could not {doing}. Retry in a moment",
        )


def is_remote() -> bool:
    """True when job files live in an object store (not a local directory)."""
    return not isinstance(storages["default"], FileSystemStorage)


def warm_up() -> None:
    """Makes the bucket's client now (no request is sent): its models cost
    ~13 MB once per process, which belongs to startup, not to an upload."""
    if is_remote():
        _s3()


def backend_name() -> str:
    return "s3" if is_remote() else "local"


def _s3():
    """(boto3 client, bucket name, key-of(name)) of the S3 storage."""
    from storages.utils import clean_name

    st = storages["default"]
    return st.connection.meta.client, st.bucket_name, lambda name: st._normalize_name(clean_name(name))


def _s3_errors():
    from boto3.exceptions import S3TransferFailedError, S3UploadFailedError
    from botocore.exceptions import BotoCoreError, ClientError

    return (BotoCoreError, ClientError, S3UploadFailedError, S3TransferFailedError)


def _not_found(exc) -> bool:
    code = str(getattr(exc, "response", {}).get("Error", {}).get("Code", ""))
    return code in ("404", "NoSuchKey", "NotFound")


_probe = {}


def _probe_client():
    """A client that gives up within seconds (health checks must not hang)."""
    from botocore.config import Config

    st = storages["default"]
    if _probe.get("storage") is not st:
        _probe["client"] = st._create_session().client(
            "s3", region_name=st.region_name, endpoint_url=st.endpoint_url, verify=st.verify,
            config=st.client_config.merge(Config(connect_timeout=2, read_timeout=2, retries={"max_attempts": 1})),
        )
        _probe["storage"] = st
    return _probe["client"]


def check_backend() -> dict:
    """{"backend", "status", "latency_ms"}: whether the store answers (one
    HEAD of the bucket, or the directory is writable)."""
    started = time.perf_counter()
    if not is_remote():
        root = Path(settings.MEDIA_ROOT)
        while not root.exists() and root != root.parent:
            root = root.parent
        ok = os.access(root, os.W_OK)
    else:
        try:
            _probe_client().head_bucket(Bucket=storages["default"].bucket_name)
            ok = True
        except Exception:  # any boto/connection error: the bucket does not answer
            logger.warning("object store check failed", exc_info=True)
            ok = False
    return {
        "backend": backend_name(),
        "status": "healthy" if ok else "down",
        "latency_ms": round((time.perf_counter() - started) * 1000, 1) if ok else None,
    }


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


def _disposition(filename: str) -> str:
    from django.utils.http import content_disposition_header

    return content_disposition_header(True, filename)


class StoreAbandoned(Exception):
    """save_local_file stopped waiting for the object store (its `stop_at`
    passed, or `keep_going` said stop). The upload may still finish in the
    background: then `on_late` decides about the object."""


def save_local_file(name: str, path: str, *, content_type: str = "", filename: str = "",
                    stop_at: float | None = None, keep_going=None, tick: float = 1.0, on_late=None) -> str:
    """Puts the local file at `path` into storage as `name` (moved when the
    storage is local; uploaded with its Content-Type and an attachment
    Content-Disposition to a bucket). Returns the stored name (storage may
    alter it).

    With `stop_at` (a time.monotonic() deadline), an upload to a bucket runs
    in a thread and this call waits for it only until `stop_at`, asking
    `keep_going()` about once every `tick` seconds meanwhile — whether or
    not bytes move (a stalled or trickling store) — and raises
    StoreAbandoned when either says stop. An upload that still succeeds
    after that calls `on_late(name)` from its thread (or, without one,
    deletes the object): nobody is waiting for it any more."""
    if is_remote():
        client, bucket, key = _s3()
        extra = {"ContentType": content_type or "application/octet-stream",
                 "ContentDisposition": _disposition(filename or os.path.basename(name))}
        discard = on_late or (lambda late_name: delete_files([late_name]))
        try:
            if stop_at is None:
                client.upload_file(path, bucket, key(name), ExtraArgs=extra)
            else:
                _until(lambda: client.upload_file(path, bucket, key(name), ExtraArgs=extra),
                       stop_at=stop_at, keep_going=keep_going, tick=tick, on_late=lambda: discard(name), what=name)
        except _s3_errors():
            logger.warning("upload of %s failed", name, exc_info=True)
            raise StorageUnavailable("write the file to the object store") from None
        return name
    content = _LocalFile(path)
    try:
        return default_storage.save(name, content)
    finally:
        content.close()


def _until(call, *, stop_at: float, keep_going, tick: float, on_late, what: str) -> None:
    """Runs `call()` in a thread, waiting until `stop_at` at most (see
    save_local_file); its exception, if any, is raised here."""
    done = threading.Event()
    lock = threading.Lock()
    state: dict = {"abandoned": False}

    def body() -> None:
        try:
            call()
        except BaseException as exc:  # handed to the waiting thread
            state["error"] = exc
        with lock:
            done.set()
            late = state["abandoned"] and "error" not in state
        if late:
            logger.warning("upload of %s finished after its deadline; discarding it", what)
            try:
                on_late()
            except Exception:
                logger.exception("could not discard the late upload of %s", what)

    threading.Thread(target=body, name=f"store {what}", daemon=True).start()
    while not done.wait(max(0.0, min(tick, stop_at - time.monotonic()))):
        if time.monotonic() >= stop_at or (keep_going is not None and not keep_going()):
            with lock:
                if not done.is_set():
                    state["abandoned"] = True
                    raise StoreAbandoned(what)
            break
    if "error" in state:
        raise state["error"]


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
    client, bucket, key = _s3()
    try:
        client.download_file(bucket, key(name), target)
    except _s3_errors() as exc:
        if _not_found(exc):
            raise ProcessingError("INVALID_INPUT", "Invalid input: the stored input file is missing") from None
        logger.warning("download of %s failed", name, exc_info=True)
        raise StorageUnavailable("read the input from the object store") from None
    yield target


def open_stored(name: str):
    return default_storage.open(name, "rb")


def stored_size(name: str) -> int | None:
    """The stored file's size, None when there is no such file."""
    if not name:
        return None
    if is_remote():
        client, bucket, key = _s3()
        try:
            return client.head_object(Bucket=bucket, Key=key(name))["ContentLength"]
        except _s3_errors() as exc:
            if _not_found(exc):
                return None
            raise StorageUnavailable("reach the object store") from None
    try:
        return default_storage.size(name)
    except FileNotFoundError:
        return None


def stored_exists(name: str) -> bool:
    return stored_size(name) is not None


def download_url(name: str, *, filename: str, content_type: str) -> str | None:
    """A presigned GET of the object (AIPROD_S3_URL_EXPIRY seconds) whose
    response carries `content_type` and an attachment disposition; None for
    local storage (the API streams the file itself)."""
    if not is_remote():
        return None
    client, bucket, key = _s3()
    return client.generate_presigned_url("get_object", Params={
        "Bucket": bucket, "Key": key(name),
        "ResponseContentType": content_type or "application/octet-stream",
        "ResponseContentDisposition": _disposition(filename),
    }, ExpiresIn=settings.AIPROD_S3_URL_EXPIRY)


def presigned_put(name: str, *, content_type: str, expires_in: int) -> tuple[str, dict]:
    """(URL, headers the client must send) of a presigned PUT of `name`."""
    client, bucket, key = _s3()
    url = client.generate_presigned_url("put_object", Params={
        "Bucket": bucket, "Key": key(name), "ContentType": content_type,
    }, ExpiresIn=expires_in)
    return url, {"Content-Type": content_type}


class UploadWriter:
    """A stored file written as its bytes arrive, also kept in a private
    scratch file (`path`) for sniffing. Local storage: the scratch file is
    moved into place on commit(). Bucket: a multipart upload, one PART_SIZE
    part at a time while the bytes arrive; commit() completes it, abort()
    (or a failed commit) leaves nothing behind."""

    def __init__(self, name: str, work_dir: str, *, content_type: str = "", filename: str = ""):
        self.name = name
        self.path = os.path.join(work_dir, "upload")
        self._file = open(self.path, "wb")
        self._remote = is_remote()
        self._part_start = 0  # offset in the scratch file of the bytes not yet sent
        self._pending = 0
        self._parts: list[dict] = []
        self._upload_id = None
        if self._remote:
            self._client, self._bucket, key = _s3()
            self._key = key(name)
            try:
                self._upload_id = self._client.create_multipart_upload(
                    Bucket=self._bucket, Key=self._key, ContentType=content_type or "application/octet-stream",
                    ContentDisposition=_disposition(filename or os.path.basename(name)),
                )["UploadId"]
            except _s3_errors():
                self._file.close()
                raise StorageUnavailable("start the upload to the object store") from None

    def write(self, chunk: bytes) -> None:
        self._file.write(chunk)
        if self._remote:
            self._pending += len(chunk)
            if self._pending >= PART_SIZE:
                self._send_part()

    def _send_part(self) -> None:
        # Read back from the scratch file: one part in memory, no second copy.
        self._file.flush()
        with open(self.path, "rb") as f:
            f.seek(self._part_start)
            body = f.read(self._pending)
        self._part_start += self._pending
        self._pending = 0
        number = len(self._parts) + 1
        try:
            answer = self._client.upload_part(
                Bucket=self._bucket, Key=self._key, UploadId=self._upload_id, PartNumber=number, Body=body
            )
        except _s3_errors():
            logger.warning("upload part %s of %s failed", number, self.name, exc_info=True)
            raise StorageUnavailable("write the upload to the object store") from None
        self._parts.append({"PartNumber": number, "ETag": answer["ETag"]})

    def finish_local(self) -> None:
        """Flushes the scratch file (call before sniffing `path`)."""
        self._file.flush()

    def commit(self, local_name: str | None = None) -> str:
        """The stored name: `local_name` (default the initial name) for local
        storage, the initial name for a bucket."""
        if not self._remote:
            self._file.close()
            return save_local_file(local_name or self.name, self.path)
        if self._pending or not self._parts:
            self._send_part()
        self._file.close()
        try:
            self._client.complete_multipart_upload(
                Bucket=self._bucket, Key=self._key, UploadId=self._upload_id, MultipartUpload={"Parts": self._parts}
            )
        except _s3_errors():
            raise StorageUnavailable("finish the upload to the object store") from None
        self._upload_id = None
        return self.name

    def abort(self) -> None:
        self._file.close()
        if self._remote and self._upload_id:
            try:
                self._client.abort_multipart_upload(Bucket=self._bucket, Key=self._key, UploadId=self._upload_id)
            except _s3_errors():
                logger.warning("could not abort the upload of %s", self.name, exc_info=True)
            self._upload_id = None


def delete_files(names: list[str]) -> None:
    """Deletes stored files, ignoring ones already gone (runs after commit)."""
    for name in names:
        if not name:
            continue
        try:
            default_storage.delete(name)
        except OSError:
            logger.warning("could not delete stored file %s", name, exc_info=True)
        except Exception:  # an object store that does not answer: logged, the row goes anyway
            if not is_remote():
                raise
            logger.warning("could not delete stored object %s", name, exc_info=True)


def delete_job_files(job_id: str, names: list[str]) -> None:
    """Deletes a job's stored files and, for local storage, its directory;
    with a bucket, every object under `jobs/<id>/`."""
    delete_files(names)
    if is_remote():
        _delete_prefix(f"jobs/{job_id}/")
        return
    try:
        directory = default_storage.path(f"jobs/{job_id}")
    except NotImplementedError:
        return
    shutil.rmtree(directory, ignore_errors=True)


def _delete_prefix(prefix: str) -> None:
    client, bucket, key = _s3()
    try:
        pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=key(prefix.rstrip("/")) + "/")
        for page in pages:
            objects = [{"Key": item["Key"]} for item in page.get("Contents", [])]
            if objects:
                client.delete_objects(Bucket=bucket, Delete={"Objects": objects, "Quiet": True})
    except _s3_errors():
        logger.warning("could not delete the objects under %s", prefix, exc_info=True)
