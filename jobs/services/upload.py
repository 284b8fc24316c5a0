"""POST /jobs/stream: the request body streamed to storage, never held in memory.

With a bucket the body goes up as a multipart upload while it arrives (one
5 MiB part in memory at a time); a private scratch copy serves the sniffing.

The body is read in fixed 1 MiB chunks straight into a scratch file. The size
limit of the input's kind (jobs.sniff.KIND_LIMITS; kind from the filename's
extension, else the Content-Type) is enforced from Content-Length before a
byte is read AND while reading (a chunked body has no Content-Length; a
client may lie). Bodies over AIPROD_JOB_STREAM_FREE_MAX_BYTES need a paid
tier. Bytes read count against the data quota as they arrive. Once complete,
the bytes are sniffed: a kind other than the one claimed is refused. Every
refusal deletes what was written.
"""

from __future__ import annotations

import os
from typing import Callable

from django.conf import settings

from core.errors import ApplicationError, ValidationFailed
from core.ids import new_job_id
from jobs import sniff
from jobs.processing_errors import ProcessingError
from jobs.services import scratch, storage
from jobs.services.create import StoredUpload, check_before_upload, create_job, duplicate_job, name_taken
from jobs.services.upload_writer import UploadWriter
from accounts.plans import PAID_TIERS
from quotas.services import DataMeter, QuotaExceeded

CHUNK_SIZE = 1024 * 1024


def format_size(n: int) -> str:
    for unit, size in (("GB", 1024**3), ("MB", 1024**2), ("KB", 1024)):
        if n >= size:
            value = n / size
            return f"{value:.0f} {unit}" if value.is_integer() else f"{value:.1f} {unit}"
    return f"{n} bytes"


def _too_large(kind: str, limit: int) -> ApplicationError:
    return ApplicationError(
        413, "PAYLOAD_TOO_LARGE", f"Input exceeds the {format_size(limit)} limit for {kind} files"
    )


def _tier_required(limit: int) -> ApplicationError:
    return ApplicationError(
        403,
        "TIER_REQUIRED",
        f"Uploads over {format_size(limit)} need the Pro or Enterprise plan. Upgrade your account tier",
    )


def _unsupported(detail: str = "") -> ApplicationError:
    return ApplicationError(422, "UNSUPPORTED_INPUT", "Unsupported Content-Type" + (f": {detail}" if detail else ""))


def claimed_kind(filename: str, content_type: str | None) -> str:
    """The kind the upload claims (extension first, then Content-Type); 422 when neither names one."""
    kind = sniff.kind_for_filename(filename) or sniff.kind_for_content_type(content_type)
    if kind is None:
        raise _unsupported(
            "name the file with its extension (e.g. clip.mp4) or send the file's Content-Type; "
            "accepted: MP4, WebM, AVI, MOV, MKV, MP3, WAV, OGG, FLAC, AAC, JPEG, PNG, WebP, GIF, PDF, DOCX, TXT, JSON"
        )
    return kind


def receive_upload(read: Callable[[int], bytes], *, account, livemode: bool, filename: str,
                   content_type: str | None, content_length: int | None) -> StoredUpload:
    """Streams the body into storage and returns it, sniffed. Raises 413
    PAYLOAD_TOO_LARGE, 403 TIER_REQUIRED, 422 QUOTA_EXCEEDED, 422
    UNSUPPORTED_INPUT, 400 for an empty or cut-short body.

    Side effects: data quota counted for every byte read; a stored file
    `jobs/<id>/input.<ext>` (the caller deletes it if the job is not created).
    """
    kind = claimed_kind(filename, content_type)
    limit = sniff.KIND_LIMITS[kind]
    tier_cap = None if account.tier in PAID_TIERS else settings.AIPROD_JOB_STREAM_FREE_MAX_BYTES
    if content_length is not None:
        if content_length > limit:
            raise _too_large(kind, limit)
        if tier_cap is not None and content_length > tier_cap:
            raise _tier_required(tier_cap)
    job_id = new_job_id()
    work_dir = scratch.make_work_dir(job_id)
    writer = None
    try:
        # With a bucket the object's name is fixed before the bytes arrive:
        # its extension is the claimed one (the sniffed kind must match it).
        writer = UploadWriter(storage.input_name(job_id, _claimed_extension(filename)), work_dir,
                                      content_type=content_type or "", filename=filename)
        meter = DataMeter(account, livemode=livemode)
        total = 0
        while True:
            chunk = read(CHUNK_SIZE)
            if not chunk:
                break
            total += len(chunk)
            if total > limit:
                raise _too_large(kind, limit)
            if tier_cap is not None and total > tier_cap:
                raise _tier_required(tier_cap)
            writer.write(chunk)
            meter(total)
        meter.finish(total)
        writer.finish_local()
        if total == 0:
            raise ValidationFailed({"body": ["The request body is empty: send the file's bytes"]})
        if content_length is not None and total < content_length:
            raise ValidationFailed({"body": [f"The body ended after {total} of {content_length} bytes"]})
        try:
            sniffed = sniff.sniff(writer.path, filename=filename, declared_content_type=content_type)
        except ProcessingError:
            raise _unsupported() from None
        if sniffed.kind != kind:
            raise _unsupported(f"the bytes are {sniffed.content_type}, not the {kind} the upload claims")
        stored = writer.commit(storage.input_name(job_id, sniffed.extension))
        writer = None
    except QuotaExceeded as exc:
        raise ApplicationError(422, exc.code, exc.message) from None
    except storage.StorageUnavailable as exc:
        raise ApplicationError(503, exc.code, exc.message, headers={"Retry-After": "5"}) from None
    finally:
        if writer is not None:
            writer.abort()
        scratch.remove_work_dir(work_dir)
    return StoredUpload(job_id=job_id, storage_name=stored, filename=filename, content_type=sniffed.content_type,
                        kind=sniffed.kind, size_bytes=total)


def _claimed_extension(filename: str) -> str:
    extension = os.path.splitext(filename)[1].lstrip(".").lower()
    return extension if extension.isalnum() and len(extension) <= 8 else "bin"


def _default_name(filename: str, job_id: str) -> str:
    suffix = f" ({job_id})"
    return filename[: 255 - len(suffix)] + suffix


def create_job_from_upload(read: Callable[[int], bytes], *, account, livemode: bool, filename: str,
                           content_type: str | None, content_length: int | None, name: str | None,
                           **job_fields):
    """POST /jobs/stream end to end: receive, then create_job(upload=...).

    `name` defaults to "<filename> (<job id>)", unique by construction. A
    taken name, a type that does not take the claimed kind, bad params, a bad
    webhook URL and a used-up job quota are refused before the body is read.
    The stored input is deleted when the job is not created.
    """
    if name and name_taken(account, livemode=livemode, name=name):
        raise duplicate_job()
    check_before_upload(account, livemode=livemode, kind=claimed_kind(filename, content_type),
                        type=job_fields.get("type"), params=job_fields.get("params"),
                        webhook_url=job_fields.get("webhook_url"))
    upload = receive_upload(read, account=account, livemode=livemode, filename=filename,
                            content_type=content_type, content_length=content_length)
    try:
        return create_job(
            account, livemode=livemode, name=name or _default_name(filename, upload.job_id), upload=upload, **job_fields
        )
    except BaseException:
        storage.delete_job_files(upload.job_id, [upload.storage_name])
        raise
