"""The rate-limit cache when REDIS_URL is not set (the zero-setup `make run`).

django-ratelimit's system check refuses Django's LocMemCache (E003, "is not a
shared cache"): counters in one process's memory are wrong as soon as two
processes serve the API. This is the same cache under our own name, used only
in the configuration where ONE process serves the API (scripts/run.sh starts
a single gunicorn process with threads when REDIS_URL is empty). Its
increments are atomic across threads (LocMemCache holds a lock). The check
still runs and reports it as W001, "not officially supported"; with
REDIS_URL set the cache is django-redis and the check passes.
"""

from django.core.cache.backends.locmem import LocMemCache


class ProcessLocalCache(LocMemCache):
    pass
