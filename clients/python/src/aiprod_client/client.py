"""``Client``: the entry point. Resources hang off it (``client.jobs``, ``client.webhooks``, ...)."""

from __future__ import annotations

from typing import Any, Dict, Optional

import requests

from aiprod_client._http import RetryHook, Transport
from aiprod_client.account import Events, Keys, WebhookEndpoints
from aiprod_client.jobs import Jobs, Uploads


class Client:
    """``Client()`` reads ``AIPROD_API_KEY`` and ``AIPROD_BASE_URL`` when not given.

    ``max_retries`` retries (connection errors, 429, 503; see ``_http``) on top of
    the first attempt; ``timeout`` is per HTTP request, in seconds.
    ``on_retry(attempt, wait_seconds, reason)`` is called before each retry's wait.
    """

    def __init__(
        self,
        api_key: Optional[str] = None,
        base_url: Optional[str] = None,
        *,
        timeout: float = 60.0,
        max_retries: int = 3,
        backoff_max: float = 20.0,
        max_retry_wait: float = 60.0,
        on_retry: Optional[RetryHook] = None,
        session: Optional[requests.Session] = None,
    ):
        self._transport = Transport(api_key, base_url, timeout=timeout, max_retries=max_retries,
                                    backoff_max=backoff_max, max_retry_wait=max_retry_wait,
                                    on_retry=on_retry, session=session)
        self.jobs = Jobs(self._transport)
        self.uploads = Uploads(self._transport, self.jobs)
        self.webhooks = WebhookEndpoints(self._transport)
        self.keys = Keys(self._transport)
        self.events = Events(self._transport)

    @property
    def base_url(self) -> str:
        return self._transport.base_url

    @property
    def api_key(self) -> Optional[str]:
        return self._transport.api_key

    def usage(self) -> Dict[str, Any]:
        """GET /account/usage: this month's jobs and data against the tier's limits."""
        return self._transport.json("GET", "/account/usage")

    def logs(
        self,
        *,
        errors: bool = False,
        limit: int = 100,
        sort: str = "desc",
        request_id: Optional[str] = None,
    ) -> Dict[str, Any]:
        """GET /account/logs: the latest API requests (``errors=True``: status ≥ 400 only)."""
        params = {"filter": "error" if errors else None, "limit": limit, "sort": sort, "request_id": request_id}
        return self._transport.json("GET", "/account/logs", params=params)

    def metrics(self, period: str = "7d") -> Dict[str, Any]:
        return self._transport.json("GET", "/account/metrics", params={"period": period})

    def health(self) -> Dict[str, Any]:
        """GET /health (no key needed)."""
        return self._transport.json("GET", "/health", authenticated=False)

    def close(self) -> None:
        self._transport.close()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
