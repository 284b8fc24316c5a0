"""Retries on real 429 and 503 answers: the client waits what Retry-After
says, then succeeds; without retries left it raises with retry_after."""

from __future__ import annotations

import time

import pytest
import requests
from aiprod_client import errors

from ops.maintenance import set_maintenance
from tests.quotas.conftest import at_start_of_a_second


def exhaust_the_free_tier(base: str, key: str, clock) -> None:
    """10 requests inside one second (the free tier's limit), the clock stopped."""
    at_start_of_a_second(clock)
    answers = [requests.get(base + "/account/usage", headers={"X-API-Key": key}, timeout=10) for _ in range(10)]
    assert [a.status_code for a in answers] == [200] * 10


def test_a_real_429_is_retried_after_retry_after_and_then_succeeds(free, connect, live_server, time_machine):
    waits = []
    client = connect(free, on_retry=lambda attempt, wait, reason: waits.append((reason, wait)))
    client._transport.sleep = time_machine.shift  # its wait moves the stopped clock
    exhaust_the_free_tier(live_server.url, free.key, time_machine)
    started = time.time()
    usage = client.usage()
    assert usage["tier"] == "free"
    assert waits[0][0] == "HTTP 429" and waits[0][1] >= 1  # the server's whole-second Retry-After
    assert time.time() - started >= waits[0][1]


def test_without_retries_a_429_raises_rate_limit_error_with_retry_after(free, connect, live_server, time_machine):
    client = connect(free, max_retries=0)
    exhaust_the_free_tier(live_server.url, free.key, time_machine)
    with pytest.raises(errors.RateLimitError) as caught:
        client.usage()
    assert caught.value.status == 429 and caught.value.code == "RATE_LIMITED" and caught.value.retry_after >= 1
    assert caught.value.request_id.startswith("req_")


def test_a_real_503_maintenance_answer_is_retried_until_maintenance_ends(free, connect, settings):
    settings.AIPROD_MAINTENANCE_RETRY_AFTER = 1
    waits = []

    def end_maintenance(attempt, wait, reason):
        waits.append((attempt, wait, reason))
        set_maintenance(enabled=False)

    set_maintenance(enabled=True, message="Upgrading the database")
    client = connect(free, on_retry=end_maintenance)
    slept = []
    client._transport.sleep = slept.append  # no real wait: maintenance ends in on_retry
    try:
        usage = client.usage()
    finally:
        set_maintenance(enabled=False)
    assert usage["tier"] == "free"
    assert waits == [(1, 1.0, "HTTP 503")]
    assert slept == [1.0]


def test_maintenance_longer_than_max_retry_wait_raises_at_once(free, connect, settings):
    settings.AIPROD_MAINTENANCE_RETRY_AFTER = 600
    waits = []
    set_maintenance(enabled=True)
    try:
        with pytest.raises(errors.MaintenanceError) as caught:
            connect(free, on_retry=lambda *a: waits.append(a)).usage()
    finally:
        set_maintenance(enabled=False)
    assert waits == []
    assert isinstance(caught.value, errors.ServiceUnavailableError)
    assert caught.value.status == 503 and caught.value.retry_after == 600
