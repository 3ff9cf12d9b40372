"""Users, refresh tokens and API keys in PostgreSQL (migration 0012)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import asyncpg

from services.common.auth import opaque
from services.common.auth.modes import LOCAL_USER
from services.common.auth.passwords import hash_password, verify_password
from services.common.errors import Conflict, InvalidArgument, NotFound

_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,62}$")
MAX_KEY_NAME = 100


def check_username(name: str) -> str:
    if not _NAME_RE.match(name):
        raise InvalidArgument(
            f"user name {name!r}: use 1-63 lower-case letters, digits, '.', '_' or '-', "
            "starting with a letter or digit"
        )
    if name == LOCAL_USER:
        raise InvalidArgument(
            f"{LOCAL_USER!r} is the local admin of a loopback stack; pick another"
        )
    return name


@dataclass(frozen=True)
class User:
    name: str
    admin: bool


@dataclass(frozen=True)
class ApiKey:
    id: str
    owner: str
    name: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


def _api_key(row: asyncpg.Record) -> ApiKey:
    return ApiKey(
        id=row["id"],
        owner=row["owner"],
        name=row["name"],
        created_at=row["created_at"],
        last_used_at=row["last_used_at"],
        revoked_at=row["revoked_at"],
    )


_KEY_COLUMNS = "id, owner, name, created_at, last_used_at, revoked_at"


class AuthStore:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def add_user(self, name: str, password: str, *, admin: bool) -> User:
        check_username(name)
        password_hash = hash_password(password)
        try:
            await self._pool.execute(
                "INSERT INTO users (name, password_hash, admin) VALUES ($1, $2, $3)",
                name,
                password_hash,
                admin,
            )
        except asyncpg.UniqueViolationError:
            raise Conflict(f"user {name!r} exists already") from None
        return User(name, admin)

    async def user(self, name: str) -> User | None:
        row = await self._pool.fetchrow("SELECT name, admin FROM users WHERE name = $1", name)
        return None if row is None else User(row["name"], row["admin"])

    async def check_password(self, name: str, password: str) -> User | None:
        """The user when ``password`` is theirs, else None (same time either way)."""
        row = await self._pool.fetchrow(
            "SELECT name, admin, password_hash FROM users WHERE name = $1", name
        )
        if not verify_password(None if row is None else row["password_hash"], password):
            return None
        assert row is not None
        return User(row["name"], row["admin"])

    async def new_refresh_token(self, user: str, ttl_s: float, now: datetime) -> str:
        token = opaque.new_refresh_token()
        await self._pool.execute(
            "INSERT INTO refresh_tokens (token_hash, username, expires_at) VALUES ($1, $2, $3)",
            opaque.digest(token),
            user,
            now + timedelta(seconds=ttl_s),
        )
        return token

    async def spend_refresh_token(self, token: str, now: datetime) -> User | None:
        """The token's user, the token spent; None when it is unknown, expired or spent.
        A spent token shown again means it was copied: every refresh token of its user is
        revoked, so whoever holds the copy (or the original) must log in again."""
        token_hash = opaque.digest(token)
        async with self._pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow(
                "SELECT username, expires_at, used_at FROM refresh_tokens "
                "WHERE token_hash = $1 FOR UPDATE",
                token_hash,
            )
            if row is None or row["expires_at"] <= now:
                return None
            if row["used_at"] is not None:
                await conn.execute(
                    "DELETE FROM refresh_tokens WHERE username = $1", row["username"]
                )
                return None
            await conn.execute(
                "UPDATE refresh_tokens SET used_at = $2 WHERE token_hash = $1", token_hash, now
            )
            user = await conn.fetchrow(
                "SELECT name, admin FROM users WHERE name = $1", row["username"]
            )
        return None if user is None else User(user["name"], user["admin"])

    async def create_api_key(self, owner: str, name: str) -> tuple[ApiKey, str]:
        """The new key's record and the key itself (shown once; only its hash is kept)."""
        name = name.strip()
        if not name or len(name) > MAX_KEY_NAME:
            raise InvalidArgument(f"an API key needs a name of 1-{MAX_KEY_NAME} characters")
        new = opaque.new_api_key()
        row = await self._pool.fetchrow(
            f"INSERT INTO api_keys (id, owner, name, key_hash) VALUES ($1, $2, $3, $4) "
            f"RETURNING {_KEY_COLUMNS}",
            new.key_id,
            owner,
            name,
            new.key_hash,
        )
        return _api_key(row), new.key

    async def api_keys(self, owner: str) -> list[ApiKey]:
        rows = await self._pool.fetch(
            f"SELECT {_KEY_COLUMNS} FROM api_keys WHERE owner = $1 ORDER BY created_at DESC, id",
            owner,
        )
        return [_api_key(row) for row in rows]

    async def revoke_api_key(self, owner: str, key_id: str, now: datetime) -> ApiKey:
        """Revoke the owner's key; NOT_FOUND for a key of anyone else (not FORBIDDEN: that
        would tell the key exists)."""
        row = await self._pool.fetchrow(
            f"UPDATE api_keys SET revoked_at = coalesce(revoked_at, $3) "
            f"WHERE id = $1 AND owner = $2 RETURNING {_KEY_COLUMNS}",
            key_id,
            owner,
            now,
        )
        if row is None:
            raise NotFound(f"no API key {key_id!r}")
        return _api_key(row)

    async def user_of_api_key(self, key: str) -> User | None:
        """The owner of a valid, unrevoked key, else None."""
        key_id = opaque.api_key_id(key)
        if key_id is None:
            return None
        row = await self._pool.fetchrow(
            "SELECT k.key_hash, u.name, u.admin FROM api_keys k JOIN users u ON u.name = k.owner "
            "WHERE k.id = $1 AND k.revoked_at IS NULL",
            key_id,
        )
        if row is None or not opaque.same_digest(row["key_hash"], key):
            return None
        await self._pool.execute(
            "UPDATE api_keys SET last_used_at = $2 WHERE id = $1", key_id, datetime.now(UTC)
        )
        return User(row["name"], row["admin"])
