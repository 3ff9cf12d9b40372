"""Refresh tokens and API keys: random strings the server keeps only a SHA-256 of.

They are 256 bits of randomness, so a fast hash is enough (nothing to brute-force, unlike a
password); a stolen table does not let anyone authenticate.

An API key reads ``qf_<id>_<secret>``: the id (public, shown in listings) finds the row, the
whole key's hash is compared in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

API_KEY_PREFIX = "qf_"


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def same_digest(stored: str, token: str) -> bool:
    return hmac.compare_digest(stored, digest(token))


def new_refresh_token() -> str:
    return secrets.token_urlsafe(32)


@dataclass(frozen=True)
class NewApiKey:
    key_id: str
    key: str  # shown once, never stored

    @property
    def key_hash(self) -> str:
        return digest(self.key)


def new_api_key() -> NewApiKey:
    key_id = secrets.token_hex(6)
    return NewApiKey(key_id, f"{API_KEY_PREFIX}{key_id}_{secrets.token_urlsafe(32)}")


def api_key_id(key: str) -> str | None:
    """The id part of something shaped like an API key, else None."""
    if not key.startswith(API_KEY_PREFIX):
        return None
    key_id, _, secret = key[len(API_KEY_PREFIX) :].partition("_")
    if len(key_id) != 12 or not secret:
        return None
    return key_id
