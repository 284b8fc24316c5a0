"""Fixtures for rate-limit and quota tests: a throw-away redis-server, a fast
enterprise persona, and a helper that fits a burst into one 1-second window."""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import pytest
import redis

from accounts.models import Account
from quotas.ratelimit import reset_breaker


class RedisServer:
    """A redis-server of our own on a unix socket, which a test may kill and
    start again (same socket path) to play an outage."""

    def __init__(self, directory: Path):
        self.socket = str(directory / "redis.sock")
        self.process: subprocess.Popen | None = None

    @property
    def location(self) -> str:
        return f"unix://{self.socket}?db=0"

    def client(self) -> redis.Redis:
        return redis.Redis(unix_socket_path=self.socket, socket_timeout=2)

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["redis-server", "--port", "0", "--unixsocket", self.socket, "--unixsocketperm", "700",
             "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while True:
            try:
                if self.client().ping():
                    return
            except redis.RedisError:
                pass
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise RuntimeError("redis-server did not start")
            time.sleep(0.02)

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        self.process = None

    def command_calls(self) -> dict[str, int]:
        """Commands served since reset_stats(), by name, minus this helper's
        own. Commands a Lua script runs appear beside their EVAL."""
        stats = self.client().info("commandstats")
        calls = {name.removeprefix("cmdstat_"): v["calls"] for name, v in stats.items()}
        for own in ("info", "config|resetstat", "hello"):
            calls.pop(own, None)
        return calls

    def reset_stats(self) -> None:
        self.client().config_resetstat()


@pytest.fixture
def redis_server(tmp_path_factory, settings):
    """A fresh redis-server as the rate-limit cache for one test."""
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed")
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    server.start()
    settings.CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": server.location,
            "KEY_PREFIX": "quotas-test",
            "OPTIONS": {
                "CLIENT_CLASS": "django_redis.client.DefaultClient",
                "SOCKET_CONNECT_TIMEOUT": 0.5,
                "SOCKET_TIMEOUT": 0.5,
            },
        }
    }
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
