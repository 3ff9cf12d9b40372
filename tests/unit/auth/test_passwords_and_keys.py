"""Password hashes and the opaque tokens (refresh tokens, API keys)."""

from __future__ import annotations

import pytest

from services.common.auth import opaque
from services.common.auth.passwords import WeakPassword, hash_password, verify_password


def test_password_hash_is_argon2id_salted_and_verifies() -> None:
    first = hash_password("correct horse")
    assert first.startswith("$argon2id$")
    assert hash_password("correct horse") != first  # salted
    assert verify_password(first, "correct horse")
    assert not verify_password(first, "correct horsE")


def test_unknown_user_never_verifies() -> None:
    assert not verify_password(None, "not a password anyone has")


def test_garbage_hash_does_not_verify() -> None:
    assert not verify_password("plain-text", "plain-text")


def test_short_password_is_refused() -> None:
    with pytest.raises(WeakPassword, match="8 characters"):
        hash_password("short")


def test_api_key_shape_id_and_hash() -> None:
    new = opaque.new_api_key()
    assert new.key.startswith(f"qf_{new.key_id}_")
    assert opaque.api_key_id(new.key) == new.key_id
    assert opaque.same_digest(new.key_hash, new.key)
    assert not opaque.same_digest(new.key_hash, new.key + "x")
    assert new.key not in new.key_hash


@pytest.mark.parametrize("text", ["", "qf_", "qf_short_x", "eyJhbGciOi.x.y", "qf_0123456789ab_"])
def test_text_not_shaped_like_an_api_key_has_no_id(text: str) -> None:
    assert opaque.api_key_id(text) is None
