"""``aiprod``: the command line for the AIPROD API (built on click).

Every command takes ``--json`` (machine-readable output on stdout; progress
and messages always go to stderr). Exit codes, for scripts:

    0  success                       5  rejected request (400, 409, 422, 413)
    1  any other error               6  rate limited / unavailable after retries (429, 503)
    2  wrong command-line usage      7  no answer from the server (connection error)
    3  authentication or permission  8  the job ended failed or cancelled
       (401, 403)                    9  --wait / jobs wait timed out
    4  not found (404)             130  interrupted (Ctrl-C)
"""

from __future__ import annotations

import json
from typing import Any, Dict, List, Optional

import click

from aiprod_client._cli_support import (
    ProgressBar,
    State,
    command,
    exit_for_job,
    job_line,
    out,
    parse_params,
    print_fields,
    report_created,
    wait_for,
)

# ------------------------------------------------------------------ commands


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--api-key", envvar="AIPROD_API_KEY", help="Default: $AIPROD_API_KEY.")
@click.option("--base-url", envvar="AIPROD_BASE_URL", help="Default: $AIPROD_BASE_URL or http://127.0.0.1:8000.")
@click.option("--max-retries", default=3, show_default=True, help="Retries on connection errors, 429 and 503.")
@click.option("--timeout", default=60.0, show_default=True, help="Seconds per HTTP request.")
@click.version_option(package_name="aiprod-client", prog_name="aiprod")
@click.pass_context
def main(ctx: click.Context, api_key: Optional[str], base_url: Optional[str], max_retries: int,
         timeout: float) -> None:
    """The AIPROD API from the command line. Exit codes: see `aiprod help-exit-codes`."""
    ctx.obj = State(api_key, base_url, max_retries, timeout)


@main.command("help-exit-codes")
def help_exit_codes() -> None:
    """Show the exit codes scripts can rely on."""
    click.echo(__doc__.split("Exit codes, for scripts:")[1].strip("\n"))


@main.group()
def jobs() -> None:
    """Create, inspect, wait for and download jobs."""


_TYPE = click.option("--type", "job_type", help="Job type (e.g. audio.transcribe); default auto.")
_NAME = click.option("--name", help="Job name (unique per month); default the file name plus a random suffix.")
_WAIT = click.option("--wait", is_flag=True, help="Wait for the job to finish; exit 8 if it fails.")
_WAIT_TIMEOUT = click.option("--wait-timeout", type=float, default=None, help="Give up waiting after N seconds.")
_PARAM = click.option("--param", "param_pairs", multiple=True, metavar="KEY=VALUE",
                      help="A type parameter (repeatable).")
_PARAMS = click.option("--params", "params_json", metavar="JSON", help="The type's params as a JSON object.")


@command(jobs, "create")
@click.option("--url", "input_url", required=True, help="HTTPS URL of the input file.")
@_TYPE
@_NAME
@click.option("--timeout", "job_timeout", type=int, help="Job timeout in seconds (60-7200).")
@click.option("--webhook-url", help="HTTPS URL for this job's events.")
@click.option("--metadata", "metadata_pairs", multiple=True, metavar="KEY=VALUE", help="Metadata (repeatable).")
@_PARAM
@_PARAMS
@_WAIT
@_WAIT_TIMEOUT
def jobs_create(state: State, input_url: str, job_type: Optional[str], name: Optional[str],
                job_timeout: Optional[int], webhook_url: Optional[str], metadata_pairs: List[str],
                param_pairs: List[str], params_json: Optional[str], wait: bool, wait_timeout: Optional[float]) -> None:
    """Create a job from a URL."""
    metadata = dict(p.partition("=")[::2] for p in metadata_pairs) or None
    job = state.client.jobs.create(input_url, name=name, type=job_type, timeout=job_timeout, webhook_url=webhook_url,
                                   metadata=metadata, params=parse_params(param_pairs, params_json))
    report_created(state, job, wait, wait_timeout)


