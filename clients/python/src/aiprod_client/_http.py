"""The one place that talks HTTP: authentication, retries, idempotency keys, errors.

Retry policy (what docs/troubleshooting.md's "429 Too many requests" asks of a client, done once for everybody):

* retried: a connection that could not be opened (refused, connect timeout),
  429 and 503 — the server did nothing — always; an answer lost after the
  request went out (reset, read timeout) only where sending it again is safe:
  every method but POST, and ``POST /jobs``, which the server deduplicates by
  ``Idempotency-Key``. Other POSTs (cancel, create a key or an endpoint) would
  act twice, so they raise ``APIConnectionError`` instead (callers may pass
  ``resend_safe=True`` when they make a resend harmless themselves, as
  uploads do with a unique job name);
* the wait is the server's ``Retry-After`` when it sent one, else exponential
  backoff with full jitter: ``uniform(0, min(backoff_max, backoff_base * 2**attempt))``;
* a ``Retry-After`` longer than ``max_retry_wait`` is not slept through: the
  error is raised at once (with ``retry_after``) so a script is never silently
  parked for a long maintenance window;
* every POST carries an ``Idempotency-Key`` (a UUID, the same on every retry
  of that call), so a create retried after a lost answer never makes two jobs;
* a request body that cannot be rewound (a pipe) is sent once, never retried.
"""

from __future__ import annotations

import json
import os
import random
import time
import uuid
from typing import Any, Callable, Dict, Mapping, Optional

import requests
import urllib3

from aiprod_client._version import __version__
from aiprod_client.errors import APIConnectionError, error_for, parse_retry_after

DEFAULT_BASE_URL = "http://127.0.0.1:8000"
RETRY_STATUSES = (429, 503)

RetryHook = Callable[[int, float, str], None]


class Transport:
    def __init__(
        self,
        api_key: Optional[str],
        base_url: Optional[str],
        *,
        timeout: float = 60.0,
        max_retries: int = 3,
        backoff_base: float = 0.5,
        backoff_max: float = 20.0,
        max_retry_wait: float = 60.0,
        on_retry: Optional[RetryHook] = None,
        session: Optional[requests.Session] = None,
    ):
        self.api_key = api_key if api_key is not None else os.environ.get("AIPROD_API_KEY")
        self.base_url = (base_url or os.environ.get("AIPROD_BASE_URL") or DEFAULT_BASE_URL).rstrip("/")
        self.timeout = timeout
        self.max_retries = max(0, int(max_retries))
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.max_retry_wait = max_retry_wait
        self.on_retry = on_retry
        self.session = session or requests.Session()
        self.sleep: Callable[[float], None] = time.sleep

    # ------------------------------------------------------------ helpers

    def url(self, path: str) -> str:
        return path if path.startswith(("http://", "https://")) else self.base_url + path

    def _headers(self, extra: Optional[Mapping[str, str]]) -> Dict[str, str]:
        headers = {"User-Agent": f"aiprod-client-python/{__version__}", "Accept": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        headers.update(extra or {})
        return headers

    def backoff(self, attempt: int) -> float:
        """Full jitter: a random wait up to the capped exponential step."""
        return random.uniform(0, min(self.backoff_max, self.backoff_base * (2**attempt)))

    # ------------------------------------------------------------ requests

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Optional[Mapping[str, Any]] = None,
        json_body: Any = None,
        data: Any = None,
        headers: Optional[Mapping[str, str]] = None,
        stream: bool = False,
        idempotency_key: Optional[str] = None,
        authenticated: bool = True,
        resend_safe: Optional[bool] = None,
    ) -> requests.Response:
        """Sends one call (retrying per the policy above); raises an ``APIError``
        subclass for any status ≥ 400 and ``APIConnectionError`` when no answer came."""
        method = method.upper()
        headers = self._headers(headers)
        if not authenticated:
            headers.pop("Authorization", None)
        if method == "POST":
            headers.setdefault("Idempotency-Key", idempotency_key or str(uuid.uuid4()))
        if json_body is not None:
            data = json.dumps(json_body).encode("utf-8")
            headers["Content-Type"] = "application/json"
        rewind = _rewinder(data)
        if resend_safe is None:
            resend_safe = method != "POST" or path == "/jobs"
        attempt = 0
        while True:
            try:
                response = self.session.request(
                    method, self.url(path), params=_clean(params), data=data, headers=headers,
                    timeout=self.timeout, stream=stream, allow_redirects=True,
                )
            except (requests.ConnectionError, requests.Timeout) as exc:
                if attempt >= self.max_retries or rewind is None or not (resend_safe or _never_sent(exc)):
                    error = APIConnectionError(f"No answer from {self.base_url}: {exc}")
                    error.attempts = attempt + 1
                    raise error from exc
                wait = self.backoff(attempt)
                self._notify(attempt, wait, f"{type(exc).__name__}")
            else:
                if response.status_code < 400:
                    return response
                retry_after = parse_retry_after(response.headers.get("Retry-After"))
                retryable = (
                    response.status_code in RETRY_STATUSES
                    and attempt < self.max_retries
                    and rewind is not None
                    and (retry_after is None or retry_after <= self.max_retry_wait)
                )
                if not retryable:
                    failure = error_for(response.status_code, _json(response), response.headers)
                    failure.attempts = attempt + 1
                    response.close()
                    raise failure
                wait = retry_after if retry_after is not None else self.backoff(attempt)
                response.close()
                self._notify(attempt, wait, f"HTTP {response.status_code}")
            self.sleep(wait)
            assert rewind is not None  # checked before choosing to retry
            rewind()
            attempt += 1

    def close(self) -> None:
        """Closes the kept-alive connections now. ``Session.close()`` alone only
        drops urllib3's pools, whose sockets close when the pools are garbage
        collected; a raised ``APIError``'s traceback (a reference cycle through
        the frame holding the response) can keep a pool, and the server's
        request thread waiting on that socket, alive until the next GC pass."""
        for adapter in self.session.adapters.values():
            pools = getattr(getattr(adapter, "poolmanager", None), "pools", None)
            for key in list(pools.keys()) if pools is not None else ():
                pool = pools.get(key)
                if pool is not None:
                    pool.close()
        self.session.close()

    def _notify(self, attempt: int, wait: float, reason: str) -> None:
        if self.on_retry is not None:
            self.on_retry(attempt + 1, wait, reason)

    def json(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.request(method, path, **kwargs)
        if response.status_code == 204 or not response.content:
            return None
        return _json(response)


def _never_sent(exc: Exception) -> bool:
    """True when the connection was never opened, so the server saw nothing."""
    if isinstance(exc, requests.ConnectTimeout):
        return True
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    return isinstance(reason, urllib3.exceptions.NewConnectionError)


def _json(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return response.text[:2000]


def _clean(params: Optional[Mapping[str, Any]]) -> Optional[Dict[str, Any]]:
    if params is None:
        return None
    cleaned: Dict[str, Any] = {}
    for name, value in params.items():
        if value is None:
            continue
        if isinstance(value, bool):
            value = "true" if value else "false"
        cleaned[name] = value
    return cleaned


def _rewinder(data: Any) -> Optional[Callable[[], None]]:
    """How to resend ``data`` on a retry; None when it cannot be resent."""
    if data is None or isinstance(data, (bytes, str)):
        return lambda: None
    seek = getattr(data, "seek", None)
    if seek is None:
        return None
    try:
        start = data.tell()
    except (OSError, AttributeError):
        return None
    return lambda: seek(start)
