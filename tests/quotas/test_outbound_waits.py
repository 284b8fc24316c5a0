"""The per-account cap on outbound waits inside API requests (docs/limits.md):
input-URL preflights and webhook verify/test beyond it are 429 RATE_LIMITED
with Retry-After, before anything is called or written. The cross-process
behaviour under a real gunicorn is in tests/resilience/test_slow_outbound.py."""

from __future__ import annotations

import contextlib
import time

import pytest

from core.errors import seconds_text
from quotas.outbound_waits import WAIT_BOUND_SECONDS, _refused, forget_local_waits, outbound_wait
from tests.httpservers import serve
from tests.webhooks.conftest import register
from webhooks.models import Delivery, Event


@pytest.fixture(params=["redis", "process-local"])
def backend(request, settings):
    if request.param == "redis" and not settings.REDIS_URL:
        pytest.skip("no Redis")
    if request.param == "process-local":
        settings.REDIS_URL = ""
    settings.AIPROD_OUTBOUND_WAITS_PER_ACCOUNT = 2
    forget_local_waits()
    yield request.param
    forget_local_waits()


@contextlib.contextmanager
def waits_in_flight(account, count: int):
    with contextlib.ExitStack() as stack:
        for _ in range(count):
            stack.enter_context(outbound_wait(account.pk))
        yield


@pytest.fixture
def receiver():
    with serve({"/hook": 200}) as srv:
        yield srv


def assert_refused(response):
    assert response.status_code == 429, response.content
    body = response.json()
    assert body["code"] == "RATE_LIMITED"
    assert 1 <= int(response["Retry-After"]) <= 10
    assert body["message"].startswith(f"Rate limit exceeded. Retry after {seconds_text(int(response['Retry-After']))} (")
    assert "already waiting on remote servers" in body["message"]


def test_the_refusal_reads_one_second_and_one_request_in_the_singular(free, backend, settings):
    settings.AIPROD_OUTBOUND_WAITS_PER_ACCOUNT = 1
    with waits_in_flight(free.account, 1):
        response = free.api.post("/jobs", {"name": "over a cap of one", "input_url": "https://example.com/a.mp4"})
    assert_refused(response)
    assert "(1 request of this account is already waiting on remote servers" in response.json()["message"]
    error = _refused(1, time.time() - WAIT_BOUND_SECONDS + 0.5)  # the oldest wait ends within a second
    assert error.message.startswith("Rate limit exceeded. Retry after 1 second (1 request of this account is already "
                                    "waiting on remote servers")
    assert error.headers == {"Retry-After": "1"}
    plural = _refused(3, time.time() - WAIT_BOUND_SECONDS + 4.5)
    assert plural.message.startswith("Rate limit exceeded. Retry after 5 seconds (3 requests of this account are ")


def test_a_create_beyond_the_accounts_outbound_waits_is_429_without_calling_the_url(free, pro, backend):
    with serve({"/clip.mp4": (200, {"Content-Type": "video/mp4"}, b"")}) as files:
        url = files.url + "/clip.mp4"
        with waits_in_flight(free.account, 2):
            assert_refused(free.api.post("/jobs", {"name": "over the cap", "input_url": url}))
            assert files.requests == []
            # Another account is not affected.
            assert pro.api.post("/jobs", {"name": "other account", "input_url": url}).status_code == 201
            # One wait less in flight: the account may wait again.
        assert free.api.post("/jobs", {"name": "after", "input_url": url}).status_code == 201


def test_webhook_verify_and_test_beyond_the_cap_are_429_and_write_nothing(pro, backend, receiver):
    endpoint = register(pro, receiver.url + "/hook")
    sent, events = len(receiver.requests), Event.objects.count()
    with waits_in_flight(pro.account, 2):
        assert_refused(pro.api.post(f"/account/webhooks/{endpoint.id}/verify"))
        assert_refused(pro.api.post(f"/account/webhooks/{endpoint.id}/test", {}))
    assert (len(receiver.requests), Event.objects.count()) == (sent, events)
    assert pro.api.post(f"/account/webhooks/{endpoint.id}/test", {}).status_code == 200
    assert Delivery.objects.filter(endpoint=endpoint, kind="test").count() == 1


def test_a_wait_is_released_when_the_outbound_call_fails(free, backend):
    with serve({"/missing": 404}) as files:
        for i in range(3):  # more than the cap, one after another
            response = free.api.post("/jobs", {"name": f"missing {i}", "input_url": files.url + "/missing"})
            assert (response.status_code, response.json()["code"]) == (422, "INVALID_URL")


def test_a_cap_of_zero_turns_it_off(free, settings, backend):
    settings.AIPROD_OUTBOUND_WAITS_PER_ACCOUNT = 0
    with waits_in_flight(free.account, 5), serve({"/clip.mp4": (200, {"Content-Type": "video/mp4"}, b"")}) as files:
        assert free.api.post("/jobs", {"name": "uncapped", "input_url": files.url + "/clip.mp4"}).status_code == 201


def test_with_redis_unreachable_the_cap_fails_open(free, settings, backend):
    if backend != "redis":
        pytest.skip("Redis only")
    from core.cache_breaker import cache_breaker_open, reset_breaker

    dead = {**settings.CACHES["default"], "LOCATION": "redis://127.0.0.1:1/0"}
    settings.CACHES = {**settings.CACHES, "default": dead}  # Django's test signal rebuilds the caches
    try:
        with outbound_wait(free.account.pk), outbound_wait(free.account.pk), outbound_wait(free.account.pk):
            assert cache_breaker_open()
    finally:
        reset_breaker()
