"""``aiprod listen``: poll ``GET /events`` and forward each new event, signed, to a local URL.

Polling: the first poll notes where "now" is (events older than the start are
not forwarded); each later poll asks for events created after the newest one
seen (minus a small overlap, because two events may share a timestamp and a
commit can land slightly late), follows cursors, forwards the new ones oldest
first and remembers their ids so none is forwarded twice.
"""

from __future__ import annotations

import base64
import json
import secrets as _secrets
import time
from collections import OrderedDict
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Dict, List, Optional

import requests

from aiprod_client import webhooks
from aiprod_client.client import Client

OVERLAP = timedelta(seconds=5)
REMEMBERED_IDS = 10_000


def new_secret() -> str:
    return webhooks.SECRET_PREFIX + base64.b64encode(_secrets.token_bytes(24)).decode()


def _parse(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def payload_of(event: Dict[str, Any]) -> Dict[str, Any]:
    """The body a webhook delivery of ``event`` carries:
    ``{"id", "event", "created_at", "livemode", "data"}``."""
    if isinstance(event.get("payload"), dict):
        return event["payload"]
    return {
        "id": event.get("id"),
        "event": event.get("event") or event.get("type"),
        "created_at": event.get("created_at"),
        "livemode": event.get("livemode"),
        "data": event.get("data"),
    }


class Listener:
    def __init__(self, client: Client, forward_to: str, secret: str, *, types: Optional[List[str]] = None,
                 forward_timeout: float = 10.0, session: Optional[requests.Session] = None):
        self.client = client
        self.forward_to = forward_to
        self.secret = secret
        self.types = types
        self.forward_timeout = forward_timeout
        self.session = session or requests.Session()
        self.since: Optional[datetime] = None
        self.started: Optional[datetime] = None
        self.seen: "OrderedDict[str, None]" = OrderedDict()

    def start(self) -> None:
        """Events created from now on are forwarded. The server's clock is the
        reference when it says what time it is (/health), so skew does not lose events."""
        try:
            self.since = _parse(self.client.health()["timestamp"])
        except Exception:  # an old or unhealthy server: our clock, with the overlap to spare
            self.since = datetime.now(timezone.utc)
        self.started = self.since

    def poll(self) -> List[Dict[str, Any]]:
        """New events since the last poll, oldest first."""
        assert self.since is not None and self.started is not None, "start() first"
        after = _iso(self.since - OVERLAP)
        fresh = []
        for event in self.client.events.list(type=self.types, created_after=after, limit=100):
            if event.get("id") in self.seen:
                continue
            created = _parse(event["created_at"]) if event.get("created_at") else None
            if created is not None and (created < self.since - OVERLAP or created < self.started):
                continue
            fresh.append(event)
        fresh.reverse()
        for event in fresh:
            self.seen[event["id"]] = None
            if len(self.seen) > REMEMBERED_IDS:
                self.seen.popitem(last=False)
            if event.get("created_at"):
                self.since = max(self.since, _parse(event["created_at"]))
        return fresh

    def forward(self, event: Dict[str, Any]) -> Dict[str, Any]:
        """POSTs one event, signed like a real delivery; returns what happened."""
        payload = payload_of(event)
        body = json.dumps(payload, separators=(",", ":")).encode()
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "aiprod-cli-listen",
            "X-AIPROD-Event": str(payload.get("event") or ""),
            "X-AIPROD-Delivery": "dlv_listen_" + _secrets.token_hex(8),
            **webhooks.sign(body, self.secret, msg_id=str(payload.get("id"))),
        }
        result: Dict[str, Any] = {
            "id": payload.get("id"),
            "type": payload.get("event"),
            "received_at": _iso(datetime.now(timezone.utc)),
            "status": None,
            "error": None,
        }
        started = time.monotonic()
        try:
            answer = self.session.post(self.forward_to, data=body, headers=headers, timeout=self.forward_timeout,
                                       allow_redirects=False)
            result["status"] = answer.status_code
            result["response"] = answer.text[:200]
        except requests.RequestException as exc:
            result["error"] = type(exc).__name__
        result["duration_ms"] = int((time.monotonic() - started) * 1000)
        return result

    def run(self, show: Callable[[Dict[str, Any]], None], *, interval: float = 2.0,
            max_events: Optional[int] = None) -> int:
        """Polls and forwards until interrupted (or ``max_events`` were forwarded)."""
        if self.started is None:
            self.start()
        forwarded = 0
        while True:
            for event in self.poll():
                show(self.forward(event))
                forwarded += 1
                if max_events is not None and forwarded >= max_events:
                    return forwarded
            self.client._transport.sleep(interval)
