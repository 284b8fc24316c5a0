"""The input download: a job's input URL streamed into a file, within limits.

Codes: INPUT_TOO_LARGE for a body over ``max_bytes``, INVALID_URL for a URL
refused before connecting, INPUT_FETCH_FAILED for everything else; the
``kind`` says which failure it was.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from urllib3.util import Timeout

from .connection import (
    TRANSPORT_ERRORS,
    TRANSPORT_KINDS,
    TRANSPORT_REASONS,
    Deadline,
    classify,
    content_length,
    open_response,
)
from .errors import CODE_FETCH_FAILED, CODE_INPUT_TOO_LARGE, Kind, OutboundError, seconds_text
from .policy import current_policy
from .target import next_hop, resolve_target
from .watchdog import Watchdog

CHUNK_SIZE = 64 * 1024
MAX_REDIRECTS = 2

# A protocol error mid-download is a body cut short.
_REASONS = {**TRANSPORT_REASONS, "protocol": "connection closed before the body was complete"}


@dataclass(frozen=True)
class DownloadResult:
    content_type: str | None
    size_bytes: int
    final_url: str


def format_size(n: int) -> str:
    """A limit as the customer reads it: 524288000 -> "500 MB"."""
    for unit, size in (("GB", 1024**3), ("MB", 1024**2), ("KB", 1024)):
        if n >= size and n % size == 0:
            return f"{n // size} {unit}"
    for unit, size in (("GB", 1000**3), ("MB", 1000**2), ("KB", 1000)):
        if n >= size and n % size == 0:
            return f"{n // size} {unit}"
    for unit, size in (("GB", 1024**3), ("MB", 1024**2), ("KB", 1024)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n} bytes"


def download(
    url: str,
    fileobj,
    *,
    max_bytes: int,
    on_progress: Callable[[int], None] | None = None,
    connect_timeout: float = 10.0,
    first_byte_timeout: float = 30.0,
    label: str = "Input URL",
    limit_label: str | None = None,
    stop_at: float | None = None,
    keep_going: Callable[[], bool] | None = None,
    tick: float = 1.0,
) -> DownloadResult:
    """GET ``url`` into ``fileobj`` in 64 KiB chunks (never the whole body in memory).

    At most 2 redirects, each resolved, checked and pinned again. The response
    headers must arrive within ``connect_timeout + first_byte_timeout`` and no
    read may stall longer than ``first_byte_timeout``. ``on_progress(bytes_so_far)``
    is called after every chunk is written; whatever it raises propagates.

    Raises OutboundError, wording (kind):
    "Invalid input: URL returned HTTP {status}" (http_status, status_code set),
    "Timeout after {first_byte_timeout}s" (timeout), "Too many redirects" (redirect),
    "Input exceeds the {limit} limit" (too_large, code INPUT_TOO_LARGE; ``limit_label``
    or ``max_bytes`` formatted as e.g. "500 MB"),
    "Invalid input: connection refused" (refused) / "SSL certificate error" (tls) /
    "host unreachable" / "connection reset" / "connection failed" /
    "connection closed before the body was complete" (connection), all permanent=False,
    and the check_url messages (code INVALID_URL).

    ``stop_at`` (time.monotonic()) and ``keep_going()``: a watchdog thread
    that does not depend on data arriving ends the download when ``stop_at``
    passes or ``keep_going()`` (called about every ``tick`` seconds, from that
    thread) returns False, by shutting the socket down: a server that trickles
    a byte at a time or stalls after the headers cannot hold the caller past
    it. The download then fails with the timeout OutboundError; the caller
    knows which of its limits it was.
    """
    policy = current_policy()
    limit = limit_label or format_size(max_bytes)
    too_large = OutboundError(f"Input exceeds the {limit} limit", kind=Kind.TOO_LARGE, code=CODE_INPUT_TOO_LARGE)
    timeout_message = f"Timeout after {seconds_text(first_byte_timeout)}s"
    target = resolve_target(url, label, policy)

    def transport_error(exc, deadline=None) -> OutboundError:
        failure = classify(exc, deadline)
        kind = TRANSPORT_KINDS[failure]
        if kind == Kind.TIMEOUT:
            return OutboundError(timeout_message, kind=kind, code=CODE_FETCH_FAILED, permanent=False)
        reason = _REASONS.get(failure, "connection failed")
        return OutboundError(f"Invalid input: {reason}", kind=kind, code=CODE_FETCH_FAILED, permanent=False)

    watchdog = Watchdog(stop_at, keep_going, tick) if (stop_at is not None or keep_going is not None) else None
    try:
        return _download_body(target, fileobj, max_bytes=max_bytes, on_progress=on_progress,
                              connect_timeout=connect_timeout, first_byte_timeout=first_byte_timeout,
                              label=label, policy=policy, too_large=too_large, transport_error=transport_error,
                              watchdog=watchdog)
    except TRANSPORT_ERRORS as exc:  # the watchdog cut a read that the loop did not wrap
        raise transport_error(exc) from None
    finally:
        if watchdog is not None:
            watchdog.stop()


def _download_body(target, fileobj, *, max_bytes, on_progress, connect_timeout, first_byte_timeout, label, policy,
                   too_large, transport_error, watchdog) -> DownloadResult:
    redirects = 0
    while True:
        read_timeout = first_byte_timeout
        if watchdog is not None and watchdog.remaining() is not None:
            read_timeout = min(read_timeout, watchdog.remaining())
        timeout = Timeout(connect=connect_timeout, read=read_timeout)
        with Deadline(connect_timeout + read_timeout) as deadline:
            try:
                response = open_response("GET", target, timeout=timeout, deadline=deadline)
            except TRANSPORT_ERRORS as exc:
                raise transport_error(exc, deadline) from None
        # Headers are in: from here on the per-read timeout applies, and the watchdog.
        stopped = OutboundError(f"Timeout after {seconds_text(first_byte_timeout)}s", kind=Kind.TIMEOUT,
                                code=CODE_FETCH_FAILED, permanent=False)
        if watchdog is not None:
            watchdog.register(deadline.connection())
            if watchdog.fired:
                response.close()
                raise stopped
        try:
            status = response.raw.status
            next_target = next_hop(status, response.raw.headers, target, label, policy)
            if next_target is not None:
                redirects += 1
                if redirects > MAX_REDIRECTS:
                    raise OutboundError("Too many redirects", kind=Kind.REDIRECT, code=CODE_FETCH_FAILED)
                target = next_target
                continue
            if not 200 <= status < 300:
                raise OutboundError(
                    f"Invalid input: URL returned HTTP {status}",
                    kind=Kind.HTTP_STATUS,
                    code=CODE_FETCH_FAILED,
                    permanent=status < 500 and status not in (408, 429),
                    status_code=status,
                )
            length = content_length(response.raw.headers)
            if length is not None and length > max_bytes:
                raise too_large
            total = 0
            while True:
                # Never read more than one byte past the limit.
                want = min(CHUNK_SIZE, max_bytes - total + 1)
                try:
                    chunk = response.raw.read(want, decode_content=False)
                except TRANSPORT_ERRORS as exc:
                    if watchdog is not None and watchdog.fired:
                        raise stopped from None
                    raise transport_error(exc) from None
                if watchdog is not None and watchdog.fired:
                    raise stopped  # a cut socket reads as an early EOF
                if not chunk:
                    break
                total += len(chunk)
                if total > max_bytes:
                    raise too_large
                fileobj.write(chunk)
                if on_progress is not None:
                    on_progress(total)
            return DownloadResult(
                content_type=response.raw.headers.get("Content-Type"),
                size_bytes=total,
                final_url=target.url,
            )
        finally:
            response.close()
