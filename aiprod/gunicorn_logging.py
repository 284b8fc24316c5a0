"""gunicorn's logs as JSON lines (AIPROD_LOG_FORMAT=json, chosen in gunicorn.conf.py).

The error log ("Booting worker ...") gets aiprod.logcontext.JsonFormatter; each
access line is one object with the request's ``request_id``, ``account_id``
and route template, which ObservabilityMiddleware leaves in the WSGI environ.
Query strings are logged with token-like values redacted, so a signed
download link never reaches the log.
"""

from __future__ import annotations

import re

from gunicorn import glogging

from aiprod.logcontext import JsonFormatter

_SECRET_PARAMS = re.compile(r"(?i)\b([a-z_]*(?:token|signature|sig|key|secret)=)[^&]*")


def redact_query(query: str) -> str:
    return _SECRET_PARAMS.sub(r"\1[redacted]", query)


class JsonLogger(glogging.Logger):
    def setup(self, cfg):
        super().setup(cfg)
        formatter = JsonFormatter()
        for log in (self.error_log, self.access_log):
            for handler in log.handlers:
                handler.setFormatter(formatter)

    def access(self, resp, req, environ, request_time):
        if not self.access_log_enabled:
            return
        status = resp.status.split(None, 1)[0] if isinstance(resp.status, str) else resp.status
        method, path = environ.get("REQUEST_METHOD"), environ.get("PATH_INFO")
        duration_ms = request_time.seconds * 1000 + request_time.microseconds // 1000
        fields = {
            "method": method,
            "path": path,
            "query": redact_query(environ.get("QUERY_STRING", "")) or None,
            "status": int(status),
            "route": environ.get("aiprod.route"),
            "bytes": getattr(resp, "sent", None),
            "remote_addr": environ.get("REMOTE_ADDR"),
            "user_agent": environ.get("HTTP_USER_AGENT"),
        }
        extra = {
            "event": "http.access",
            "request_id": environ.get("aiprod.request_id") or dict(resp.headers).get("X-Request-ID"),
            "account_id": environ.get("aiprod.account_id"),
            "duration_ms": duration_ms,
            "fields": {k: v for k, v in fields.items() if v is not None},
        }
        try:
            self.access_log.info("%s %s %s", method, path, status, extra=extra)
        except Exception:  # never fail a request over its log line
            self.exception("access log line failed")