@command(main, "upload")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, allow_dash=False))
@_TYPE
@_NAME
@click.option("--timeout", "job_timeout", type=int, help="Job timeout in seconds (60-7200).")
@click.option("--webhook-url", help="HTTPS URL for this job's events.")
@_PARAM
@_PARAMS
@_WAIT
@_WAIT_TIMEOUT
def upload(state: State, file: str, job_type: Optional[str], name: Optional[str], job_timeout: Optional[int],
           webhook_url: Optional[str], param_pairs: List[str], params_json: Optional[str], wait: bool,
           wait_timeout: Optional[float]) -> None:
    """Upload a local FILE (streamed, with a progress bar) and create its job."""
    bar = ProgressBar("Uploading", enabled=True)
    try:
        job = state.client.uploads.upload(file, name=name, type=job_type, timeout=job_timeout,
                                          webhook_url=webhook_url, params=parse_params(param_pairs, params_json),
                                          on_progress=bar)
    finally:
        bar.close()
    report_created(state, job, wait, wait_timeout)


@command(jobs, "list")
@click.option("--status", type=click.Choice(["pending", "processing", "completed", "failed", "cancelled"]))
@_TYPE
@click.option("--name", help="Exact job name.")
@click.option("--created-after", help="ISO 8601 time.")
@click.option("--created-before", help="ISO 8601 time.")
@click.option("--limit", default=20, show_default=True, help="How many jobs to show (follows cursors).")
def jobs_list(state: State, status: Optional[str], job_type: Optional[str], name: Optional[str],
              created_after: Optional[str], created_before: Optional[str], limit: int) -> None:
    """List jobs, newest first."""
    found = list(state.client.jobs.list(status=status, type=job_type, name=name, created_after=created_after,
                                        created_before=created_before, limit=min(max(limit, 1), 100),
                                        max_items=limit))

    def human(rows: List[Dict[str, Any]]) -> None:
        for job in rows:
            click.echo(job_line(job))
        if not rows:
            click.echo("No jobs.", err=True)

    out(state, found, human)


@command(jobs, "get")
@click.argument("job_id")
def jobs_get(state: State, job_id: str) -> None:
    """Show one job."""
    out(state, state.client.jobs.get(job_id))


@command(jobs, "wait")
@click.argument("job_id")
@click.option("--timeout", "wait_timeout", type=float, default=None, help="Give up after N seconds (exit 9).")
def jobs_wait(state: State, job_id: str, wait_timeout: Optional[float]) -> None:
    """Wait for a job to finish; exit 8 if it failed or was cancelled."""
    job = wait_for(state, {"id": job_id}, wait_timeout)
    out(state, job)
    exit_for_job(job)


@command(jobs, "cancel")
@click.argument("job_id")
def jobs_cancel(state: State, job_id: str) -> None:
    """Cancel a pending or processing job."""
    out(state, state.client.jobs.cancel(job_id))


@command(jobs, "retry")
@click.argument("job_id")
def jobs_retry(state: State, job_id: str) -> None:
    """Send a failed or cancelled job back to the queue."""
    out(state, state.client.jobs.retry(job_id))


@command(jobs, "delete")
@click.argument("job_id")
def jobs_delete(state: State, job_id: str) -> None:
    """Delete a job and its files."""
    state.client.jobs.delete(job_id)
    out(state, {"id": job_id, "deleted": True})


@command(jobs, "timeline")
@click.argument("job_id")
def jobs_timeline(state: State, job_id: str) -> None:
    """The job's story: API requests, state changes, webhook attempts."""

    def human(timeline: Dict[str, Any]) -> None:
        entries = timeline.get("data") or timeline.get("entries") or timeline.get("timeline") or []
        if not isinstance(entries, list):
            print_fields(timeline)
            return
        for entry in entries:
            at = entry.get("at") or entry.get("timestamp") or entry.get("created_at") or ""
            kind = entry.get("kind") or entry.get("type") or ""
            rest = {k: v for k, v in entry.items() if k not in ("at", "timestamp", "created_at", "kind", "type")
                    and v not in (None, "", [], {})}
            click.echo(f"{at:<28} {kind:<16} " + " ".join(f"{k}={v}" for k, v in rest.items()))

    out(state, state.client.jobs.timeline(job_id), human)


@command(jobs, "download")
@click.argument("job_id")
@click.option("-o", "--output", "output", type=click.Path(), default=None,
              help="File or directory to write; default the server's file name here.")
def jobs_download(state: State, job_id: str, output: Optional[str]) -> None:
    """Download a completed job's output file (streamed)."""
    bar = ProgressBar("Downloading", enabled=True)
    try:
        path = state.client.jobs.download(job_id, output, on_progress=bar)
    finally:
        bar.close()
    size = path.stat().st_size  # type: ignore[union-attr]
    out(state, {"id": job_id, "path": str(path), "size_bytes": size},
         lambda v: click.echo(f"Saved {v['path']} ({v['size_bytes']} bytes)"))


