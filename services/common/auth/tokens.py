"""Access tokens: JWTs signed with Ed25519 (``EdDSA``), the only algorithm accepted.

Why EdDSA: the graph both signs and verifies, so a shared HS256 secret would do, but an
asymmetric key lets other services (or a proxy) verify tokens with public keys alone, and a
key object of one type makes algorithm confusion impossible (an HS256 token "signed" with a
public key is refused before any signature check). Ed25519 keys are small and fast.

Every token carries ``kid``; the key ring signs with its newest key and verifies with any key
it holds, so a key is rotated by adding a new one and removing the old one once the tokens it
signed have expired (``access_ttl_s``).
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

ALGORITHM = "EdDSA"
REQUIRED_CLAIMS = ("exp", "iat", "iss", "aud", "sub")
_KEY_SUFFIX = ".pem"


class InvalidToken(Exception):
    """The token is not one this server issued, or no longer valid; the message says why
    (safe to show: it names no key material)."""


@dataclass(frozen=True)
class TokenPolicy:
    issuer: str
    audience: str
    access_ttl_s: float
    # Clock difference tolerated between the issuing and the verifying host.
    leeway_s: float = 30.0


@dataclass(frozen=True)
class AccessClaims:
    subject: str
    admin: bool
    expires_at: datetime


class KeyRing:
    """Signing keys by ``kid``: the greatest kid signs (kids sort by creation time)."""

    def __init__(self, keys: Mapping[str, Ed25519PrivateKey]) -> None:
        if not keys:
            raise ValueError("a key ring needs at least one key")
        self._keys = dict(keys)
        self.signing_kid = max(self._keys)

    @property
    def kids(self) -> tuple[str, ...]:
        return tuple(sorted(self._keys))

    def signing_key(self) -> Ed25519PrivateKey:
        return self._keys[self.signing_kid]

    def public_key(self, kid: str) -> Ed25519PublicKey | None:
        key = self._keys.get(kid)
        return None if key is None else key.public_key()


def new_kid(now: datetime) -> str:
    """A key id that sorts by creation time and is unique: ``20261201T170501Z-3f9a``."""
    return f"{now.astimezone(UTC):%Y%m%dT%H%M%SZ}-{secrets.token_hex(2)}"


def add_key(directory: Path, now: datetime) -> str:
    """Write a new Ed25519 private key (mode 0600) into ``directory``; it signs from now on.
    Answers its kid."""
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    kid = new_kid(now)
    pem = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    path = directory / f"{kid}{_KEY_SUFFIX}"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as file:
        file.write(pem)
    return kid


def load_key_ring(directory: Path, *, create: bool, now: datetime) -> KeyRing:
    """The keys in ``directory`` (``<kid>.pem``, Ed25519 PKCS#8); with ``create``, one is
    generated when there is none (the laptop stack's first start)."""
    paths = sorted(directory.glob(f"*{_KEY_SUFFIX}")) if directory.is_dir() else []
    if not paths:
        if not create:
            raise ValueError(f"no signing key (*{_KEY_SUFFIX}) in {directory}")
        add_key(directory, now)
        paths = sorted(directory.glob(f"*{_KEY_SUFFIX}"))
    keys: dict[str, Ed25519PrivateKey] = {}
    for path in paths:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise ValueError(f"{path} is not an Ed25519 private key")
        keys[path.name[: -len(_KEY_SUFFIX)]] = key
    return KeyRing(keys)


def issue_access_token(
    ring: KeyRing, policy: TokenPolicy, subject: str, *, admin: bool, now: datetime
) -> str:
    issued = int(now.timestamp())
    claims = {
        "iss": policy.issuer,
        "aud": policy.audience,
        "sub": subject,
        "iat": issued,
        "exp": issued + int(policy.access_ttl_s),
        "admin": admin,
    }
    return jwt.encode(
        claims, ring.signing_key(), algorithm=ALGORITHM, headers={"kid": ring.signing_kid}
    )


def verify_access_token(ring: KeyRing, policy: TokenPolicy, token: str) -> AccessClaims:
    """The token's claims, or :class:`InvalidToken`: unknown kid, any algorithm but EdDSA
    (``none`` and HS256 included), a bad signature, expired, not yet issued, or the wrong
    issuer or audience."""
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        raise InvalidToken("the token is malformed") from None
    if header.get("alg") != ALGORITHM:
        raise InvalidToken(f"tokens are signed with {ALGORITHM} only")
    kid = header.get("kid")
    key = ring.public_key(kid) if isinstance(kid, str) else None
    if key is None:
        raise InvalidToken("the token's signing key is unknown (rotated out?)")
    try:
        claims = jwt.decode(
            token,
            key,
            algorithms=[ALGORITHM],
            audience=policy.audience,
            issuer=policy.issuer,
            leeway=policy.leeway_s,
            options={"require": list(REQUIRED_CLAIMS)},
        )
    except jwt.ExpiredSignatureError:
        raise InvalidToken("the token has expired; refresh it or log in again") from None
    except jwt.InvalidAudienceError:
        raise InvalidToken("the token is for another audience") from None
    except jwt.InvalidIssuerError:
        raise InvalidToken("the token is from another issuer") from None
    except jwt.PyJWTError:
        raise InvalidToken("the token is invalid") from None
    subject = claims["sub"]
    if not isinstance(subject, str) or not subject:
        raise InvalidToken("the token names no user")
    return AccessClaims(
        subject=subject,
        admin=claims.get("admin") is True,
        expires_at=datetime.fromtimestamp(claims["exp"], tz=UTC),
    )
