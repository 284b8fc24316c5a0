"""What the `aiprod` commands share: state, the command decorator, output,
exit codes, waiting for a job, progress display and --param parsing."""

from __future__ import annotations

import functools
import json
import sys
import time
from typing import Any, Callable, Dict, Iterable, List, Optional

import click

from aiprod_client import errors
from aiprod_client.client import Client

EXIT_ERROR, EXIT_AUTH, EXIT_NOT_FOUND, EXIT_REJECTED = 1, 3, 4, 5
EXIT_UNAVAILABLE, EXIT_CONNECTION, EXIT_JOB_FAILED, EXIT_WAIT_TIMEOUT = 6, 7, 8, 9


def exit_code_for(exc: Exception) -> int:
    if isinstance(exc, (errors.AuthenticationError, errors.PermissionDeniedError)):
        return EXIT_AUTH
    if isinstance(exc, errors.NotFoundError):
        return EXIT_NOT_FOUND
    if isinstance(exc, (errors.ValidationError, errors.ConflictError, errors.UnprocessableEntityError,
                        errors.PayloadTooLargeError)):
        return EXIT_REJECTED
    if isinstance(exc, (errors.RateLimitError, errors.ServiceUnavailableError)):
        return EXIT_UNAVAILABLE
    if isinstance(exc, errors.APIConnectionError):
        return EXIT_CONNECTION
    if isinstance(exc, errors.WaitTimeoutError):
        return EXIT_WAIT_TIMEOUT
    return EXIT_ERROR


class State:
    def __init__(self, api_key: Optional[str], base_url: Optional[str], max_retries: int, timeout: float):
        self.options = dict(api_key=api_key, base_url=base_url, max_retries=max_retries, timeout=timeout)
        self._client: Optional[Client] = None
        self.json = False

    @property
    def client(self) -> Client:
        if self._client is None:
            self._client = Client(on_retry=self._on_retry, **self.options)  # type: ignore[arg-type]
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    @staticmethod
    def _on_retry(attempt: int, wait: float, reason: str) -> None:
        click.echo(f"{reason}; retry {attempt} in {wait:.1f} s", err=True)


def command(group: click.Group, name: Optional[str] = None, **kwargs: Any) -> Callable:
    """A subcommand with ``--json`` whose API errors become a message and an exit code."""

    def decorate(func: Callable) -> Callable:
        @group.command(name, **kwargs)
        @click.option("--json", "as_json", is_flag=True, help="Print JSON on stdout.")
        @click.pass_obj
        @functools.wraps(func)
        def wrapper(state: State, as_json: bool, *args: Any, **kw: Any) -> None:
            state.json = state.json or as_json
            try:
                func(state, *args, **kw)
            except errors.AiprodError as exc:
                fail(state, exc)
            except KeyboardInterrupt:
                raise SystemExit(130) from None
            finally:
                state.close()

        return wrapper

    return decorate


def fail(state: State, exc: Exception) -> None:
    code = exit_code_for(exc)
    if state.json:
        body: Dict[str, Any] = {"error": type(exc).__name__, "message": getattr(exc, "message", str(exc))}
        for attr in ("status", "code", "request_id"):
            if getattr(exc, attr, None) is not None:
                body[attr] = getattr(exc, attr)
        if isinstance(exc, errors.ValidationError):
            body["details"] = exc.details
        if isinstance(exc, errors.WaitTimeoutError):
            body["job"] = exc.job
        click.echo(json.dumps(body))
    click.echo(f"Error: {exc}", err=True)
    if isinstance(exc, errors.ValidationError):
        for field, messages in exc.details.items():
            click.echo(f"  {field}: {'; '.join(map(str, messages)) if isinstance(messages, list) else messages}",
                       err=True)
    raise SystemExit(code)


# ------------------------------------------------------------------ output


def out(state: State, value: Any, human: Optional[Callable[[Any], None]] = None) -> None:
    if state.json:
        click.echo(json.dumps(value, indent=None if isinstance(value, list) else 2))
    elif human is not None:
        human(value)
    else:
        print_fields(value)


