"""aiprod_client.webhooks.verify, with the `standardwebhooks` package (PyPI) as
the oracle, and on a real delivery made by the server."""

from __future__ import annotations

import json
import time
from datetime import datetime, timezone

import pytest
from aiprod_client import webhooks
from aiprod_client.listen import new_secret
from standardwebhooks import Webhook, WebhookVerificationError as OracleError

from tests.httpservers import serve

BODY = json.dumps({"id": "evt_1", "event": "job.completed", "data": {"id": "job_1"}}).encode()


def oracle_headers(secret: str, msg_id: str = "evt_1", at: float | None = None, body: bytes = BODY) -> dict:
    timestamp = datetime.fromtimestamp(at if at is not None else time.time(), tz=timezone.utc)
    return {"webhook-id": msg_id, "webhook-timestamp": str(int(timestamp.timestamp())),
            "webhook-signature": Webhook(secret).sign(msg_id, timestamp, body)}


def test_it_accepts_what_the_standard_webhooks_library_signs():
    secret = new_secret()
    assert webhooks.verify(BODY, oracle_headers(secret), secret)["event"] == "job.completed"


def test_the_standard_webhooks_library_accepts_what_it_signs():
    secret = new_secret()
    headers = webhooks.sign(BODY, secret, msg_id="evt_1")
    assert Webhook(secret).verify(BODY, headers)["id"] == "evt_1"


def test_a_stale_timestamp_is_refused_like_the_oracle_does():
    secret = new_secret()
    headers = oracle_headers(secret, at=time.time() - 301)
    with pytest.raises(OracleError):
        Webhook(secret).verify(BODY, headers)
    with pytest.raises(webhooks.WebhookVerificationError, match="older than 300"):
        webhooks.verify(BODY, headers, secret)
    assert webhooks.verify(BODY, headers, secret, tolerance=600)  # a wider tolerance takes it
    with pytest.raises(webhooks.WebhookVerificationError, match="future"):
        webhooks.verify(BODY, oracle_headers(secret, at=time.time() + 301), secret)


def test_a_tampered_body_or_a_wrong_secret_is_refused():
    secret = new_secret()
    headers = oracle_headers(secret)
    with pytest.raises(webhooks.WebhookVerificationError, match="mismatch"):
        webhooks.verify(BODY.replace(b"job_1", b"job_2"), headers, secret)
    with pytest.raises(webhooks.WebhookVerificationError, match="mismatch"):
        webhooks.verify(BODY, headers, new_secret())


def test_during_rotation_either_secret_matches_one_of_several_signatures():
    old, new = new_secret(), new_secret()
    both = oracle_headers(old)
    both["webhook-signature"] += " " + oracle_headers(new)["webhook-signature"]
    for secret in (old, new):
        assert webhooks.verify(BODY, both, secret)
        Webhook(secret).verify(BODY, both)  # the oracle agrees
    with pytest.raises(webhooks.WebhookVerificationError):
        webhooks.verify(BODY, both, new_secret())
    assert webhooks.verify(BODY, oracle_headers(new), [old, new])  # a receiver holding both secrets


def test_the_body_only_aiprod_signature_alone_is_refused_by_default():
    secret = new_secret()
    signed = webhooks.sign(BODY, secret, msg_id="evt_1")
    ours = {k: v for k, v in signed.items() if k.startswith("X-AIPROD")}
    with pytest.raises(webhooks.WebhookVerificationError, match="allow_body_only"):
        webhooks.verify(BODY, ours, secret)
    with pytest.raises(webhooks.WebhookVerificationError, match="No signature"):
        webhooks.verify(BODY, {}, secret)


def test_a_captured_delivery_replayed_with_a_fresh_timestamp_is_refused():
    secret = new_secret()
    captured = webhooks.sign(BODY, secret, msg_id="evt_1", timestamp=int(time.time()) - 3600)
    replayed = dict(captured, **{"webhook-timestamp": str(int(time.time())), "X-AIPROD-Timestamp": str(int(time.time()))})
    with pytest.raises(webhooks.WebhookVerificationError, match="mismatch"):
        webhooks.verify(BODY, replayed, secret)  # the fresh timestamp is not the signed one
    body_only = {k: v for k, v in replayed.items() if k.startswith("X-AIPROD")}
    with pytest.raises(webhooks.WebhookVerificationError):
        webhooks.verify(BODY, body_only, secret)  # the attacker drops the Standard Webhooks headers
    with pytest.raises(OracleError):
        Webhook(secret).verify(BODY, replayed)  # the oracle agrees


def test_the_body_only_scheme_verifies_only_when_opted_in_and_its_timestamp_is_checked():
    secret = new_secret()
    signed = webhooks.sign(BODY, secret, msg_id="evt_1")
    ours = {k: v for k, v in signed.items() if k.startswith("X-AIPROD")}
    assert webhooks.verify(BODY, ours, secret, allow_body_only=True)["id"] == "evt_1"
    with pytest.raises(webhooks.WebhookVerificationError, match="mismatch"):
        webhooks.verify(BODY, ours, new_secret(), allow_body_only=True)
    ours["X-AIPROD-Timestamp"] = str(int(time.time()) - 1000)
    with pytest.raises(webhooks.WebhookVerificationError, match="older"):
        webhooks.verify(BODY, ours, secret, allow_body_only=True)


def test_a_real_delivery_from_the_server_verifies(pro, connect):
    with serve({"/hooks": 200}) as receiver:
        client = connect(pro)
        endpoint = client.webhooks.create(receiver.url + "/hooks", events=["job.completed"])
        client.webhooks.test(endpoint["id"], event="job.completed")
        receiver.wait_for_requests(1)
    delivery = receiver.requests[0]
    payload = webhooks.verify(delivery.body, delivery.headers, endpoint["secret"])
    assert payload["event"] == "job.completed"
    Webhook(endpoint["secret"]).verify(delivery.body, dict(delivery.headers))  # the oracle agrees
    with pytest.raises(webhooks.WebhookVerificationError):
        webhooks.verify(delivery.body, delivery.headers, new_secret())
