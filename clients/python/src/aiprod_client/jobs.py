"""Jobs and uploads: create, read, list, cancel, retry, delete, wait, download, upload."""

from __future__ import annotations

import json
import os
import re
import time
import uuid
from pathlib import Path
from typing import IO, Any, Callable, Dict, Iterable, Mapping, Optional, Union
from urllib.parse import quote, unquote, urlsplit

from aiprod_client._http import Transport
from aiprod_client._pagination import ListIterator
from aiprod_client.errors import (
    DuplicateJobError,
    MethodNotAllowedError,
    NotFoundError,
    ValidationError,
    WaitTimeoutError,
    error_for,
)

FINAL_STATUSES = frozenset({"completed", "failed", "cancelled"})
CHUNK_SIZE = 256 * 1024

Progress = Callable[[int, Optional[int]], None]  # (bytes so far, total or None)
PathOrFile = Union[str, "os.PathLike[str]", IO[bytes]]


def _id(job_id: str) -> str:
    return quote(str(job_id), safe="")


def default_name(source: str) -> str:
    """A name for a job nobody named: the input's file name plus a short random
    suffix, because names are unique per account and month."""
    base = os.path.basename(urlsplit(source).path.rstrip("/")) or "job"
    return f"{unquote(base)[:200]} ({uuid.uuid4().hex[:8]})"


class Jobs:
    def __init__(self, transport: Transport):
        self._t = transport

    def create(
        self,
        input_url: Optional[str] = None,
        *,
        name: Optional[str] = None,
        type: Optional[str] = None,
        timeout: Optional[int] = None,
        webhook_url: Optional[str] = None,
        metadata: Optional[Mapping[str, str]] = None,
        params: Optional[Mapping[str, Any]] = None,
        upload_id: Optional[str] = None,
        idempotency_key: Optional[str] = None,
    ) -> Dict[str, Any]:
        """POST /jobs. ``name`` defaults to the input's file name plus a random
        suffix. Retried safely: the same Idempotency-Key goes with every attempt."""
        body: Dict[str, Any] = {"name": name or default_name(input_url or upload_id or "upload")}
        for field, value in (("input_url", input_url), ("upload_id", upload_id), ("type", type),
                             ("timeout", timeout), ("webhook_url", webhook_url), ("metadata", metadata),
                             ("params", params)):
            if value is not None:
                body[field] = value
        return self._t.json("POST", "/jobs", json_body=body, idempotency_key=idempotency_key)

    def get(self, job_id: str) -> Dict[str, Any]:
        return self._t.json("GET", f"/jobs/{_id(job_id)}")

    def list(
        self,
        *,
        status: Optional[str] = None,
        type: Optional[str] = None,
        name: Optional[str] = None,
        created_after: Optional[str] = None,
        created_before: Optional[str] = None,
        limit: int = 100,
        max_items: Optional[int] = None,
    ) -> ListIterator:
        """An iterator over every matching job, newest first (``limit`` per page)."""
        params = {"status": status, "type": type, "name": name, "created_after": created_after,
                  "created_before": created_before, "limit": limit}
        return ListIterator(self._t, "/jobs", params, max_items=max_items)

    def update(self, job_id: str, **fields: Any) -> Dict[str, Any]:
        """PATCH /jobs/{id}: ``name``, ``metadata``, ``webhook_url`` (or ``status="cancelled"``)."""
        return self._t.json("PATCH", f"/jobs/{_id(job_id)}", json_body=fields)

    def cancel(self, job_id: str) -> Dict[str, Any]:
        return self._t.json("POST", f"/jobs/{_id(job_id)}/cancel")

    def retry(self, job_id: str) -> Dict[str, Any]:
        return self._t.json("POST", f"/jobs/{_id(job_id)}/retry")

    def delete(self, job_id: str) -> None:
        self._t.request("DELETE", f"/jobs/{_id(job_id)}").close()

    def batch(self, ids: Iterable[str]) -> Dict[str, Any]:
        """POST /jobs/batch (Pro, Enterprise): ``{"data": [...], "not_found": [...]}``."""
        return self._t.json("POST", "/jobs/batch", json_body={"ids": list(ids)})

    def timeline(self, job_id: str) -> Dict[str, Any]:
        return self._t.json("GET", f"/jobs/{_id(job_id)}/timeline")

    def wait(
        self,
        job_id: str,
        *,
        timeout: Optional[float] = None,
        poll_interval: float = 1.0,
        max_poll_interval: float = 5.0,
        on_poll: Optional[Callable[[Dict[str, Any]], None]] = None,
    ) -> Dict[str, Any]:
        """Polls until the job is completed, failed or cancelled and returns it
        (a failed job is returned, not raised: look at ``job["error_code"]``).
        The interval grows by half each poll up to ``max_poll_interval``;
        ``WaitTimeoutError`` after ``timeout`` seconds."""
        deadline = None if timeout is None else time.monotonic() + timeout
        interval = poll_interval
        while True:
            job = self.get(job_id)
            if on_poll is not None:
                on_poll(job)
            if job.get("status") in FINAL_STATUSES:
                return job
            if deadline is not None and time.monotonic() + interval > deadline:
                raise WaitTimeoutError(f"Job {job_id} still {job.get('status')} after {timeout} s", job)
            self._t.sleep(interval)
            interval = min(max_poll_interval, interval * 1.5)

    def download(
        self,
        job_id: str,
        destination: Optional[PathOrFile] = None,
        *,
        on_progress: Optional[Progress] = None,
    ) -> Union[Path, IO[bytes]]:
        """Streams the output file (never whole in memory) to ``destination``: a
        file path, a directory (the server's file name is used), or a binary file
        object. Default: the server's file name in the current directory.
        Returns the path written (or the file object)."""
        response = self._t.request("GET", f"/jobs/{_id(job_id)}/output", stream=True,
                                   headers={"Accept": "*/*"})
        total = _int(response.headers.get("Content-Length"))
        try:
            if destination is not None and hasattr(destination, "write"):
                _copy(response, destination, total, on_progress)  # type: ignore[arg-type]
                return destination  # type: ignore[return-value]
            target = Path(os.fspath(destination)) if destination is not None else Path(".")
            if target.is_dir():
                target = target / _filename(response.headers.get("Content-Disposition"), job_id)
            partial = target.with_name(target.name + ".part")
            with open(partial, "wb") as out:
                _copy(response, out, total, on_progress)
            os.replace(partial, target)
            return target
        finally:
            response.close()


