"""Turning an ``Authorization`` header (or a WebSocket ``connection_init`` payload) into a
:class:`~graph.principal.RequestAuth`, and what the auth mutations need: the user table,
the signing keys, the rate limiter."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from graph.principal import LOCAL_ADMIN, Principal, RequestAuth
from services.common.auth.buckets import RateLimiter
from services.common.auth.modes import AuthMode, effective_mode
from services.common.auth.store import AuthStore
from services.common.auth.tokens import (
    InvalidToken,
    KeyRing,
    TokenPolicy,
    issue_access_token,
    load_key_ring,
    verify_access_token,
)
from services.common.settings import Settings

log = logging.getLogger(__name__)

_BEARER = "bearer "


@dataclass(frozen=True)
class AuthConfig:
    mode: AuthMode
    database_url: str | None
    keys_dir: Path
    # True where the key directory is the default under the data directory: the laptop
    # stack generates its first key there. A configured directory must hold keys.
    create_keys: bool
    policy: TokenPolicy
    refresh_ttl_s: float
    rate_burst: float
    rate_per_s: float
    # Introspection and field suggestions even where auth is required.
    introspection: bool = False

    def key_ring(self) -> KeyRing:
        """The signing keys (the first generated where that is allowed); SystemExit naming
        the directory and the fix when there are none."""
        try:
            return load_key_ring(self.keys_dir, create=self.create_keys, now=datetime.now(UTC))
        except (OSError, ValueError) as error:
            raise SystemExit(
                f"QUANTFLOW_AUTH_KEYS_DIR: {error}; add one with `openssl genpkey -algorithm "
                f"ed25519 -out {self.keys_dir}/$(date -u +%Y%m%dT%H%M%SZ)-a.pem`"
            ) from None

    @classmethod
    def from_settings(cls, settings: Settings) -> AuthConfig:
        return cls(
            mode=effective_mode(settings.auth, settings.graph_host),
            database_url=settings.database_dsn(),
            keys_dir=settings.jwt_keys_dir(),
            create_keys=settings.auth_keys_dir is None,
            policy=TokenPolicy(
                issuer=settings.auth_issuer,
                audience=settings.auth_audience,
                access_ttl_s=settings.auth_access_ttl_s,
            ),
            refresh_ttl_s=settings.auth_refresh_ttl_s,
            rate_burst=settings.rate_limit_burst,
            rate_per_s=settings.rate_limit_per_s,
            introspection=settings.introspection,
        )


_NO_ACCOUNTS = AuthConfig(
    mode=AuthMode.LOCAL,
    database_url=None,
    keys_dir=Path("/nonexistent"),
    create_keys=False,
    policy=TokenPolicy(issuer="quantflow", audience="quantflow-graph", access_ttl_s=900),
    refresh_ttl_s=86_400,
    rate_burst=1e9,
    rate_per_s=1e9,
)


@dataclass(frozen=True)
class Tokens:
    access_token: str
    refresh_token: str
    expires_at: datetime
    principal: Principal


class Authenticator:
    def __init__(
        self,
        config: AuthConfig,
        ring: KeyRing,
        store: AuthStore | None,
        pool: asyncpg.Pool | None = None,
    ) -> None:
        self.config = config
        self.mode = config.mode
        self.ring = ring
        # None without a database: tokenless local mode only, login answers UNAVAILABLE.
        self.store = store
        self.limiter = RateLimiter(config.rate_burst, config.rate_per_s)
        self._pool = pool

    @classmethod
    async def start(cls, config: AuthConfig | None) -> Authenticator:
        """Keys loaded (or generated), the users table reached. None: local mode without
        accounts, its key in memory only (it never signs anything)."""
        if config is None:
            config = _NO_ACCOUNTS
            ring = KeyRing({"ephemeral": Ed25519PrivateKey.generate()})
            return cls(config, ring, None)
        if config.mode is AuthMode.REQUIRED and not config.database_url:
            raise SystemExit(
                "QUANTFLOW_AUTH=required needs the users table: set QUANTFLOW_DATABASE_URL"
            )
        ring = config.key_ring()
        pool = None
        if config.database_url:
            pool = await asyncpg.create_pool(config.database_url, min_size=1, max_size=4)
        log.info("auth: %s mode, signing key %s", config.mode.value, ring.signing_kid)
        return cls(config, ring, AuthStore(pool) if pool else None, pool)

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()

    @property
    def required(self) -> bool:
        return self.mode is AuthMode.REQUIRED

    async def authenticate(
        self, authorization: str | None, client_address: str, response: Any = None
    ) -> RequestAuth:
        """The request's caller from its ``Authorization`` value: a bearer access token or
        API key; without one, the local admin in local mode and nobody in required mode."""
        anonymous = client_address
        if not authorization:
            principal = None if self.required else LOCAL_ADMIN
            return RequestAuth(principal, None, anonymous, response, self)
        if not authorization.lower().startswith(_BEARER):
            malformed = "send credentials as 'Authorization: Bearer <token or API key>'"
            return RequestAuth(None, malformed, anonymous, response, self)
        credential = authorization[len(_BEARER) :].strip()
        principal, refused = await self._principal(credential)
        return RequestAuth(principal, refused, anonymous, response, self)

    async def authenticate_connection(
        self, params: Mapping[str, object] | None, client_address: str
    ) -> RequestAuth:
        """A WebSocket's caller from its ``connection_init`` payload: ``{"Authorization":
        "Bearer …"}`` (as a header would be) or ``{"token": "…"}``."""
        params = params or {}
        value = params.get("Authorization", params.get("authorization"))
        token = params.get("token")
        if value is None and isinstance(token, str):
            value = f"Bearer {token}"
        return await self.authenticate(value if isinstance(value, str) else None, client_address)

    async def _principal(self, credential: str) -> tuple[Principal | None, str | None]:
        if credential.startswith("qf_"):
            user = await self.store.user_of_api_key(credential) if self.store else None
            if user is None:
                return None, "the API key is unknown or revoked"
            return Principal(user.name, user.admin, f"key:{credential[3:15]}"), None
        try:
            claims = verify_access_token(self.ring, self.config.policy, credential)
        except InvalidToken as error:
            return None, str(error)
        return Principal(claims.subject, claims.admin, f"user:{claims.subject}"), None

    async def issue(self, name: str, admin: bool) -> Tokens:
        assert self.store is not None
        now = datetime.now(UTC)
        access = issue_access_token(self.ring, self.config.policy, name, admin=admin, now=now)
        refresh = await self.store.new_refresh_token(name, self.config.refresh_ttl_s, now)
        expires = datetime.fromtimestamp(
            int(now.timestamp()) + int(self.config.policy.access_ttl_s), tz=UTC
        )
        return Tokens(access, refresh, expires, Principal(name, admin, f"user:{name}"))

    def wait_before(self, client: str, cost: int) -> float:
        """0 when ``client`` may spend ``cost`` now, else the seconds to wait."""
        return self.limiter.take(client, cost, time.monotonic())
