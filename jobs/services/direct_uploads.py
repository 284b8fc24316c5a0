"""Direct uploads (POST /uploads), like Mux direct uploads and S3 presigned posts.

`POST /uploads` reserves a job id and answers where to PUT the file: a
presigned PUT to the bucket (the bytes never touch an API server), or, on
local storage, a signed URL of our own that takes the PUT as a stream
(`PUT /uploads/{id}/content?token=`). `POST /jobs` with `upload_id` then
creates the job whose input is that file. Each upload makes one job.

The worker checks the file when it runs the job (check_arrived): missing,
or larger than `max_size_bytes` (the kind's limit, capped for free tiers),
fails the job with INVALID_INPUT. The bytes count against the data quota
then, once (a retried job does not pay again).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Callable
from urllib.parse import urlencode

from django.conf import settings
from django.core import signing
from django.db import models, transaction
from django.utils import timezone

from core.errors import ApplicationError, ValidationFailed, not_found
from core.ids import new_job_id
from jobs import sniff
from jobs.models import Job, Upload
from jobs.processing_errors import ProcessingError
from jobs.services import scratch, storage
from jobs.services.create import StoredUpload, create_job
from jobs.services.upload import CHUNK_SIZE, _claimed_extension, claimed_kind, format_size
from jobs.services.upload_writer import UploadWriter
from accounts.plans import PAID_TIERS
from quotas.services import DataMeter, QuotaExceeded

_SALT = "jobs.direct-upload"
METHOD = "PUT"


def max_size_for(account, kind: str) -> int:
    """The kind's limit; free tiers also AIPROD_JOB_STREAM_FREE_MAX_BYTES."""
    limit = sniff.KIND_LIMITS[kind]
    if account.tier not in PAID_TIERS:
        limit = min(limit, settings.AIPROD_JOB_STREAM_FREE_MAX_BYTES)
    return limit


def create_upload(account, *, livemode: bool, filename: str, content_type: str | None,
                  base_url: str = "") -> tuple[Upload, dict]:
    """A new upload and the answer for the client: {"upload_url", "method",
    "headers", "expires_at", "max_size_bytes"}. 422 UNSUPPORTED_INPUT when
    neither the filename nor the Content-Type names an accepted kind."""
    kind = claimed_kind(filename, content_type)
    content_type = sniff.normalize_content_type(content_type) or ""
    job_id = new_job_id()
    now = timezone.now()
    upload = Upload.objects.create(
        account=account, livemode=livemode, job_id=job_id, filename=filename, content_type=content_type,
        kind=kind, storage_name=storage.input_name(job_id, _claimed_extension(filename)),
        max_size_bytes=max_size_for(account, kind), created_at=now,
        expires_at=now + timedelta(seconds=settings.AIPROD_UPLOAD_URL_EXPIRY),
    )
    if storage.is_remote():
        url, headers = storage.presigned_put(upload.storage_name, content_type=content_type or "application/octet-stream",
                                             expires_in=settings.AIPROD_UPLOAD_URL_EXPIRY)
    else:
        token = signing.TimestampSigner(salt=_SALT).sign(upload.pk)
        base = settings.AIPROD_JOB_PUBLIC_URL or base_url
        url = f"{base}/uploads/{upload.pk}/content?{urlencode({'token': token})}"
        headers = {"Content-Type": content_type or "application/octet-stream"}
    return upload, {"upload_url": url, "method": METHOD, "headers": headers}


def _invalid_link() -> ApplicationError:
    return ApplicationError(403, "INVALID_SIGNATURE", "This upload link is not valid")


