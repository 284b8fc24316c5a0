"""The process environment, read once and typed (django-environ).

`env` is the one reader of aiprod/settings.py and gunicorn.conf.py: each
variable with its type and default. A value it cannot parse stops the process
with an ImproperlyConfigured that names the variable
("AIPROD_Q_WORKERS: 'two' is not an integer"), instead of a bare traceback or a
silent default. It remembers every name it is asked for, so
tests/aiprod/test_configuration.py can hold docs/configuration.md to them.

Where it departs from a plain `environ.Env`, on purpose:
- an empty value counts as unset for every type but strings
  (`AIPROD_Q_WORKERS=` keeps the default; `AIPROD_WEBHOOK_Q_CLUSTER=` is "");
- no `$OTHER` indirection: a secret that starts with `$` is taken as written;
- booleans are 1/0, true/false, yes/no, on/off and nothing else (django-environ
  reads any other word as false, so `AIPROD_HTTPS=ture` would switch HTTPS off);
- floats are plain `float()` (django-environ drops letters: "5s" would be 5.0);
- list items are stripped, and empty ones dropped ("a, b," is ["a", "b"]).
"""

from __future__ import annotations

import ipaddress

import environ
from django.core.exceptions import ImproperlyConfigured

TRUE_WORDS = ("1", "true", "yes", "on")
FALSE_WORDS = ("0", "false", "no", "off")


def network(value: str):
    """An IP address or CIDR, host bits allowed (10.0.0.1/8 is 10.0.0.0/8)."""
    return ipaddress.ip_network(value, strict=False)


# What a value should have been, for the error message.
EXPECTED = {
    int: "an integer",
    float: "a number",
    bool: "a boolean (1/0, true/false, yes/no, on/off)",
    network: "an IP address or CIDR",
}


class BadValue(ValueError):
    """One part of a value (the whole of it, or one list item) does not parse."""

    def __init__(self, value: str, cast):
        super().__init__(value)
        self.value, self.cast = value, cast


class Env(environ.Env):
    def __init__(self, environ_map=None):
        super().__init__()
        if environ_map is not None:
            self.ENVIRON = environ_map  # tests read a dict instead of os.environ
        self.names: set[str] = set()  # every variable asked for

    def get_value(self, var, cast=None, default=environ.Env.NOTSET, parse_default=False):
        self.names.add(var)
        raw = self.ENVIRON.get(var)
        if raw is None or (raw == "" and cast not in (None, str)):
            if default is self.NOTSET:
                raise ImproperlyConfigured(f"{var} is not set")
            return default
        try:
            return self.parse_value(raw, cast)
        except BadValue as exc:
            raise ImproperlyConfigured(f"{var}: {exc.value!r} is not {EXPECTED.get(exc.cast, 'valid')}") from None

    @classmethod
    def parse_value(cls, value, cast):
        if isinstance(cast, list) or cast is list:
            item_cast = cast[0] if isinstance(cast, list) else str
            return [cls.parse_value(item, item_cast) for item in (part.strip() for part in value.split(",")) if item]
        try:
            if cast is bool:
                word = value.strip().lower()
                if word not in TRUE_WORDS + FALSE_WORDS:
                    raise ValueError(value)
                return word in TRUE_WORDS
            if cast is float:
                return float(value)
            return super().parse_value(value, cast)
        except ValueError:
            raise BadValue(value, cast) from None

    def choice(self, var: str, choices: tuple[str, ...], default: str) -> str:
        """One of `choices`, compared in lower case."""
        value = self.str(var, default).lower()
        if value not in choices:
            raise ImproperlyConfigured(f"{var}: {value!r} is not one of: {', '.join(choices)}")
        return value


env = Env()
