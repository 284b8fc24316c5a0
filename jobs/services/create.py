"""Creating a job: POST /jobs (URL input) and POST /jobs/stream (upload).

The rules of a job (docs/jobs.md) that need more than field validation live
here: the input URL's preflight, `auto` type resolution, params validation by
the type's params serializer (jobs/processors), the default timeout, the
monthly name uniqueness (a database constraint), the job quota,
Idempotency-Key, and queueing after commit.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from django.db import IntegrityError, transaction
from django.utils import timezone

from core import outbound
from core.errors import ApplicationError, ValidationFailed
from core.ids import new_job_id
from jobs.models import Job, JobStatus
from core.timefmt import month_start
from jobs.services import idempotency, task_queue, transitions, types
from jobs.sniff import kind_for_content_type, kind_for_filename, normalize_content_type
from quotas.outbound_waits import outbound_wait
from quotas.services import check_job_room, reserve_job

NAME_CONSTRAINT = "job_name_unique_per_month"


@dataclass(frozen=True)
class StoredUpload:
    """An uploaded input already in storage, its kind confirmed by sniffing."""

    job_id: str
    storage_name: str
    filename: str
    content_type: str
    kind: str
    size_bytes: int


def duplicate_job() -> ApplicationError:
    return ApplicationError(422, "DUPLICATE_JOB", "Job with this name already exists in this month")


def name_conflict(job: Job, name: str) -> bool:
    """Whether another job of `job`'s account, environment and month holds
    `name`: asked after an IntegrityError, once the failed savepoint has rolled
    back, to tell the monthly name constraint (NAME_CONSTRAINT) from any other
    violation. A query rather than the driver's error: PostgreSQL names the
    constraint, SQLite only its columns, and both see the committed twin."""
    return (
        Job.objects.filter(account_id=job.account_id, livemode=job.livemode, created_month=job.created_month, name=name)
        .exclude(pk=job.pk)
        .exists()
    )


def _filename_from_url(url: str) -> str:
    path = urlsplit(url).path
    return unquote(os.path.basename(path))[:255]


def _preflight(input_url: str, account_id: str) -> outbound.PreflightResult:
    # Waits up to 10 s on the customer's server inside the request: counted
    # against the account's cap on such waits (429 beyond it).
    try:
        with outbound_wait(account_id):
            return outbound.preflight(input_url, label="Input URL")
    except outbound.OutboundError as exc:
        raise ApplicationError(422, "INVALID_URL", exc.message) from None


def check_webhook_url(url: str | None) -> None:
    """Refuses a job webhook_url pointing inside (422 INVALID_URL), early
    rather than at the first delivery. A name that does not resolve yet is
    accepted: deliveries check again, every time."""
    if not url:
        return
    try:
        outbound.check_url(url, label="Webhook URL")
    except outbound.OutboundError as exc:
        if exc.permanent:
            raise ApplicationError(422, "INVALID_URL", exc.message) from None


def _clean_params(type_name: str, params: dict | None) -> dict:
    params = params or {}
    if type_name == types.AUTO:
        return params  # validated by the worker once the input's kind decides the type
    try:
        return types.validate_params(type_name, params)
    except types.ParamsInvalid as exc:
        raise ValidationFailed({"params": exc.details}) from None


def check_type_takes(requested_type: str, kind: str | None) -> None:
    """422 UNSUPPORTED_INPUT when the input's claimed kind rules the type out,
    the same answer for an upload's filename and a URL's declared
    Content-Type. No kind claimed (none, or a generic application/octet-stream)
    and `auto` wait for the worker to sniff the bytes."""
    if kind and requested_type != types.AUTO and not types.accepts_kind(requested_type, kind):
        raise ApplicationError(
            422, "UNSUPPORTED_INPUT", f"Unsupported Content-Type: {requested_type} does not take {kind} input"
        )


def check_before_upload(account, *, livemode: bool, kind: str, type: str | None = None,  # noqa: A002
                        params: dict | None = None, webhook_url: str | None = None) -> None:
    """What create_job would refuse about an upload, checked before its body
    is read, so a bad request costs the client no transfer: the webhook URL,
    a type that does not take the claimed kind (422 UNSUPPORTED_INPUT), its
    params (400), a used-up job quota (422 QUOTA_EXCEEDED)."""
    check_webhook_url(webhook_url)
    requested = type or types.AUTO
    check_type_takes(requested, kind)
    # `auto` is checked against the type the claimed kind makes it, as create_job does.
    resolved = (types.auto_type_for(kind) or types.AUTO) if requested == types.AUTO else requested
    _clean_params(resolved, params)
    check_job_room(account, livemode=livemode)


def name_taken(account, *, livemode: bool, name: str) -> bool:
    """A cheap early answer (uploads check it before reading the body); the
    database constraint stays the race-safe authority."""
    return Job.objects.filter(
        account=account, livemode=livemode, created_month=month_start(timezone.now()), name=name
    ).exists()


def create_job(
    account,
    *,
    livemode: bool,
    name: str,
    input_url: str | None = None,
    upload: StoredUpload | None = None,
    type: str = types.AUTO,  # noqa: A002 - the API's field name
    params: dict | None = None,
    timeout: int | None = None,
    webhook_url: str | None = None,
    metadata: dict | None = None,
    idempotency_request: idempotency.IdempotencyRequest | None = None,
    actor: str = "api",
) -> Job:
    """Creates a pending job and queues it after commit.

    Exactly one of `input_url` (preflighted: 422 INVALID_URL) and `upload`.
    Raises 400 for params the type refuses (details under "params"), 422
    DUPLICATE_JOB, 422 QUOTA_EXCEEDED, 422 INVALID_URL for a webhook_url
    resolving to a private address, and idempotency.ReplayInstead when a
    twin request with the same Idempotency-Key committed first.

    Side effects: one Job row, a JobTransition, one job in this month's quota
    (live mode), the Idempotency-Key row with the response; the run_job task
    queued on commit.
    """
    requested_type = type or types.AUTO
    check_webhook_url(webhook_url)
    if upload is not None:
        job_id = upload.job_id
        filename, content_type, size, kind = upload.filename, upload.content_type, upload.size_bytes, upload.kind
        input_url = ""
    else:
        job_id = new_job_id()
        checked = _preflight(input_url, account.pk)
        filename = _filename_from_url(checked.final_url) or _filename_from_url(input_url)
        content_type = normalize_content_type(checked.content_type) or ""
        size = checked.content_length
        # Refused now rather than failed later: the server declared a kind this type cannot take.
        check_type_takes(requested_type, kind_for_content_type(content_type))
        # A guess (the worker sniffs the bytes): the URL's extension, else the Content-Type.
        kind = kind_for_filename(filename) or kind_for_content_type(content_type) or ""
    resolved_type = requested_type
    if requested_type == types.AUTO:
        resolved_type = types.auto_type_for(kind) or types.AUTO
    clean_params = _clean_params(resolved_type, params)
    if requested_type == types.AUTO:
        # Checked against the guessed type, stored as sent: the worker validates
        # them again for the type the sniffed bytes decide.
        clean_params = params or {}
    now = timezone.now()
    job = Job(
        id=job_id,
        account=account,
        livemode=livemode,
        name=name,
        requested_type=requested_type,
        type=resolved_type,
        status=JobStatus.PENDING,
        input_url=input_url or "",
        input_filename=filename or "",
        input_content_type=content_type or "",
        input_size_bytes=size,
        input_kind=kind or "",
        input_file=upload.storage_name if upload else "",
        params=clean_params,
        # The type's default once the type is known (for `auto`, the guessed one;
        # the worker applies the sniffed type's default if that differs).
        timeout=timeout or types.default_timeout(resolved_type),
        timeout_is_default=not timeout,
        webhook_url=webhook_url or None,
        metadata=metadata or {},
        created_at=now,
        created_month=month_start(now),
        last_activity_at=now,
    )
    try:
        with transaction.atomic():
            key_row = idempotency.claim(account, livemode, idempotency_request)
            reserve_job(account, livemode=livemode)
            job.save(force_insert=True)
            transitions.record_created(job, actor=actor)
            if key_row is not None:
                from jobs.serializers import job_data

                idempotency.remember(key_row, status=201, body=job_data(job), job=job)
            task_queue.enqueue(job.pk)
    except IntegrityError:
        if name_conflict(job, name):
            raise duplicate_job() from None
        raise
    return job
