"""django-ratelimit's counting in ONE Redis round trip (a django-redis client).

django-ratelimit counts a request with `cache.add(key, 1, ttl)` and, when
the window's key already exists (every request but the window's first),
`cache.incr(key)`: two round trips per API request. Measured with the bench
on GET /jobs/{id}, that pair cost about a third of the endpoint's throughput.

This client, used only by the "ratelimit" cache alias, answers that pair
with one script: `add` creates the key with its expiry, or else increments
it and keeps the new count for the `incr` that django-ratelimit makes next
in the same thread, which then answers from memory. So for this alias,
`add` of an existing key increments it: the alias holds counters only.
A peek (`add(key, 0)`, django-ratelimit's increment=False) adds nothing.
Everything else (get, delete, connection errors as ConnectionInterrupted)
is django-redis's.
"""

from __future__ import annotations

import threading

from django_redis.client import DefaultClient
from django_redis.client.default import _main_exceptions
from django_redis.exceptions import ConnectionInterrupted

# KEYS[1] the counter; ARGV[1] the amount; ARGV[2] the expiry in seconds.
# Returns {1, amount} when it created the key, else {0, new count}.
ADD_OR_INCREMENT = """
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'EX', ARGV[2]) then
  return {1, tonumber(ARGV[1])}
end
return {0, redis.call('INCRBY', KEYS[1], ARGV[1])}
"""


class CountingClient(DefaultClient):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._counted = threading.local()  # made key -> the count `add` already made
        self._scripts: dict = {}  # per Redis client: the registered script (EVALSHA)

    def add(self, key, value, timeout=None, version=None, client=None) -> bool:
        if isinstance(value, bool) or not isinstance(value, int) or not isinstance(timeout, (int, float)):
            return super().add(key, value, timeout=timeout, version=version, client=client)
        client = client or self.get_client(write=True)
        made_key = self.make_key(key, version=version)
        try:
            added, count = self._script(client)(keys=[made_key], args=[value, max(1, int(timeout))])
        except _main_exceptions as exc:
            raise ConnectionInterrupted(connection=client) from exc
        pending = self._pending()
        pending.pop(made_key, None)
        if added:
            return True
        if value:
            pending[made_key] = int(count)
        return False

    def incr(self, key, delta=1, version=None, client=None, ignore_key_check=False) -> int:
        made_key = self.make_key(key, version=version)
        if delta == 1:
            count = self._pending().pop(made_key, None)
            if count is not None:
                return count
        return super().incr(key, delta=delta, version=version, client=client, ignore_key_check=ignore_key_check)

    def _pending(self) -> dict:
        if not hasattr(self._counted, "counts"):
            self._counted.counts = {}
        return self._counted.counts

    def _script(self, client):
        script = self._scripts.get(id(client))
        if script is None:
            script = self._scripts[id(client)] = client.register_script(ADD_OR_INCREMENT)
        return script
