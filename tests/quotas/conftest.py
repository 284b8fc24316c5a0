"""Fixtures for rate-limit and quota tests: a throw-away redis-server, a fast
enterprise persona, and a helper that fits a burst into one 1-second window."""

from __future__ import annotations

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


def at_start_of_a_second() -> None:
    """Sleeps until just after a whole second, so a short burst of requests
    falls in one of the limiter's 1-second windows."""
    fraction = time.time() % 1
    if fraction > 0.05:
        time.sleep(1.005 - fraction)


def burst(call, count: int, attempts: int = 5) -> list:
    """`count` calls inside ONE rate window (same X-RateLimit-Reset); on a
    slow machine that misses the window, tries again in the next second."""
    for _ in range(attempts):
        at_start_of_a_second()
        responses = [call() for _ in range(count)]
        if len({r["X-RateLimit-Reset"] for r in responses}) == 1:
            return responses
    pytest.fail(f"could not make {count} requests within one second in {attempts} attempts")
