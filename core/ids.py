"""Prefixed random identifiers: job_..., wh_..., evt_..., and so on."""

import secrets
import string

_ALPHABET = string.ascii_letters + string.digits


def random_token(length: int) -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(length))


def new_id(prefix: str, length: int = 24) -> str:
    return f"{prefix}_{random_token(length)}"


def new_account_id() -> str:
    return new_id("acct")


def new_key_id() -> str:
    return new_id("key")


def new_request_id() -> str:
    return new_id("req")


def new_job_id() -> str:
    return new_id("job")


def new_webhook_id() -> str:
    return new_id("wh")


def new_event_id() -> str:
    return new_id("evt")


def new_delivery_id() -> str:
    return new_id("dlv")
