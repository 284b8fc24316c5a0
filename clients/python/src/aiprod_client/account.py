"""Account resources: webhook endpoints, API keys, events, usage and request logs."""

from __future__ import annotations

from typing import Any, Dict, Iterable, Optional, Sequence, Union
from urllib.parse import quote

from aiprod_client._http import Transport
from aiprod_client._pagination import ListIterator


def _id(value: str) -> str:
    return quote(str(value), safe="")


class WebhookEndpoints:
    """``/account/webhooks``: register endpoints, verify, rotate secrets, redeliver."""

    def __init__(self, transport: Transport):
        self._t = transport

    def create(self, url: str, *, events: Optional[Sequence[str]] = None) -> Dict[str, Any]:
        body: Dict[str, Any] = {"url": url}
        if events is not None:
            body["events"] = list(events)
        return self._t.json("POST", "/account/webhooks", json_body=body)

    def list(self, *, include_logs: bool = False, limit: int = 100) -> ListIterator:
        return ListIterator(self._t, "/account/webhooks", {"include_logs": include_logs or None, "limit": limit})

    def get(self, webhook_id: str, *, include_logs: bool = False) -> Dict[str, Any]:
        return self._t.json("GET", f"/account/webhooks/{_id(webhook_id)}",
                            params={"include_logs": include_logs or None})

    def update(self, webhook_id: str, **fields: Any) -> Dict[str, Any]:
        return self._t.json("PATCH", f"/account/webhooks/{_id(webhook_id)}", json_body=fields)

    def delete(self, webhook_id: str) -> None:
        self._t.request("DELETE", f"/account/webhooks/{_id(webhook_id)}").close()

    def verify(self, webhook_id: str) -> Dict[str, Any]:
        return self._t.json("POST", f"/account/webhooks/{_id(webhook_id)}/verify")

    def rotate_secret(self, webhook_id: str) -> Dict[str, Any]:
        return self._t.json("POST", f"/account/webhooks/{_id(webhook_id)}/rotate-secret")

    def test(self, webhook_id: str, event: str = "job.completed") -> Dict[str, Any]:
        return self._t.json("POST", f"/account/webhooks/{_id(webhook_id)}/test", json_body={"event": event})

    def recover(self, webhook_id: str, since: str) -> Dict[str, Any]:
        return self._t.json("POST", f"/account/webhooks/{_id(webhook_id)}/recover", json_body={"since": since})

    def delivery(self, delivery_id: str) -> Dict[str, Any]:
        return self._t.json("GET", f"/account/webhooks/deliveries/{_id(delivery_id)}")

    def redeliver(self, delivery_id: str) -> Dict[str, Any]:
        return self._t.json("POST", f"/account/webhooks/deliveries/{_id(delivery_id)}/redeliver")

    def default_secret(self) -> Dict[str, Any]:
        """The secret that signs deliveries to jobs' own ``webhook_url``."""
        return self._t.json("GET", "/account/webhooks/default/secret")

    def rotate_default_secret(self) -> Dict[str, Any]:
        return self._t.json("POST", "/account/webhooks/default/rotate-secret")


class Keys:
    """``/account/api-keys``: the plaintext key is in ``create``'s answer only."""

    def __init__(self, transport: Transport):
        self._t = transport

    def current(self) -> Dict[str, Any]:
        return self._t.json("GET", "/account/api-keys/current")

    def list(self) -> ListIterator:
        return ListIterator(self._t, "/account/api-keys")

    def get(self, key_id: str) -> Dict[str, Any]:
        return self._t.json("GET", f"/account/api-keys/{_id(key_id)}")

    def create(self, name: str, *, scopes: Optional[Iterable[str]] = None, environment: Optional[str] = None,
               expires_in_days: Optional[int] = None) -> Dict[str, Any]:
        body: Dict[str, Any] = {"name": name}
        if scopes is not None:
            body["scopes"] = list(scopes)
        if environment is not None:
            body["environment"] = environment
        if expires_in_days is not None:
            body["expires_in_days"] = expires_in_days
        return self._t.json("POST", "/account/api-keys", json_body=body)

    def revoke(self, key_id: str) -> Dict[str, Any]:
        return self._t.json("DELETE", f"/account/api-keys/{_id(key_id)}")


class Events:
    """``/events``: this account's events, newest first (reconcile after a webhook outage)."""

    def __init__(self, transport: Transport):
        self._t = transport

    def list(
        self,
        *,
        type: Union[str, Sequence[str], None] = None,
        created_after: Optional[str] = None,
        created_before: Optional[str] = None,
        limit: int = 100,
        max_items: Optional[int] = None,
    ) -> ListIterator:
        types = [type] if isinstance(type, str) else list(type) if type else None
        params = {"type": types, "created_after": created_after, "created_before": created_before, "limit": limit}
        return ListIterator(self._t, "/events", params, max_items=max_items)

    def get(self, event_id: str) -> Dict[str, Any]:
        """One event with its deliveries (endpoint, status, attempts)."""
        return self._t.json("GET", f"/events/{_id(event_id)}")
