"""One attempt at a job, as the django-q2 task `jobs.tasks.run_job` runs it.

claim (pending → processing) → get the input (download for URL jobs, counted
against the data quota, heartbeating) → sniff it, resolve `auto`, validate
params → run the processor in a forked child (jobs.runner) while this
process heartbeats, watches for cancel/timeout and enforces the deadline →
completed (output file moved into storage, within the deadline) or failed.

Every write after the claim is conditional on this attempt still owning the
job, so a cancel, a timeout, a retry, a sweeper re-queue or a delete made
meanwhile wins, and this attempt just stops.
"""

from __future__ import annotations

import logging
import os
import time

from django import db
from django.conf import settings

from core import outbound
from jobs import runner, shutdown, sniff
from jobs.models import Job
from jobs.processing_errors import INVALID_PARAMS, ProcessingError
from jobs.services import direct_uploads, output_limits, scratch, storage, task_queue, transitions, types
from jobs.services.upload import format_size
from quotas.services import DataMeter, QuotaExceeded

logger = logging.getLogger(__name__)

# Heavy libraries imported once in the worker, so each forked child inherits
# them instead of importing them again (a probe takes milliseconds, an
# `import av` a good part of a second).
PRELOAD_MODULES = ("av", "PIL.Image", "pypdf", "docx")
_preloaded = False

# How long a finished attempt keeps trying to record its result while the
# database is away (a PostgreSQL restart or failover takes seconds).
RESULT_RETRY_SECONDS = 60


class _Stop(Exception):
    """This attempt no longer owns the job: stop quietly."""


class _HandBack(Exception):
    """The worker is stopping and the grace period is over: re-queue the job."""


def _preload() -> None:
    global _preloaded
    if _preloaded:
        return
    _preloaded = True
    import importlib

    for name in PRELOAD_MODULES:
        try:
            importlib.import_module(name)
        except ImportError:  # pragma: no cover - optional at runtime
            logger.warning("could not preload %s", name)


def timeout_message(job: Job) -> str:
    return f"Timeout: Job exceeded {job.timeout}s limit"


def run_job(job_id: str) -> str:
    """Claims and runs one attempt of the job. Returns what happened:
    "skipped" (not pending: a duplicate task), "completed", "failed",
    "stopped" (cancelled/timed out/retried/deleted meanwhile)."""
    if shutdown.requested():
        # This worker is stopping: the job goes back to the queue untouched
        # for another worker (the task this one received is acknowledged).
        task_queue.enqueue_now(job_id)
        return "handed back"
    job = transitions.claim_job(job_id)
    if job is None:
        return "skipped"
    work_dir = scratch.make_work_dir(job.pk)
    try:
        return _attempt(job, work_dir)
    except _Stop:
        return "stopped"
    except _HandBack:
        transitions.requeue_running_job(job, reason=transitions.REQUEUED_AT_SHUTDOWN, actor="worker")
        return "handed back"
    except ProcessingError as exc:
        return "failed" if transitions.fail_job(job, code=exc.code, message=exc.message) else "stopped"
    except Exception:
        logger.exception("job %s attempt %s crashed", job.pk, job.attempted_count)
        message = "Processing failed: internal error. Retry the job; contact support with its id if it persists"
        return "failed" if transitions.fail_job(job, code="PROCESSING_FAILED", message=message) else "stopped"
    finally:
        scratch.remove_work_dir(work_dir)


def _attempt(job: Job, work_dir: str) -> str:
    deadline = time.monotonic() + job.timeout
    if job.input_file:
        direct_uploads.check_arrived(job)
        with storage.local_copy(job.input_file, work_dir) as input_path:
            return _process(job, input_path, work_dir, deadline)
    input_path = _download(job, work_dir, deadline)
    return _process(job, input_path, work_dir, deadline)


def _heartbeat(job: Job, progress: float | None = None) -> bool:
    """transitions.heartbeat for this attempt, but a database error (PostgreSQL
    restarting, a network blip) is not a lost job: the attempt carries on and
    beats again next time on a fresh connection. Before this, a one-second
    restart abandoned every running job until the sweeper re-queued it from
    scratch. The deadline still applies, and if the database stays away past
    AIPROD_JOB_STALE_AFTER the sweeper re-queues the job, and this attempt's
    next beat finds it is no longer ours."""
    try:
        return transitions.heartbeat(job.pk, job.attempted_count, progress)
    except db.Error:
        logger.warning("job %s: heartbeat not recorded, database unavailable; carrying on", job.pk, exc_info=True)
        db.close_old_connections()  # drops the broken connection: the next beat reconnects
        return True