def receive_put(upload_id: str, token: str, read: Callable[[int], bytes], *, content_length: int | None) -> Upload:
    """PUT /uploads/{id}/content on local storage: the body streamed into
    the upload's file (1 MiB chunks), at most max_size_bytes (413). A new
    PUT replaces the file until a job uses it. 403 for a bad or expired
    token, 409 UPLOAD_USED once a job has it."""
    try:
        signed_id = signing.TimestampSigner(salt=_SALT).unsign(token, max_age=settings.AIPROD_UPLOAD_URL_EXPIRY)
    except signing.SignatureExpired:
        raise ApplicationError(403, "LINK_EXPIRED", "This upload link has expired. Create a new upload") from None
    except signing.BadSignature:
        raise _invalid_link() from None
    if signed_id != upload_id:
        raise _invalid_link()
    upload = Upload.objects.filter(pk=upload_id).first()
    if upload is None:  # a genuine link whose upload is gone (its job deleted)
        raise not_found("Upload")
    if upload.used_at is not None:
        raise ApplicationError(409, "UPLOAD_USED", f"This upload is already the input of job {upload.job_id}")
    too_large = ApplicationError(413, "PAYLOAD_TOO_LARGE",
                                 f"Input exceeds the {format_size(upload.max_size_bytes)} limit of this upload")
    if content_length is not None and content_length > upload.max_size_bytes:
        raise too_large
    work_dir = scratch.make_work_dir(upload.job_id)
    writer = UploadWriter(upload.storage_name, work_dir, content_type=upload.content_type,
                                  filename=upload.filename)
    try:
        total = 0
        while chunk := read(CHUNK_SIZE):
            total += len(chunk)
            if total > upload.max_size_bytes:
                raise too_large
            writer.write(chunk)
        if total == 0:
            raise ValidationFailed({"body": ["The request body is empty: send the file's bytes"]})
        storage.delete_files([upload.storage_name])  # a second PUT replaces the first
        writer.commit()
        writer = None
    finally:
        if writer is not None:
            writer.abort()
        scratch.remove_work_dir(work_dir)
    return upload


def create_job_from_upload_id(account, *, livemode: bool, upload_id: str, **job_fields) -> Job:
    """POST /jobs with `upload_id`: the job gets the upload's reserved id
    and file. 400 for an unknown (or another account's) upload, 409
    UPLOAD_USED for one a job already has. The file itself is checked when
    the job runs (check_arrived)."""
    with transaction.atomic():
        upload = (Upload.objects.select_for_update()
                  .filter(pk=upload_id, account=account, livemode=livemode).first())
        if upload is None:
            raise ValidationFailed({"upload_id": ["No such upload: create one with POST /uploads"]})
        if upload.used_at is not None:
            raise ApplicationError(409, "UPLOAD_USED", f"This upload is already the input of job {upload.job_id}")
        stored = StoredUpload(job_id=upload.job_id, storage_name=upload.storage_name, filename=upload.filename,
                              content_type=upload.content_type, kind=upload.kind, size_bytes=None)
        job = create_job(account, livemode=livemode, upload=stored, **job_fields)
        Upload.objects.filter(pk=upload.pk).update(used_at=timezone.now())
    return job


def check_arrived(job: Job) -> None:
    """For a job made from a direct upload (no-op otherwise): fails it with
    INVALID_INPUT when the file never arrived or is over the upload's
    max_size_bytes (the file is deleted), else counts its bytes against the
    data quota, once across attempts."""
    upload = Upload.objects.filter(job_id=job.pk).first()
    if upload is None:
        return
    size = storage.stored_size(job.input_file)
    if size is None:
        raise ProcessingError(
            "INVALID_INPUT", "Invalid input: the upload never arrived. PUT the file to upload_url before it "
            "expires, then create the job"
        )
    if size > upload.max_size_bytes:
        storage.delete_files([job.input_file])
        raise ProcessingError(
            "INVALID_INPUT", f"Invalid input: the upload is {format_size(size)}, over the "
            f"{format_size(upload.max_size_bytes)} limit for {upload.kind} files on your plan"
        )
    meter = DataMeter(job.account, livemode=job.livemode, already_counted=job.data_bytes_counted,
                      on_counted=lambda total: Job.objects.filter(pk=job.pk).update(data_bytes_counted=total))
    try:
        meter.finish(size)
    except QuotaExceeded as exc:
        raise ProcessingError(exc.code, exc.message) from None


def prune_expired_uploads(*, now=None) -> int:
    """Deletes direct uploads no job used whose URL expired over a day ago,
    with any file PUT there, and the rows of uploads whose job was deleted
    (its files went with it) (`manage.py prune`). Returns how many."""
    cutoff = (now or timezone.now()) - timedelta(days=1)
    removed = 0
    for upload in Upload.objects.filter(used_at__isnull=True, expires_at__lt=cutoff)[:1000]:
        storage.delete_job_files(upload.job_id, [upload.storage_name])
        removed += Upload.objects.filter(pk=upload.pk, used_at__isnull=True).delete()[0]
    jobs = Job.objects.filter(pk=models.OuterRef("job_id"))
    orphans = Upload.objects.filter(used_at__isnull=False, expires_at__lt=cutoff).exclude(models.Exists(jobs))
    removed += orphans.delete()[0]
    return removed