class Uploads:
    """Local files to jobs. The file is streamed in chunks from disk: memory
    stays flat whatever its size."""

    def __init__(self, transport: Transport, jobs: Jobs):
        self._t = transport
        self._jobs = jobs
        self._direct: Optional[bool] = None  # does the server offer POST /uploads?

    def upload(
        self,
        path_or_file: PathOrFile,
        *,
        filename: Optional[str] = None,
        name: Optional[str] = None,
        type: Optional[str] = None,
        timeout: Optional[int] = None,
        webhook_url: Optional[str] = None,
        params: Optional[Mapping[str, Any]] = None,
        on_progress: Optional[Progress] = None,
    ) -> Dict[str, Any]:
        """Uploads a file and creates its job; returns the job.

        Uses direct upload (``POST /uploads``, then the ``PUT``, then ``POST
        /jobs`` with ``upload_id``) where the server offers it, else streams the
        body to ``POST /jobs/stream``."""
        opened = None
        if hasattr(path_or_file, "read"):
            stream: IO[bytes] = path_or_file  # type: ignore[assignment]
            filename = filename or os.path.basename(getattr(stream, "name", "") or "") or "upload.bin"
        else:
            path = Path(os.fspath(path_or_file))  # type: ignore[arg-type]
            opened = stream = open(path, "rb")
            filename = filename or path.name
        try:
            size = _size(stream)
            body = ProgressReader(stream, size, on_progress)
            if self._direct is not False:
                job = self._try_direct(body, filename=filename, size=size, name=name, type=type,
                                       timeout=timeout, webhook_url=webhook_url, params=params)
                if job is not None:
                    return job
            return self._stream(body, filename=filename, size=size, name=name or default_name(filename), type=type,
                                timeout=timeout, webhook_url=webhook_url, params=params)
        finally:
            if opened is not None:
                opened.close()

    def _stream(self, body: "ProgressReader", *, filename: str, size: Optional[int], name: str,
                params: Optional[Mapping[str, Any]], **fields: Any) -> Dict[str, Any]:
        """POST /jobs/stream. The server keeps no Idempotency-Key for it, but a
        job name is unique per month: a resend after a lost answer gets
        DUPLICATE_JOB, and the job the first attempt made is returned."""
        query = {"filename": filename, "name": name, **fields,
                 "params": json.dumps(params) if params is not None else None}
        headers = {"Content-Type": "application/octet-stream"}
        if size is not None:
            headers["Content-Length"] = str(size)
        try:
            return self._t.json("POST", "/jobs/stream", params=query, data=body, headers=headers, resend_safe=True)
        except DuplicateJobError as exc:
            if exc.attempts == 1:
                raise  # the name was taken before this upload
            made = next(iter(self._jobs.list(name=name, max_items=1)), None)
            if made is None:
                raise
            return made

    def _try_direct(self, body: "ProgressReader", *, filename: str, size: Optional[int],
                    **job_fields: Any) -> Optional[Dict[str, Any]]:
        try:
            upload = self._t.json("POST", "/uploads", json_body={"filename": filename})
        except (NotFoundError, MethodNotAllowedError, ValidationError):
            # No direct uploads here (or another contract): stream instead, and stop asking.
            self._direct = False
            return None
        self._direct = True
        headers = dict(upload.get("headers") or {})
        if size is not None:
            headers.setdefault("Content-Length", str(size))
        # The upload URL is presigned: it carries its own credential, so no API key goes with it.
        response = self._t.session.request(upload.get("method", "PUT"), upload["upload_url"], data=body,
                                           headers=headers, timeout=self._t.timeout)
        if response.status_code >= 400:
            raise error_for(response.status_code, {"message": response.text[:500]}, response.headers)
        return self._jobs.create(upload_id=upload["id"], name=job_fields.pop("name") or default_name(filename),
                                 **{k: v for k, v in job_fields.items() if v is not None})


