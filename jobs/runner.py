"""Run one processor in a forked child, supervised by the worker.

Why a child process: a processor runs FFmpeg, Pillow, pypdf and friends on
input a customer chose. In a child it can be killed outright (cancel,
timeout), a memory bomb hits the child's RLIMIT_AS and fails as MemoryError
instead of summoning the OOM killer onto the worker, and a segfault in a C
decoder kills only the child.

The child never touches the database (its inherited connections are fenced
off and it leaves with os._exit, so nothing is closed or flushed on the
parent's sockets). It reports progress as short lines on a pipe and its
result as a JSON file in the work directory. The parent loops about once a
second: it drains progress, calls `heartbeat(progress)` (False = the job is
no longer ours: kill), and enforces the deadline (kill). The pipe's EOF
tells the parent the child is done, at once, not at the next tick.
"""

from __future__ import annotations

import ctypes
import errno
import json
import logging
import os
import resource
import select
import signal
import stat
import sys
import time
import traceback
from dataclasses import dataclass
from typing import Callable

logger = logging.getLogger(__name__)

RESULT_FILE = "result.json"

# Outcome kinds.
RESULT = "result"  # the processor returned (output, maybe a file)
ERROR = "error"  # the processor failed with a code and message
TIMEOUT = "timeout"  # the deadline passed; the child was killed
STOPPED = "stopped"  # heartbeat said the job is no longer ours; the child was killed
CRASHED = "crashed"  # the child died without a result (signal, exit code)

# Signals that mean the processor's C code choked on the input.
_CRASH_SIGNALS = {signal.SIGSEGV, signal.SIGBUS, signal.SIGFPE, signal.SIGILL, signal.SIGABRT}


@dataclass
class Outcome:
    kind: str
    output: dict | None = None
    output_file: str | None = None
    output_content_type: str | None = None
    code: str | None = None
    message: str | None = None
    child_pid: int | None = None


@dataclass
class Task:
    type_name: str
    input_path: str
    input_kind: str
    input_content_type: str
    params: dict
    work_dir: str  # holds output/ and result.json
    # RLIMIT_FSIZE of the child (jobs/services/output_limits.py): the first
    # write past it kills the child (SIGXFSZ) and the outcome is an
    # OUTPUT_TOO_LARGE error with `output_too_large` as its message.
    max_output_bytes: int | None = None
    output_too_large: str = "Output too large"


def run(task: Task, *, deadline: float, heartbeat: Callable[[float], bool], interval: float = 1.0,
        memory_limit: int | None = None) -> Outcome:
    """Runs `task` in a forked child until it finishes, `deadline`
    (time.monotonic()) passes, or `heartbeat` returns False."""
    output_dir = os.path.join(task.work_dir, "output")
    os.makedirs(output_dir, exist_ok=True)
    read_fd, write_fd = os.pipe()
    parent_pid = os.getpid()
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:  # the child
        status = 70
        try:
            os.close(read_fd)
            _child_main(task, output_dir, write_fd, parent_pid, memory_limit)
            status = 0
        except BaseException:  # noqa: BLE001 - nothing may escape into the worker's code
            try:
                traceback.print_exc()
            except BaseException:  # noqa: BLE001
                pass
        finally:
            os._exit(status)
    os.close(write_fd)
    try:
        return _supervise(pid, read_fd, task, deadline=deadline, heartbeat=heartbeat, interval=interval)
    finally:
        os.close(read_fd)
        _relay_child_log(task.work_dir)


# --------------------------------------------------------------------------- parent


def _supervise(pid: int, read_fd: int, task: Task, *, deadline: float, heartbeat, interval: float) -> Outcome:
    progress = 0.0
    pending = b""
    next_beat = time.monotonic() + interval
    while True:
        wait = max(0.0, min(next_beat, deadline) - time.monotonic())
        try:
            ready, _, _ = select.select([read_fd], [], [], wait)
        except InterruptedError:  # pragma: no cover - PEP 475 retries select
            ready = []
        if ready:
            data = os.read(read_fd, 65536)
            if not data:
                break  # EOF: the child exited
            pending += data
            *lines, pending = pending.split(b"\n")
            for line in reversed(lines):
                try:
                    progress = float(line)
                    break
                except ValueError:
                    continue
        now = time.monotonic()
        if now >= deadline:
            _kill(pid)
            return Outcome(TIMEOUT, child_pid=pid)
        if now >= next_beat:
            if not heartbeat(progress):
                _kill(pid)
                return Outcome(STOPPED, child_pid=pid)
            next_beat = now + interval
    status = _wait(pid)
    return _outcome(pid, status, task)


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    _wait(pid)


def _wait(pid: int) -> int:
    while True:
        try:
            _, status = os.waitpid(pid, 0)
            return status
        except InterruptedError:  # pragma: no cover
            continue
        except ChildProcessError:
            return 0


def _outcome(pid: int, status: int, task: Task) -> Outcome:
    result_path = os.path.join(task.work_dir, RESULT_FILE)
    result = None
    if os.path.exists(result_path):
        try:
            with open(result_path, encoding="utf-8") as f:
                result = json.load(f)
        except (OSError, ValueError):
            result = None
    if result is not None and os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0:
        if result.get("error"):
            return Outcome(ERROR, code=result["error"]["code"], message=result["error"]["message"], child_pid=pid)
        return Outcome(
            RESULT,
            output=result.get("output") or {},
            output_file=result.get("output_file"),
            output_content_type=result.get("output_content_type"),
            child_pid=pid,
        )
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        name = signal.Signals(sig).name if sig in signal.Signals._value2member_map_ else str(sig)
        if sig == signal.SIGXFSZ:  # a write passed RLIMIT_FSIZE
            return Outcome(CRASHED, code="OUTPUT_TOO_LARGE", message=task.output_too_large, child_pid=pid)
        if sig in _CRASH_SIGNALS:
            return Outcome(CRASHED, code="CORRUPT_INPUT",
                           message=f"Invalid input: processing crashed on this file ({name})", child_pid=pid)
        if sig == signal.SIGKILL:
            return Outcome(CRASHED, code="PROCESSING_FAILED",
                           message="Processing failed: the processor was killed (SIGKILL), most likely out of memory",
                           child_pid=pid)
        return Outcome(CRASHED, code="PROCESSING_FAILED",
                       message=f"Processing failed: the processor was stopped by {name}", child_pid=pid)
    code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else status
    return Outcome(CRASHED, code="PROCESSING_FAILED",
                   message=f"Processing failed: the processor exited with status {code} and no result",
                   child_pid=pid)


