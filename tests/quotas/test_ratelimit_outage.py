"""The rate limiter against a real, throw-away redis-server that dies and
comes back: fail open (no 500, no 429), then limits again."""

from __future__ import annotations

from tests.quotas.conftest import burst

USAGE = "/account/usage"


def test_an_authenticated_request_costs_one_redis_round_trip(fast, redis_server):
    fast.api.get(USAGE)  # the script is loaded and the windows' keys exist, as for any busy account
    for _ in range(10):  # a few windows: counts must not depend on where a second starts
        redis_server.reset_stats()
        assert fast.api.get(USAGE).status_code in (200, 429)
        calls = redis_server.command_calls()
        # quotas.redis_counter: one EVALSHA running SET NX, else INCRBY. A valid
        # key never touches the auth-failure counter.
        round_trips = sum(n for name, n in calls.items() if name not in ("set", "incrby"))
        assert round_trips == 1 and calls.get("evalsha") == 1, calls


def test_with_redis_down_requests_are_served_without_a_rate_decision(fast, redis_server):
    assert fast.api.get(USAGE)["X-RateLimit-Limit"] == "3"
    redis_server.kill()

    responses = [fast.api.get(USAGE) for _ in range(6)]  # twice the 3/s rate

    assert [r.status_code for r in responses] == [200] * 6
    for response in responses:
        assert "X-RateLimit-Remaining" not in response
    body = responses[-1].json()
    assert body["rate_limit_remaining"] is None
    assert body["rate_limit_resets_at"] is None
    assert body["jobs_limit"] == 100_000  # the rest of the answer is intact


def test_with_redis_down_a_bad_key_is_still_refused(fast, redis_server, anonymous):
    redis_server.kill()
    response = anonymous.get(USAGE, headers={"X-API-Key": "sk_live_" + "Z" * 40})
    assert response.status_code == 401
    assert response.json()["code"] == "INVALID_CREDENTIALS"


def test_after_redis_comes_back_limits_apply_again(fast, redis_server, settings, time_machine):
    settings.AIPROD_RATELIMIT_BREAKER_SECONDS = 0
    redis_server.kill()
    assert fast.api.get(USAGE).status_code == 200
    redis_server.start()  # empty: the old counts are gone, as after a restart

    responses = burst(time_machine, lambda: fast.api.get(USAGE), 4)

    assert [r.status_code for r in responses] == [200, 200, 200, 429]


def test_after_a_cache_error_the_process_skips_the_cache_for_a_while(fast, redis_server, settings):
    """The breaker: with Redis unreachable each call would wait out its socket
    timeout; one failure makes this process stop asking for the breaker time."""
    from core.cache_breaker import reset_breaker

    settings.AIPROD_RATELIMIT_BREAKER_SECONDS = 3600
    redis_server.kill()
    assert "X-RateLimit-Limit" not in fast.api.get(USAGE)  # fails, opens the breaker
    redis_server.start()
    redis_server.reset_stats()

    response = fast.api.get(USAGE)

    assert response.status_code == 200
    assert "X-RateLimit-Limit" not in response
    calls = {k: v["calls"] for k, v in redis_server.client().info("commandstats").items()}
    assert "cmdstat_eval" not in calls  # the rate limiter did not touch Redis
    reset_breaker()
    assert fast.api.get(USAGE)["X-RateLimit-Limit"] == "3"