def print_fields(obj: Any) -> None:
    if not isinstance(obj, dict):
        click.echo(obj)
        return
    width = max((len(k) for k in obj), default=0)
    for key, value in obj.items():
        if isinstance(value, (dict, list)):
            value = json.dumps(value)
        click.echo(f"{key.ljust(width)}  {'' if value is None else value}")


def job_line(job: Dict[str, Any]) -> str:
    extra = f"  {job.get('error_code')}: {job.get('error')}" if job.get("status") == "failed" else ""
    return (f"{job.get('id', ''):<30} {job.get('status', ''):<10} {job.get('type', ''):<22} "
            f"{job.get('created_at', ''):<22} {job.get('name', '')}{extra}")


def job_human(job: Dict[str, Any]) -> None:
    print_fields(job)


def exit_for_job(job: Dict[str, Any]) -> None:
    if job.get("status") in ("failed", "cancelled"):
        raise SystemExit(EXIT_JOB_FAILED)


def wait_for(state: State, job: Dict[str, Any], timeout: Optional[float]) -> Dict[str, Any]:
    """Polls the job to a final status on stderr: a progress bar fed by the
    job's ``progress`` (0-100) on a terminal, else a plain line whenever the
    status or the progress changes (readable in logs and CI)."""
    started = time.monotonic()
    tty = isatty(sys.stderr)
    last: List[Any] = []
    bar: Any = None

    def show(current: Dict[str, Any]) -> None:
        nonlocal bar
        status = current.get("status", "?")
        progress = 100 if status == "completed" else max(0, min(100, int(current.get("progress") or 0)))
        if tty:
            if bar is None:
                bar = click.progressbar(length=100, label=f"{current['id']} {status}", file=sys.stderr,
                                        show_pos=False, show_percent=True, show_eta=False)
                bar.__enter__()
                bar.pos = 0
            bar.label = f"{current['id']} {status}"
            bar.update(progress - bar.pos)
        elif last != [status, progress]:
            last[:] = [status, progress]
            click.echo(f"  {current['id']}: {status} {progress}% ({time.monotonic() - started:.1f} s)", err=True)

    try:
        return state.client.jobs.wait(job["id"], timeout=timeout, on_poll=show)
    finally:
        if bar is not None:
            bar.__exit__(None, None, None)


def isatty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def report_created(state: State, job: Dict[str, Any], wait: bool, wait_timeout: Optional[float]) -> None:
    """Reports a new job; with --wait, waits for it and exits as it ended."""
    click.echo(f"Created {job['id']} ({job.get('type')}, {job.get('status')})", err=True)
    if wait:
        job = wait_for(state, job, wait_timeout)
    out(state, job)
    if wait:
        exit_for_job(job)


class ProgressBar:
    """A click progress bar fed with absolute byte counts (upload or download)."""

    def __init__(self, label: str, enabled: bool):
        self.label, self.enabled, self.done = label, enabled, 0
        self.bar: Any = None

    def __call__(self, done: int, total: Optional[int]) -> None:
        if not self.enabled:
            return
        if self.bar is None:
            self.bar = click.progressbar(length=total or 0, label=self.label, file=sys.stderr,
                                         show_pos=False, show_percent=bool(total))
            self.bar.__enter__()
        self.bar.update(done - self.done)
        self.done = done

    def close(self) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)
            self.bar = None


def parse_params(pairs: Iterable[str], raw: Optional[str]) -> Optional[Dict[str, Any]]:
    params: Dict[str, Any] = {}
    if raw:
        try:
            loaded = json.loads(raw)
        except ValueError:
            raise click.BadParameter("must be a JSON object", param_hint="--params") from None
        if not isinstance(loaded, dict):
            raise click.BadParameter("must be a JSON object", param_hint="--params")
        params.update(loaded)
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise click.BadParameter(f"{pair!r} is not KEY=VALUE", param_hint="--param")
        try:
            params[key] = json.loads(value)  # numbers and booleans keep their type
        except ValueError:
            params[key] = value
    return params or None
