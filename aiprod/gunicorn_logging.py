"""gunicorn's logger without download tokens (loaded by gunicorn.conf.py).

A job's output link is `/jobs/{id}/output?token=…`: whoever holds the link
holds the file for an hour, so an access log (or an error line naming the
request) must not keep it. Download URLs lose their whole query string;
any other `token=` parameter is masked. The rest of the line is gunicorn's.
"""

from __future__ import annotations

import re

from gunicorn import glogging

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
