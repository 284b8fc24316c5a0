"""API key material: generation, hashing, format checks."""

import hashlib
import re

from core.ids import random_token

KEY_RANDOM_LENGTH = 40
PREFIX_LENGTH = 12  # "sk_live_" + 4 characters: enough to tell keys apart.
KEY_PATTERN = re.compile(r"^sk_(live|test)_[A-Za-z0-9]{32,128}$")


def generate_key(environment: str) -> str:
    return f"sk_{environment}_{random_token(KEY_RANDOM_LENGTH)}"


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def key_prefix(key: str) -> str:
    return key[:PREFIX_LENGTH]


def environment_of(key: str) -> str | None:
    match = KEY_PATTERN.match(key)
    return match.group(1) if match else None