# --------------------------------------------------------------------------- child


def _child_main(task: Task, output_dir: str, write_fd: int, parent_pid: int, memory_limit: int | None) -> None:
    for sig in (signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1):
        signal.signal(sig, signal.SIG_DFL)
    # A SIGTERM or Ctrl-C sent to the worker's process group is the worker's
    # to handle (graceful stop): the child finishes unless its parent kills it.
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, signal.SIG_IGN)
    _die_with_parent(parent_pid)
    _fence_database()
    if memory_limit:
        resource.setrlimit(resource.RLIMIT_AS, (memory_limit, memory_limit))
    if task.max_output_bytes:
        # Soft limit only, so a reused child could take another job's limit.
        # Python ignores SIGXFSZ (writes would fail with EFBIG, which FFmpeg
        # may report as anything): restore the default, which kills the
        # child at once, without a core file.
        _, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
        resource.setrlimit(resource.RLIMIT_FSIZE, (task.max_output_bytes, hard))
        resource.setrlimit(resource.RLIMIT_CORE, (0, resource.getrlimit(resource.RLIMIT_CORE)[1]))
        signal.signal(signal.SIGXFSZ, signal.SIG_DFL)
        _own_log_file(task.work_dir)
    os.set_blocking(write_fd, False)

    def report(pct: float) -> None:
        try:
            os.write(write_fd, f"{float(pct):.1f}\n".encode())
        except BlockingIOError:
            pass  # the parent is behind; a later value will do
        except OSError as exc:  # pragma: no cover - the parent is gone
            if exc.errno == errno.EPIPE:
                os._exit(0)

    result = _process(task, output_dir, report)
    tmp = os.path.join(task.work_dir, RESULT_FILE + ".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(result, f)
    os.replace(tmp, os.path.join(task.work_dir, RESULT_FILE))


CHILD_LOG = "child.log"


def _own_log_file(work_dir: str) -> None:
    """The limit applies to every file the child writes: a worker whose
    stdout/stderr is a log file already past it would kill the child at its
    first warning. Such output goes to the work dir instead; the parent
    copies it to its own stderr when the child is done (`_relay_child_log`)."""
    for fd in (1, 2):
        try:
            if stat.S_ISREG(os.fstat(fd).st_mode):
                log_fd = os.open(os.path.join(work_dir, CHILD_LOG), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
                os.dup2(log_fd, fd)
                os.close(log_fd)
        except OSError:  # pragma: no cover - a closed descriptor: nothing to protect
            pass


def _relay_child_log(work_dir: str, limit: int = 64 * 1024) -> None:
    path = os.path.join(work_dir, CHILD_LOG)
    try:
        with open(path, "rb") as f:
            f.seek(max(0, os.path.getsize(path) - limit))
            tail = f.read()
        os.remove(path)
    except OSError:
        return
    if tail:
        sys.stderr.flush()
        os.write(2, tail)  # where the child would have written it


def _process(task: Task, output_dir: str, report: Callable[[float], None]) -> dict:
    from jobs.processing_errors import INPUT_TOO_LARGE, PROCESSING_FAILED, ProcessingError
    from jobs.processors import get_processor

    try:
        result = get_processor(task.type_name).process(
            task.input_path,
            params=task.params,
            output_dir=output_dir,
            declared_content_type=task.input_content_type,
            report_progress=report,
        )
        output_file = result.file
        if output_file and not os.path.isabs(output_file):
            output_file = os.path.join(output_dir, output_file)
        return {
            "output": result.data,
            "output_file": output_file,
            "output_content_type": result.content_type,
        }
    except ProcessingError as exc:
        return {"error": {"code": exc.code, "message": exc.message}}
    except MemoryError:
        return {"error": {"code": INPUT_TOO_LARGE,
                          "message": "Input too large: processing it needs more memory than allowed"}}
    except Exception as exc:  # noqa: BLE001 - a bug in a processor fails the job, not the worker
        traceback.print_exc()
        return {"error": {"code": PROCESSING_FAILED,
                          "message": f"Processing failed: internal error in {task.type_name} ({type(exc).__name__})"}}


def _die_with_parent(parent_pid: int) -> None:
    """Linux: SIGKILL this child when the worker dies (no orphaned FFmpeg)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        PR_SET_PDEATHSIG = 1
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):  # pragma: no cover - not Linux
        pass
    if os.getppid() != parent_pid:  # the parent died before prctl took effect
        os._exit(0)


def _fence_database() -> None:
    """Make any database use in the child fail loudly instead of speaking on
    the parent's connection (and corrupting its protocol state)."""
    try:
        from django.db import connections
    except ImportError:  # pragma: no cover
        return

    def refuse(*args, **kwargs):
        raise RuntimeError("The processing child must not use the database")

    for conn in connections.all(initialized_only=True):
        conn.connect = refuse
        conn.ensure_connection = refuse
        conn.cursor = refuse
