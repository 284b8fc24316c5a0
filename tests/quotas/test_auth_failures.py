"""Failed authentications are limited per client address (docs/authentication.md), each
address in its own bucket."""

from __future__ import annotations

import ipaddress

import pytest

from tests.quotas.conftest import at_start_of_a_second

USAGE = "/account/usage"
BAD = {"X-API-Key": "sk_live_" + "Q" * 40}


@pytest.fixture(autouse=True)
def three_failures_an_hour(settings):
    settings.AIPROD_AUTH_FAILURE_LIMIT = "3/h"  # an hour: no window rolls over mid-test


def statuses(anonymous, count, **extra):
    return [anonymous.get(USAGE, headers=BAD, **extra).status_code for _ in range(count)]


def test_two_addresses_have_separate_failure_buckets(anonymous, db):
    assert statuses(anonymous, 4, REMOTE_ADDR="198.51.100.1") == [401, 401, 401, 429]
    # The second address has made no failures yet: its own three 401s first.
    assert statuses(anonymous, 4, REMOTE_ADDR="198.51.100.2") == [401, 401, 401, 429]
    assert statuses(anonymous, 1, REMOTE_ADDR="198.51.100.1") == [429]


def test_the_guessing_address_is_told_when_to_come_back(anonymous, db):
    statuses(anonymous, 3, REMOTE_ADDR="198.51.100.3")
    limited = anonymous.get(USAGE, headers=BAD, REMOTE_ADDR="198.51.100.3")
    assert limited.status_code == 429
    assert limited.json()["code"] == "RATE_LIMITED"
    assert 1 <= int(limited["Retry-After"]) <= 3600
    wait = int(limited["Retry-After"])
    assert limited.json()["message"].startswith(f"Rate limit exceeded. Retry after {wait} second{'' if wait == 1 else 's'}")


def test_a_spoofed_forwarded_for_does_not_buy_a_fresh_bucket(anonymous, db):
    results = [
        anonymous.get(USAGE, headers={**BAD, "X-Forwarded-For": f"203.0.113.{i}"}, REMOTE_ADDR="198.51.100.4").status_code
        for i in range(4)
    ]
    assert results == [401, 401, 401, 429]


def test_behind_a_trusted_proxy_each_client_address_has_its_own_bucket(anonymous, db, settings):
    settings.AIPROD_TRUSTED_PROXIES = [ipaddress.ip_network("10.0.0.0/8")]
    proxy = {"REMOTE_ADDR": "10.0.0.5"}
    first = [anonymous.get(USAGE, headers={**BAD, "X-Forwarded-For": "192.0.2.10"}, **proxy).status_code for _ in range(4)]
    second = anonymous.get(USAGE, headers={**BAD, "X-Forwarded-For": "192.0.2.11"}, **proxy).status_code
    assert first == [401, 401, 401, 429]
    assert second == 401


def test_successful_requests_do_not_fill_the_failure_bucket(free):
    for _ in range(5):
        assert free.api.get(USAGE, REMOTE_ADDR="198.51.100.5").status_code == 200


def test_a_valid_key_from_a_blocked_address_still_passes(free):
    address = {"REMOTE_ADDR": "198.51.100.6"}
    assert [free.api.get(USAGE, headers=BAD, **address).status_code for _ in range(4)] == [401, 401, 401, 429]
    # One bad client behind a shared NAT does not lock out the others there.
    assert free.api.get(USAGE, **address).status_code == 200  # the account's real key
    # Its failed attempts stay refused.
    refused = free.api.get(USAGE, headers=BAD, **address)
    assert refused.status_code == 429 and refused.json()["code"] == "RATE_LIMITED"
    assert 1 <= int(refused["Retry-After"]) <= 3600
    # Other addresses are not affected.
    assert free.api.get(USAGE, headers=BAD, REMOTE_ADDR="198.51.100.7").status_code == 401


def test_the_block_ends_with_the_window(free, settings, time_machine):
    settings.AIPROD_AUTH_FAILURE_LIMIT = "3/s"
    address = {"REMOTE_ADDR": "198.51.100.8"}
    at_start_of_a_second(time_machine)
    codes = [free.api.get(USAGE, headers=BAD, **address).status_code for _ in range(4)]
    assert codes == [401, 401, 401, 429]
    wait = int(free.api.get(USAGE, headers=BAD, **address)["Retry-After"])
    time_machine.shift(wait)
    assert free.api.get(USAGE, headers=BAD, **address).status_code == 401
