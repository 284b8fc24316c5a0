"""Structured logs (docs/operations.md): ``AIPROD_LOG_FORMAT=json`` writes one JSON
object per line, from the application, the worker and gunicorn.

What a line is about comes from a context variable, so no call site passes
ids around: the request middleware (core/observability.py) binds the
request, whose ``request_id`` and ``account_id`` are read when a line is
written (authentication sets the account after the middleware ran); the job
task binds ``job_id``. A call site adds ``event`` and ``duration_ms`` with
``extra={...}``. Each thread and each task has its own context, so gthread
workers never mix requests.
"""

from __future__ import annotations

import contextlib
import json
import logging
from contextvars import ContextVar
from datetime import datetime, timezone

_context: ContextVar[dict | None] = ContextVar("aiprod_log_context", default=None)

# Fields a line carries when they apply, in this order after the fixed ones.
CONTEXT_FIELDS = ("request_id", "account_id", "job_id", "event", "duration_ms")


@contextlib.contextmanager
def log_context(**fields):
    """Binds ``fields`` (request=..., job_id=...) for the lines logged inside."""
    token = _context.set({**(_context.get() or {}), **fields})
    try:
        yield
    finally:
        _context.reset(token)


def current() -> dict:
    """The bound fields as they stand now (the request's ids read lazily)."""
    bound = _context.get() or {}
    fields = {k: v for k, v in bound.items() if k != "request"}
    request = bound.get("request")
    if request is not None:
        fields.setdefault("request_id", getattr(request, "request_id", None))
        fields.setdefault("account_id", getattr(request, "aiprod_account_id", None))
    return {k: v for k, v in fields.items() if v is not None}


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, message, the context
    fields, then ``exc_info`` as text when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        line.update(current())
        for name in CONTEXT_FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                line[name] = value
        extra = getattr(record, "fields", None)  # extra={"fields": {...}}: more keys for this line
        if isinstance(extra, dict):
            for key, value in extra.items():
                if value is not None:
                    line.setdefault(key, value)
        if record.exc_info:
            line["exc_info"] = self.formatException(record.exc_info)
        elif record.stack_info:
            line["stack_info"] = self.formatStack(record.stack_info)
        return json.dumps(line, default=str, ensure_ascii=False)
