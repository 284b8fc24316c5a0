"""gunicorn's loggers (chosen in gunicorn.conf.py): no download tokens, and JSON lines on demand.

A job's output link is `/jobs/{id}/output?token=…`: whoever holds the link
holds the file for an hour, so an access log (or an error line naming the
request) must not keep it. Download URLs lose their whole query string;
any other `token=` (and, in JSON lines, key/signature/secret-like) parameter
is masked. RedactingLogger keeps gunicorn's text lines; JsonLogger
(AIPROD_LOG_FORMAT=json) writes one object per line with the request's
``request_id``, ``account_id`` and route template, which
ObservabilityMiddleware leaves in the WSGI environ.
"""

from __future__ import annotations

import re

from gunicorn import glogging

from core.logcontext import JsonFormatter

_DOWNLOAD_PATH = re.compile(r"^/jobs/[^/]+/output/?$")
_DOWNLOAD_QUERY = re.compile(r"(/jobs/[^/?#\s\"]+/output/?)\?[^\s\"]*")
_TOKEN = re.compile(r"((?:^|[?&;])token=)[^&;\s\"]*", re.IGNORECASE)
_QUERY_ATOMS = ("q", "{query_string}e")


def redact(text: str) -> str:
    """``text`` with download URLs' query strings removed and tokens masked."""
    return _TOKEN.sub(r"\1[redacted]", _DOWNLOAD_QUERY.sub(r"\1", text))


class RedactingLogger(glogging.Logger):
    def atoms(self, resp, req, environ, request_time):
        atoms = super().atoms(resp, req, environ, request_time)
        for name, value in atoms.items():
            if isinstance(value, str):
                atoms[name] = redact(value)
        if _DOWNLOAD_PATH.match(environ.get("PATH_INFO") or ""):
            for name in _QUERY_ATOMS:
                if name in atoms:
                    atoms[name] = ""
        return atoms

    def _redacted(self, args):
        return tuple(redact(arg) if isinstance(arg, str) else arg for arg in args)

    # "Error handling request <uri>" and friends.
    def exception(self, msg, *args, **kwargs):
        super().exception(msg, *self._redacted(args), **kwargs)

    def error(self, msg, *args, **kwargs):
        super().error(msg, *self._redacted(args), **kwargs)

    def warning(self, msg, *args, **kwargs):
        super().warning(msg, *self._redacted(args), **kwargs)


_SECRET_PARAMS = re.compile(r"(?i)\b([a-z_]*(?:token|signature|sig|key|secret)=)[^&]*")


def redact_query(path: str, query: str) -> str:
    if _DOWNLOAD_PATH.match(path or ""):
        return ""
    return _SECRET_PARAMS.sub(r"\1[redacted]", query)


class JsonLogger(RedactingLogger):
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
            "query": redact_query(path, environ.get("QUERY_STRING", "")) or None,
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
