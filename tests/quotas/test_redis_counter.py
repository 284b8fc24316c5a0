"""quotas.redis_counter: django-ratelimit's add-then-incr answered in one
Redis round trip, with the same counts (docs/limits.md: exact under concurrency)."""

from __future__ import annotations

import threading

from django.core.cache import caches


def counter():
    return caches["ratelimit"]


def test_the_first_add_creates_the_key_with_its_expiry(redis_server):
    assert counter().add("window", 1, 6) is True
    assert counter().get("window") == 1
    assert 0 < counter().ttl("window") <= 6


def test_a_later_add_counts_and_the_incr_that_follows_costs_nothing(redis_server):
    counter().add("window", 1, 6)
    redis_server.reset_stats()
    assert counter().add("window", 1, 6) is False
    assert counter().incr("window") == 2
    assert counter().get("window") == 2
    calls = redis_server.command_calls()
    assert calls.get("evalsha") == 1 and "eval" not in calls and calls.get("get") == 1, calls


def test_a_peek_adds_nothing_and_a_plain_incr_still_works(redis_server):
    counter().add("window", 1, 6)
    assert counter().add("window", 0, 6) is False  # django-ratelimit's increment=False
    assert counter().get("window") == 1
    assert counter().incr("window") == 2  # nothing pending: a real INCR


def test_other_values_are_added_as_django_redis_adds_them(redis_server):
    assert counter().add("note", "text", 6) is True
    assert counter().add("note", "other", 6) is False
    assert counter().get("note") == "text"


def test_fifty_threads_counting_at_once_get_fifty_distinct_counts(redis_server):
    counts, lock = [], threading.Lock()
    start = threading.Barrier(50)

    def count():
        start.wait()
        cache = counter()
        value = 1 if cache.add("busy", 1, 6) else cache.incr("busy")  # what get_usage does
        with lock:
            counts.append(value)

    threads = [threading.Thread(target=count) for _ in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert sorted(counts) == list(range(1, 51))
    assert counter().get("busy") == 50
