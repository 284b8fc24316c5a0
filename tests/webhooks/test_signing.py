"""webhooks.signing on its own: the X-AIPROD-Signature recipe, Standard Webhooks, tolerance."""

import base64
import time

import pytest

from tests.webhooks.verifiers import guide_recipe_accepts, standard_webhooks_accepts
from webhooks import signing

BODY = b'{"id":"evt_1","event":"job.completed","created_at":"2026-02-04T10:30:45.000Z","livemode":true,"data":{}}'


def test_a_secret_is_whsec_and_base64_of_24_random_bytes():
    secret = signing.new_secret()
    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret[6:], validate=True)) == 24
    assert signing.new_secret() != secret


def test_the_aiprod_signature_is_the_guides_hmac_of_the_raw_body_with_a_prefix():
    secret = signing.new_secret()
    headers = signing.sign(secret, BODY, msg_id="evt_1", timestamp=1_700_000_000)
    assert headers["X-AIPROD-Signature"].startswith("sha256=")
    assert guide_recipe_accepts(secret, BODY, headers["X-AIPROD-Signature"])
    assert not guide_recipe_accepts(secret, BODY + b" ", headers["X-AIPROD-Signature"])


def test_the_standard_webhooks_signature_verifies_with_an_independent_verifier():
    secret = signing.new_secret()
    headers = signing.sign(secret, BODY, msg_id="evt_1", timestamp=1_700_000_000)
    assert headers["webhook-id"] == "evt_1"
    assert headers["webhook-timestamp"] == headers["X-AIPROD-Timestamp"] == "1700000000"
    assert headers["webhook-signature"].startswith("v1,")
    assert standard_webhooks_accepts(secret, headers, BODY)
    assert not standard_webhooks_accepts(signing.new_secret(), headers, BODY)


def test_verify_accepts_a_fresh_signature_and_rejects_tampering():
    secret = signing.new_secret()
    headers = signing.sign(secret, BODY, msg_id="evt_1", timestamp=1_700_000_000)
    signing.verify(secret, BODY, headers, now=1_700_000_100)
    with pytest.raises(signing.SignatureError, match="mismatch"):
        signing.verify(secret, BODY.replace(b"true", b"false"), headers, now=1_700_000_100)
    with pytest.raises(signing.SignatureError, match="mismatch"):
        signing.verify(signing.new_secret(), BODY, headers, now=1_700_000_100)


def test_verify_rejects_timestamps_older_or_newer_than_five_minutes():
    secret = signing.new_secret()
    headers = signing.sign(secret, BODY, msg_id="evt_1", timestamp=1_700_000_000)
    signing.verify(secret, BODY, headers, now=1_700_000_300)
    with pytest.raises(signing.SignatureError, match="300 seconds"):
        signing.verify(secret, BODY, headers, now=1_700_000_301)
    with pytest.raises(signing.SignatureError, match="300 seconds"):
        signing.verify(secret, BODY, headers, now=1_699_999_699)


def test_verify_checks_a_forged_timestamp_against_the_standard_signature():
    secret = signing.new_secret()
    headers = signing.sign(secret, BODY, msg_id="evt_1", timestamp=1_700_000_000)
    replayed = {**headers, "webhook-timestamp": "1700009000", "X-AIPROD-Timestamp": "1700009000"}
    with pytest.raises(signing.SignatureError, match="mismatch"):
        signing.verify(secret, BODY, replayed, now=1_700_009_000)


def test_verify_accepts_any_of_several_standard_signatures_and_the_standard_scheme_alone():
    secret = signing.new_secret()
    headers = signing.sign(secret, BODY, msg_id="evt_1", timestamp=1_700_000_000)
    several = {**headers, "webhook-signature": "v1,bm9wZQ== " + headers["webhook-signature"]}
    signing.verify(secret, BODY, several, now=1_700_000_000)
    standard_only = {k: v for k, v in headers.items() if not k.startswith("X-AIPROD")}
    signing.verify(secret, BODY, standard_only, now=1_700_000_000)
    with pytest.raises(signing.SignatureError, match="No signature"):
        signing.verify(secret, BODY, {}, now=1_700_000_000)


def test_verify_refuses_a_body_only_signature_replayed_with_a_fresh_timestamp():
    secret = signing.new_secret()
    headers = signing.sign(secret, BODY, msg_id="evt_1", timestamp=1_700_000_000)
    # Captured an hour ago, replayed now with the unsigned X-AIPROD-Timestamp changed.
    replayed = {"X-AIPROD-Signature": headers["X-AIPROD-Signature"], "X-AIPROD-Timestamp": "1700003600"}
    with pytest.raises(signing.SignatureError, match="covers the body only"):
        signing.verify(secret, BODY, replayed, now=1_700_003_600)


def test_a_stale_standard_signature_is_refused_even_with_a_fresh_aiprod_timestamp():
    secret = signing.new_secret()
    headers = signing.sign(secret, BODY, msg_id="evt_1", timestamp=1_700_000_000)
    with pytest.raises(signing.SignatureError, match="300 seconds"):
        signing.verify(secret, BODY, {**headers, "X-AIPROD-Timestamp": "1700003600"}, now=1_700_003_600)


def test_previous_secrets_add_their_own_signatures_that_the_standard_webhooks_library_accepts():
    from standardwebhooks.webhooks import Webhook, WebhookVerificationError

    new, old, other = signing.new_secret(), signing.new_secret(), signing.new_secret()
    now = int(time.time())
    headers = signing.sign(new, BODY, msg_id="evt_1", timestamp=now, previous_secrets=[old])
    first, second = headers["webhook-signature"].split(" ")
    assert first.startswith("v1,") and second.startswith("v1,")
    assert headers["X-AIPROD-Signature"] == signing.aiprod_signature(new, BODY)
    for secret in (new, old):
        assert Webhook(secret).verify(BODY, headers)["id"] == "evt_1"
        signing.verify(secret, BODY, headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(other).verify(BODY, headers)
    with pytest.raises(signing.SignatureError, match="mismatch"):
        signing.verify(other, BODY, headers)
