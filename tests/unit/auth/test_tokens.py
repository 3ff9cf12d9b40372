"""Access tokens: what is accepted, and every way a forged or stale token is refused."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from services.common.auth.tokens import (
    InvalidToken,
    KeyRing,
    TokenPolicy,
    add_key,
    issue_access_token,
    load_key_ring,
    verify_access_token,
)

POLICY = TokenPolicy(issuer="quantflow", audience="quantflow-graph", access_ttl_s=900)


def _ring(kid: str = "k1") -> KeyRing:
    return KeyRing({kid: Ed25519PrivateKey.generate()})


def _b64(part: Mapping[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(part).encode()).rstrip(b"=").decode()


def _claims(**changes: object) -> dict[str, object]:
    claims: dict[str, object] = {
        "iss": "quantflow",
        "aud": "quantflow-graph",
        "sub": "alice",
        "iat": int(datetime.now(UTC).timestamp()),
        "exp": int(datetime.now(UTC).timestamp()) + 900,
    }
    claims.update(changes)
    return {k: v for k, v in claims.items() if v is not None}


def test_issued_token_verifies_with_subject_and_role() -> None:
    ring = _ring()
    token = issue_access_token(ring, POLICY, "alice", admin=True, now=datetime.now(UTC))
    claims = verify_access_token(ring, POLICY, token)
    assert (claims.subject, claims.admin) == ("alice", True)
    assert jwt.get_unverified_header(token) == {"alg": "EdDSA", "kid": "k1", "typ": "JWT"}


def test_token_signed_by_another_key_with_the_same_kid_is_refused() -> None:
    forged = issue_access_token(_ring("k1"), POLICY, "alice", admin=True, now=datetime.now(UTC))
    with pytest.raises(InvalidToken, match="invalid"):
        verify_access_token(_ring("k1"), POLICY, forged)


def test_token_with_a_tampered_payload_is_refused() -> None:
    ring = _ring()
    header, _, signature = issue_access_token(
        ring, POLICY, "alice", admin=False, now=datetime.now(UTC)
    ).split(".")
    tampered = f"{header}.{_b64(_claims(admin=True))}.{signature}"
    with pytest.raises(InvalidToken):
        verify_access_token(ring, POLICY, tampered)


def test_expired_token_is_refused_beyond_the_leeway() -> None:
    ring = _ring()
    stale = issue_access_token(
        ring, POLICY, "alice", admin=False, now=datetime.now(UTC) - timedelta(hours=1)
    )
    with pytest.raises(InvalidToken, match="expired"):
        verify_access_token(ring, POLICY, stale)


def test_token_expired_within_the_leeway_still_verifies() -> None:
    ring = _ring()
    now = datetime.now(UTC)
    just_expired = issue_access_token(
        ring, POLICY, "alice", admin=False, now=now - timedelta(seconds=POLICY.access_ttl_s + 5)
    )
    assert verify_access_token(ring, POLICY, just_expired).subject == "alice"


def test_token_for_another_audience_is_refused() -> None:
    ring = _ring()
    other = TokenPolicy(issuer="quantflow", audience="someone-else", access_ttl_s=900)
    token = issue_access_token(ring, other, "alice", admin=False, now=datetime.now(UTC))
    with pytest.raises(InvalidToken, match="audience"):
        verify_access_token(ring, POLICY, token)


def test_token_from_another_issuer_is_refused() -> None:
    ring = _ring()
    other = TokenPolicy(issuer="evil", audience="quantflow-graph", access_ttl_s=900)
    token = issue_access_token(ring, other, "alice", admin=False, now=datetime.now(UTC))
    with pytest.raises(InvalidToken, match="issuer"):
        verify_access_token(ring, POLICY, token)


@pytest.mark.parametrize("missing", ["exp", "iat", "iss", "aud", "sub"])
def test_token_missing_a_required_claim_is_refused(missing: str) -> None:
    ring = _ring()
    token = jwt.encode(
        _claims(**{missing: None}), ring.signing_key(), algorithm="EdDSA", headers={"kid": "k1"}
    )
    with pytest.raises(InvalidToken):
        verify_access_token(ring, POLICY, token)


def test_alg_none_token_is_refused() -> None:
    unsigned = f"{_b64({'alg': 'none', 'kid': 'k1', 'typ': 'JWT'})}.{_b64(_claims())}."
    with pytest.raises(InvalidToken, match="EdDSA only"):
        verify_access_token(_ring(), POLICY, unsigned)


def test_hs256_token_keyed_with_the_public_key_is_refused() -> None:
    """The classic confusion: an HMAC "signed" with the verifier's public key bytes."""
    ring = _ring()
    public_pem = (
        ring.signing_key()
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    header = {"alg": "HS256", "kid": "k1", "typ": "JWT"}
    signing_input = f"{_b64(header)}.{_b64(_claims())}".encode()
    mac = hmac.new(public_pem, signing_input, hashlib.sha256).digest()
    forged = signing_input.decode() + "." + base64.urlsafe_b64encode(mac).rstrip(b"=").decode()
    with pytest.raises(InvalidToken, match="EdDSA only"):
        verify_access_token(ring, POLICY, forged)


def test_rs256_token_is_refused() -> None:
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    token = jwt.encode(_claims(), rsa_key, algorithm="RS256", headers={"kid": "k1"})
    with pytest.raises(InvalidToken, match="EdDSA only"):
        verify_access_token(_ring(), POLICY, token)


def test_token_with_an_unknown_kid_is_refused() -> None:
    token = issue_access_token(_ring("gone"), POLICY, "alice", admin=False, now=datetime.now(UTC))
    with pytest.raises(InvalidToken, match="unknown"):
        verify_access_token(_ring("k1"), POLICY, token)


@pytest.mark.parametrize("garbage", ["", "abc", "a.b.c", "Bearer x.y.z"])
def test_malformed_token_is_refused(garbage: str) -> None:
    with pytest.raises(InvalidToken):
        verify_access_token(_ring(), POLICY, garbage)


def test_key_directory_is_created_once_and_rotation_keeps_old_tokens_valid(
    tmp_path: Path,
) -> None:
    keys = tmp_path / "keys"
    first = load_key_ring(keys, create=True, now=datetime.now(UTC))
    assert (
        load_key_ring(keys, create=True, now=datetime.now(UTC)).kids == first.kids
    )  # not regenerated
    assert oct((keys / f"{first.signing_kid}.pem").stat().st_mode & 0o777) == "0o600"
    old_token = issue_access_token(first, POLICY, "alice", admin=False, now=datetime.now(UTC))

    new_kid = add_key(keys, datetime.now(UTC) + timedelta(seconds=5))
    rotated = load_key_ring(keys, create=False, now=datetime.now(UTC))
    assert rotated.signing_kid == new_kid
    new_token = issue_access_token(rotated, POLICY, "bob", admin=False, now=datetime.now(UTC))
    assert jwt.get_unverified_header(new_token)["kid"] == new_kid
    assert verify_access_token(rotated, POLICY, old_token).subject == "alice"

    (keys / f"{first.signing_kid}.pem").unlink()  # the old key retired
    retired = load_key_ring(keys, create=False, now=datetime.now(UTC))
    with pytest.raises(InvalidToken, match="unknown"):
        verify_access_token(retired, POLICY, old_token)
    assert verify_access_token(retired, POLICY, new_token).subject == "bob"


def test_missing_key_directory_without_create_names_it(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no signing key"):
        load_key_ring(tmp_path / "none", create=False, now=datetime.now(UTC))
