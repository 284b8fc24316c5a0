"""Authentication: every 401 code of docs/authentication.md, both headers, its examples."""

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import ApiKey
from accounts.keys import hash_key

CURRENT = "/account/api-keys/current"


def assert_401(response, code):
    assert response.status_code == 401, response.content
    assert response["WWW-Authenticate"] == 'Bearer realm="AIPROD API"'
    body = response.json()
    assert body["error"] == "Invalid or expired credentials"
    assert body["code"] == code
    assert body["request_id"].startswith("req_")
    return body


def test_a_valid_key_in_x_api_key_is_accepted(free):
    response = free.api.get(CURRENT)
    assert response.status_code == 200
    assert response.json()["tier"] == "free"


def test_a_valid_key_as_bearer_token_is_accepted(free, anonymous):
    response = anonymous.get(CURRENT, headers={"Authorization": f"Bearer {free.key}"})
    assert response.status_code == 200


def test_no_credentials_is_missing_credentials(anonymous, db):
    assert_401(anonymous.get(CURRENT), "MISSING_CREDENTIALS")


def test_the_guides_trailing_space_is_malformed_with_a_trim_hint(free, anonymous):
    body = assert_401(anonymous.get(CURRENT, headers={"X-API-Key": free.key + " "}), "MALFORMED_CREDENTIALS")
    assert body["message"] == "API key has leading or trailing white space; trim it"


def test_a_leading_space_in_a_bearer_token_is_malformed(free, anonymous):
    body = assert_401(anonymous.get(CURRENT, headers={"Authorization": f"Bearer  {free.key}"}), "MALFORMED_CREDENTIALS")
    assert "trim" in body["message"]


@pytest.mark.parametrize("header", ["Basic dXNlcjpwYXNz", "Bearer", "Bearer a b", "Token sk_live_x"])
def test_bad_authorization_syntax_is_malformed(header, anonymous, db):
    assert_401(anonymous.get(CURRENT, headers={"Authorization": header}), "MALFORMED_CREDENTIALS")


def test_an_empty_x_api_key_is_malformed(anonymous, db):
    assert_401(anonymous.get(CURRENT, headers={"X-API-Key": ""}), "MALFORMED_CREDENTIALS")


@pytest.mark.parametrize("key", ["sk_live_abc123", "sk_live_" + "A" * 40, "not-a-key"])
def test_an_unknown_key_is_invalid_credentials(key, anonymous, db):
    assert_401(anonymous.get(CURRENT, headers={"X-API-Key": key}), "INVALID_CREDENTIALS")


def test_an_expired_key_is_refused(free):
    ApiKey.objects.filter(key_hash=hash_key(free.key)).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert_401(free.api.get(CURRENT), "EXPIRED_KEY")


def test_a_revoked_key_is_refused_and_the_refusal_is_in_the_owners_log(free):
    key = ApiKey.objects.get(key_hash=hash_key(free.key))
    free.api.delete(f"/account/api-keys/{key.id}")
    assert_401(free.api.get(CURRENT), "REVOKED_KEY")
    logs = free.test_api.get("/account/logs")  # the test key sees test-mode logs only
    assert logs.status_code == 200
    from accounts.models import RequestLog

    assert RequestLog.objects.filter(account=free.account, error_code="REVOKED_KEY").count() == 1


def test_the_key_is_stored_only_as_a_hash(free):
    key = ApiKey.objects.get(key_hash=hash_key(free.key))
    assert free.key not in str(key.__dict__)
    assert key.prefix == free.key[:12]
    assert len(free.key) >= len("sk_live_") + 32


def test_last_used_at_is_written_at_most_once_a_minute(free):
    free.api.get(CURRENT)
    first = ApiKey.objects.get(key_hash=hash_key(free.key)).last_used_at
    assert first is not None
    free.api.get(CURRENT)
    assert ApiKey.objects.get(key_hash=hash_key(free.key)).last_used_at == first


class TestSandboxHosts:
    @pytest.fixture(autouse=True)
    def sandbox(self, settings):
        settings.AIPROD_SANDBOX_HOSTS = ["sandbox-api.aiprod.test"]
        settings.ALLOWED_HOSTS = ["*"]

    def test_a_live_key_on_the_sandbox_host_is_wrong_environment(self, free, anonymous):
        body = assert_401(
            anonymous.get(CURRENT, headers={"X-API-Key": free.key, "Host": "sandbox-api.aiprod.test"}),
            "WRONG_ENVIRONMENT",
        )
        assert "test key" in body["message"]

    def test_a_test_key_on_the_production_host_is_wrong_environment(self, free, anonymous):
        body = assert_401(
            anonymous.get(CURRENT, headers={"X-API-Key": free.test_key, "Host": "api.aiprod.test"}),
            "WRONG_ENVIRONMENT",
        )
        assert "live key" in body["message"]

    def test_a_test_key_on_the_sandbox_host_works(self, free, anonymous):
        response = anonymous.get(CURRENT, headers={"X-API-Key": free.test_key, "Host": "sandbox-api.aiprod.test:443"})
        assert response.status_code == 200
        assert response.json()["environment"] == "test"


def test_repeated_failures_from_one_address_are_rate_limited(settings, anonymous, free):
    settings.AIPROD_AUTH_FAILURE_LIMIT = "5/m"
    for _ in range(5):
        assert_401(anonymous.get(CURRENT, headers={"X-API-Key": "sk_live_" + "B" * 40}), "INVALID_CREDENTIALS")
    limited = anonymous.get(CURRENT, headers={"X-API-Key": "sk_live_" + "C" * 40})
    assert limited.status_code == 429
    assert limited.json()["code"] == "RATE_LIMITED"
    assert int(limited["Retry-After"]) >= 1
    # Another address is not affected.
    other = anonymous.get(CURRENT, headers={"X-API-Key": free.key}, REMOTE_ADDR="198.51.100.7")
    assert other.status_code == 200
