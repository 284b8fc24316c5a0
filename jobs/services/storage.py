"""Where a job's files live: Django's storage API (a local directory by
default, an S3-compatible bucket when AIPROD_S3_BUCKET is set), plus local
scratch space.

Names: `jobs/<job id>/input.<ext>` (uploads), `jobs/<job id>/output/<file>`,
`uploads/<upload id>` (direct uploads, jobs/services/direct_uploads.py).
Scratch space (uploads in flight, downloads, processor output) is
jobs/services/scratch.py; a file stored while it arrives, jobs/services/upload_writer.py.

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
        s3_client()


def backend_name() -> str:
    return "s3" if is_remote() else "local"


def s3_client():
    """(boto3 client, bucket name, key-of(name)) of the S3 storage."""
    from storages.utils import clean_name

    st = storages["default"]
    return st.connection.meta.client, st.bucket_name, lambda name: st._normalize_name(clean_name(name))


def s3_errors():
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


def content_disposition(filename: str) -> str:
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
        client, bucket, key = s3_client()
        extra = {"ContentType": content_type or "application/octet-stream",
                 "ContentDisposition": content_disposition(filename or os.path.basename(name))}
        discard = on_late or (lambda late_name: delete_files([late_name]))
        try:
            if stop_at is None:
                client.upload_file(path, bucket, key(name), ExtraArgs=extra)
            else:
                _until(lambda: client.upload_file(path, bucket, key(name), ExtraArgs=extra),
                       stop_at=stop_at, keep_going=keep_going, tick=tick, on_late=lambda: discard(name), what=name)
        except s3_errors():
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
    client, bucket, key = s3_client()
    try:
        client.download_file(bucket, key(name), target)
    except s3_errors() as exc:
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
        client, bucket, key = s3_client()
        try:
            return client.head_object(Bucket=bucket, Key=key(name))["ContentLength"]
        except s3_errors() as exc:
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
    client, bucket, key = s3_client()
    return client.generate_presigned_url("get_object", Params={
        "Bucket": bucket, "Key": key(name),
        "ResponseContentType": content_type or "application/octet-stream",
        "ResponseContentDisposition": content_disposition(filename),
    }, ExpiresIn=settings.AIPROD_S3_URL_EXPIRY)


def presigned_put(name: str, *, content_type: str, expires_in: int) -> tuple[str, dict]:
    """(URL, headers the client must send) of a presigned PUT of `name`."""
    client, bucket, key = s3_client()
    url = client.generate_presigned_url("put_object", Params={
        "Bucket": bucket, "Key": key(name), "ContentType": content_type,
    }, ExpiresIn=expires_in)
    return url, {"Content-Type": content_type}


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
    client, bucket, key = s3_client()
    try:
        pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=key(prefix.rstrip("/")) + "/")
        for page in pages:
            objects = [{"Key": item["Key"]} for item in page.get("Contents", [])]
            if objects:
                client.delete_objects(Bucket=bucket, Delete={"Objects": objects, "Quiet": True})
    except s3_errors():
        logger.warning("could not delete the objects under %s", prefix, exc_info=True)