def _download(job: Job, work_dir: str, deadline: float) -> str:
    """Fetches the input URL into the work dir, heartbeating about once a
    second, counting bytes against the data quota, honouring the deadline."""
    path = os.path.join(work_dir, "input")
    limit = sniff.KIND_LIMITS.get(job.input_kind) or max(sniff.KIND_LIMITS.values())
    meter = DataMeter(
        job.account, livemode=job.livemode, already_counted=job.data_bytes_counted,
        on_counted=lambda total: Job.objects.filter(pk=job.pk).update(data_bytes_counted=total),
    )
    lost = []  # set by the watchdog thread: this attempt no longer owns the job, or the worker stops
    connection = db.connections["default"]

    def on_progress(total: int) -> None:
        meter(total)
        if time.monotonic() >= deadline:
            raise ProcessingError(transitions.TIMEOUT, timeout_message(job))
        if lost:
            raise _Stop()

    def keep_going() -> bool:
        # Called from the download's watchdog thread about once a heartbeat
        # interval, whether or not bytes arrive (a trickle, a stall).
        if shutdown.grace_over():
            lost.append("shutdown")
        elif not _on_connection(connection, lambda: _heartbeat(job)):
            lost.append("lost")
        return not lost

    try:
        with open(path, "wb") as f:
            result = outbound.download(job.input_url, f, max_bytes=limit, on_progress=on_progress,
                                      first_byte_timeout=settings.AIPROD_JOB_FETCH_TIMEOUT,
                                      stop_at=deadline, keep_going=keep_going,
                                      tick=settings.AIPROD_JOB_HEARTBEAT_SECONDS)
        # The tail's count is remembered on the job by the update below (one
        # round trip fewer per job than a separate UPDATE).
        meter.on_counted = None
        meter.finish(result.size_bytes)
    except QuotaExceeded as exc:
        raise ProcessingError(exc.code, exc.message) from None
    except outbound.OutboundError as exc:
        if lost == ["shutdown"]:
            raise _HandBack() from None
        if lost:
            raise _Stop() from None
        if time.monotonic() >= deadline:
            raise ProcessingError(transitions.TIMEOUT, timeout_message(job)) from None
        raise ProcessingError(_download_error_code(exc), exc.message) from None
    filename = job.input_filename or os.path.basename(result.final_url.split("?", 1)[0])
    if not transitions.update_running_job(
        job.pk, job.attempted_count, input_size_bytes=result.size_bytes, data_bytes_counted=meter.counted,
        input_content_type=sniff.normalize_content_type(result.content_type) or job.input_content_type,
        input_filename=filename[:255],
    ):
        # Not ours any more, but the bytes were paid for: a later attempt must not pay again.
        Job.objects.filter(pk=job.pk).update(data_bytes_counted=meter.counted)
        raise _Stop()
    job.input_content_type = sniff.normalize_content_type(result.content_type) or job.input_content_type
    job.input_filename = filename[:255]
    return path


def _on_connection(connection, call):
    """``call()`` from another thread on this worker's own database connection
    (psycopg serialises its use): no extra connection per download, and the
    heartbeat sees what the worker's connection sees."""
    connection.inc_thread_sharing()
    db.connections[connection.alias] = connection
    try:
        return call()
    finally:
        del db.connections[connection.alias]
        connection.dec_thread_sharing()


def _download_error_code(exc: outbound.OutboundError) -> str:
    if exc.kind == outbound.Kind.TIMEOUT:
        return transitions.TIMEOUT
    if exc.code in ("INPUT_TOO_LARGE", "INVALID_URL"):
        return exc.code
    return "INVALID_INPUT"


def _resolve_type(job: Job, input_path: str) -> tuple[str, sniff.Sniffed]:
    """Sniffs the input and decides the type (`auto` becomes one now)."""
    sniffed = sniff.sniff(input_path, filename=job.input_filename, declared_content_type=job.input_content_type)
    sniff.check_declared(job.input_content_type, sniffed)
    size = os.path.getsize(input_path)
    limit = sniff.KIND_LIMITS[sniffed.kind]
    if size > limit:
        raise ProcessingError("INPUT_TOO_LARGE", f"Input exceeds the {format_size(limit)} limit for {sniffed.kind} files")
    type_name = job.type
    if job.requested_type == types.AUTO:
        type_name = types.auto_type_for(sniffed.kind)
        if type_name is None:
            raise ProcessingError("UNSUPPORTED_INPUT", "Unsupported Content-Type")
    if not types.accepts_kind(type_name, sniffed.kind):
        raise ProcessingError(
            "UNSUPPORTED_INPUT", f"Unsupported Content-Type: {type_name} does not take {sniffed.kind} input "
            f"({sniffed.content_type})"
        )
    return type_name, sniffed


def _validated_params(job: Job, type_name: str) -> dict:
    if job.requested_type != types.AUTO:
        return job.params  # validated at create for this very type
    # `auto` params were stored as sent (see create_job): check them for the type the bytes chose.
    try:
        return types.validate_params(type_name, job.params)
    except types.ParamsInvalid as exc:
        detail = "; ".join(f"{name}: {', '.join(msgs)}" for name, msgs in exc.details.items())
        raise ProcessingError(INVALID_PARAMS, f"Invalid params for {type_name}: {detail}") from None