@command(main, "usage")
def usage(state: State) -> None:
    """This month's usage against your tier's limits."""
    out(state, state.client.usage())


@command(main, "logs")
@click.option("--errors", "errors_only", is_flag=True, help="Only requests answered with status >= 400.")
@click.option("--limit", default=20, show_default=True, help="How many requests (1-1000).")
@click.option("--request-id", help="Only this request.")
def logs(state: State, errors_only: bool, limit: int, request_id: Optional[str]) -> None:
    """Your latest API requests, newest first."""
    page = state.client.logs(errors=errors_only, limit=limit, request_id=request_id)

    def human(rows: List[Dict[str, Any]]) -> None:
        for r in rows:
            code = f" {r['error_code']}: {r.get('message') or ''}" if r.get("error_code") else ""
            click.echo(f"{r.get('timestamp', ''):<26} {r.get('request_id', ''):<30} {r.get('method', ''):<6} "
                       f"{r.get('status', '')} {r.get('path', '')} {r.get('duration_ms', '')} ms{code}")

    out(state, page.get("data", []), human)


@main.group()
def events() -> None:
    """This account's events (GET /events)."""


@command(events, "list")
@click.option("--type", "types", multiple=True, help="Event type (repeatable), e.g. job.completed.")
@click.option("--created-after", help="ISO 8601 time.")
@click.option("--created-before", help="ISO 8601 time.")
@click.option("--limit", default=20, show_default=True)
def events_list(state: State, types: List[str], created_after: Optional[str], created_before: Optional[str],
                limit: int) -> None:
    """List events, newest first."""
    found = list(state.client.events.list(type=list(types) or None, created_after=created_after,
                                          created_before=created_before, limit=min(max(limit, 1), 100),
                                          max_items=limit))

    def human(rows: List[Dict[str, Any]]) -> None:
        for event in rows:
            click.echo(f"{event.get('id', ''):<30} {_event_type(event):<20} {event.get('created_at', '')}")

    out(state, found, human)


@command(events, "get")
@click.argument("event_id")
def events_get(state: State, event_id: str) -> None:
    """One event with its deliveries."""
    out(state, state.client.events.get(event_id))


def _event_type(event: Dict[str, Any]) -> str:
    return str(event.get("type") or event.get("event") or "")


@command(main, "listen")
@click.option("--forward-to", required=True, help="Local URL that receives each event, e.g. http://localhost:3000/hooks.")
@click.option("--secret", help="Signing secret (whsec_...); default a new one, printed at start.")
@click.option("--events", "event_types", multiple=True, help="Only these event types (repeatable).")
@click.option("--interval", default=2.0, show_default=True, help="Seconds between polls of /events.")
@click.option("--max-events", type=int, default=None, help="Stop after forwarding N events.")
@click.option("--forward-timeout", default=10.0, show_default=True, help="Seconds to wait for the local answer.")
def listen(state: State, forward_to: str, secret: Optional[str], event_types: List[str], interval: float,
           max_events: Optional[int], forward_timeout: float) -> None:
    """Forward this account's events, as they happen, to a local URL (like `stripe listen`).

    Each event is POSTed signed like a real delivery (X-AIPROD-Signature and
    Standard Webhooks headers) with the secret printed at start."""
    from aiprod_client.listen import Listener, new_secret

    secret = secret or new_secret()
    listener = Listener(state.client, forward_to, secret, types=list(event_types) or None,
                        forward_timeout=forward_timeout)
    listener.start()
    if state.json:
        click.echo(json.dumps({"ready": True, "secret": secret, "forward_to": forward_to}))
    else:
        click.echo(f"Ready! Your webhook signing secret is {secret}", err=True)
        click.echo(f"Forwarding events to {forward_to} (Ctrl-C to quit)", err=True)

    def show(result: Dict[str, Any]) -> None:
        if state.json:
            click.echo(json.dumps(result))
            return
        answer = (f"[{result['status']}]" if result.get("status") is not None else f"[error: {result['error']}]")
        click.echo(f"{result['received_at']}  --> {result['type']:<18} {result['id']}  "
                   f"<-- {answer} {result['duration_ms']} ms")

    listener.run(show, interval=interval, max_events=max_events)


if __name__ == "__main__":  # pragma: no cover
    main()
