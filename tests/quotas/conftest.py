"""Fixtures for rate-limit and quota tests: a throw-away redis-server, a fast
enterprise persona, and a helper that fits a burst into one 1-second window
(with the clock stopped: time-machine moves the wall clock the limiter's
windows are keyed on)."""

from __future__ import annotations

import math
import shutil
import time

import pytest

from accounts.models import Account
from core.cache_breaker import reset_breaker
from tests.processes import RedisServer


@pytest.fixture
def redis_server(tmp_path_factory, settings):
    """A fresh redis-server as the rate-limit cache for one test."""
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed")
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    server.start()
    default = {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": server.location,
        "KEY_PREFIX": "quotas-test",
        "OPTIONS": {
            "CLIENT_CLASS": "django_redis.client.DefaultClient",
            "SOCKET_CONNECT_TIMEOUT": 0.5,
            "SOCKET_TIMEOUT": 0.5,
        },
    }
    counting = {**default, "OPTIONS": {**default["OPTIONS"], "CLIENT_CLASS": "quotas.redis_counter.CountingClient"}}
    settings.CACHES = {"default": default, "ratelimit": counting}
    reset_breaker()
    yield server
    server.kill()
    reset_breaker()


@pytest.fixture(autouse=True)
def _closed_breaker():
    reset_breaker()
    yield
    reset_breaker()


@pytest.fixture
def fast(personas):
    """An enterprise persona limited to 3 requests a second."""
    persona = personas("enterprise")
    Account.objects.filter(pk=persona.account.pk).update(requests_per_second=3)
    persona.account.refresh_from_db()
    return persona


def at_start_of_a_second(clock) -> None:
    """Stops the clock (the `time_machine` fixture) at the start of the next
    whole second: every request until it moves falls in one of the limiter's
    1-second windows, however slow the machine."""
    clock.move_to(math.floor(time.time()) + 1, tick=False)


def burst(clock, call, count: int) -> list:
    """`count` calls inside ONE rate window (same X-RateLimit-Reset)."""
    at_start_of_a_second(clock)
    responses = [call() for _ in range(count)]
    assert len({r["X-RateLimit-Reset"] for r in responses}) == 1
    return responses