def _process(job: Job, input_path: str, work_dir: str, deadline: float) -> str:
    type_name, sniffed = _resolve_type(job, input_path)
    if not transitions.update_running_job(
        job.pk, job.attempted_count, type=type_name, input_kind=sniffed.kind,
        input_content_type=sniffed.content_type, input_size_bytes=os.path.getsize(input_path),
    ):
        raise _Stop()
    if (job.timeout_is_default and job.timeout == types.default_timeout(job.type)
            and types.default_timeout(type_name) != job.timeout):
        # `auto` resolved now: the client gave no timeout (and nobody changed the
        # default since), so the type's own default applies.
        timeout = types.default_timeout(type_name)
        if not transitions.update_running_job(job.pk, job.attempted_count, timeout=timeout):
            raise _Stop()
        deadline += timeout - job.timeout
        job.timeout = timeout
    params = _validated_params(job, type_name)
    if params is not job.params and not transitions.update_running_job(job.pk, job.attempted_count, params=params):
        raise _Stop()
    job.type, job.params = type_name, params
    _preload()
    output_limit = output_limits.limit_for(type_name, job.account.tier)
    handed_back = []

    def beat(progress: float) -> bool:
        if shutdown.grace_over():
            handed_back.append(True)
            return False  # the runner kills the child
        return _heartbeat(job, progress)

    outcome = runner.run(
        runner.Task(type_name=type_name, input_path=input_path, input_kind=sniffed.kind,
                    input_content_type=sniffed.content_type, params=params, work_dir=work_dir,
                    max_output_bytes=output_limit.bytes, output_too_large=output_limit.message),
        deadline=deadline,
        heartbeat=beat,
        interval=settings.AIPROD_JOB_HEARTBEAT_SECONDS,
        memory_limit=settings.AIPROD_JOB_MEMORY_LIMIT_BYTES,
    )
    if outcome.kind == runner.STOPPED:
        raise _HandBack() if handed_back else _Stop()
    if outcome.kind == runner.TIMEOUT:
        raise ProcessingError(transitions.TIMEOUT, timeout_message(job))
    if outcome.kind != runner.RESULT:
        raise ProcessingError(outcome.code, outcome.message)
    return _complete(job, outcome, deadline)


def _complete(job: Job, outcome: runner.Outcome, deadline: float) -> str:
    try:
        # Output bytes count against the data quota too; like the result, while the database restarts.
        _when_database_answers(lambda: output_limits.count_output(job, outcome.output_file))
    except QuotaExceeded as exc:
        raise ProcessingError(exc.code, exc.message) from None
    stored = ""
    if outcome.output_file:
        # Stored before the state change: a job never shows `completed`
        # without its file. If the attempt lost the job meanwhile, the file goes.
        stored = _store_output(job, outcome, deadline)
    if _when_database_answers(lambda: transitions.complete_job(
        job, output=outcome.output, output_file=stored, output_content_type=outcome.output_content_type or ""
    )):
        return "completed"
    # A commit reported as failed may still have landed before a retry: then the file is the job's.
    if stored and not Job.objects.filter(pk=job.pk, output_file=stored).exists():
        storage.delete_files([stored])
    return "stopped"


def _store_output(job: Job, outcome: runner.Outcome, deadline: float) -> str:
    """Stores the output file, within the job's deadline and while nobody
    cancels it: an object store that stalls or trickles fails the job
    TIMEOUT at its deadline like any other phase (the upload runs in a
    thread; this one heartbeats and watches the clock, whether or not bytes
    move). An upload that finishes after that deletes its object, unless a
    newer attempt of the job may have written the same name since."""
    lost = []

    def keep_going() -> bool:
        if shutdown.grace_over():
            lost.append("shutdown")
        elif not _heartbeat(job):
            lost.append("lost")  # cancelled, re-queued or deleted meanwhile
        return not lost

    def discard_late(name: str) -> None:
        try:
            if not Job.objects.filter(pk=job.pk, attempted_count__gt=job.attempted_count).exists():
                storage.delete_files([name])
        finally:
            db.connections.close_all()  # the upload thread's own connection

    try:
        return storage.save_local_file(
            storage.output_name(job.pk, outcome.output_file), outcome.output_file,
            content_type=outcome.output_content_type or "",
            stop_at=deadline, keep_going=keep_going, tick=settings.AIPROD_JOB_HEARTBEAT_SECONDS, on_late=discard_late,
        )
    except storage.StoreAbandoned:
        if lost == ["shutdown"]:
            raise _HandBack() from None
        if lost:
            raise _Stop() from None
        raise ProcessingError(transitions.TIMEOUT, timeout_message(job)) from None


def _when_database_answers(call):
    """``call()``, tried again while the database is unavailable (PostgreSQL
    restarting), for up to RESULT_RETRY_SECONDS. Before this, a job finishing
    during a restart lost its result and sat `processing` until the sweeper
    ran it again from scratch. Re-raises after that time."""
    deadline = time.monotonic() + RESULT_RETRY_SECONDS
    pause = 0.5
    while True:
        try:
            return call()
        except db.Error:
            if time.monotonic() + pause > deadline:
                raise
            logger.warning("database unavailable; recording the result again in %.1fs", pause, exc_info=True)
            db.close_old_connections()
            time.sleep(pause)
            pause = min(pause * 2, 5.0)