class ProgressReader:
    """A file wrapper that reports bytes read, so requests streams it in chunks
    (``read``) with a known length (``__len__``) and a progress bar can follow."""

    def __init__(self, stream: IO[bytes], size: Optional[int], on_progress: Optional[Progress]):
        self._stream = stream
        self._size = size
        self._on_progress = on_progress
        self.sent = 0

    def __len__(self) -> int:
        return self._size or 0

    def read(self, n: int = CHUNK_SIZE) -> bytes:
        chunk = self._stream.read(n if n and n > 0 else CHUNK_SIZE)
        self.sent += len(chunk)
        if self._on_progress is not None and chunk:
            self._on_progress(self.sent, self._size)
        return chunk

    def __iter__(self):
        while True:
            chunk = self.read(CHUNK_SIZE)
            if not chunk:
                return
            yield chunk

    def tell(self) -> int:
        return self._stream.tell()

    def seek(self, offset: int, whence: int = 0) -> int:
        position = self._stream.seek(offset, whence)
        self.sent = position
        return position


def _size(stream: IO[bytes]) -> Optional[int]:
    try:
        position = stream.tell()
        end = stream.seek(0, os.SEEK_END)
        stream.seek(position)
        return end - position
    except (OSError, AttributeError, ValueError):
        return None


def _int(value: Optional[str]) -> Optional[int]:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _copy(response, out: IO[bytes], total: Optional[int], on_progress: Optional[Progress]) -> None:
    done = 0
    for chunk in response.iter_content(CHUNK_SIZE):
        out.write(chunk)
        done += len(chunk)
        if on_progress is not None:
            on_progress(done, total)


def _filename(disposition: Optional[str], job_id: str) -> str:
    if disposition:
        match = re.search(r"filename\*=UTF-8''([^;]+)", disposition) or re.search(r'filename="?([^";]+)"?', disposition)
        if match:
            name = os.path.basename(unquote(match.group(1)).replace("\\", "/"))
            if name and name not in (".", ".."):
                return name
    return f"{job_id}-output"

