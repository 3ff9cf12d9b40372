"""Auth over GraphQL: login, refreshToken, API keys (by their owner), users (by an admin)."""

from __future__ import annotations

from datetime import UTC, datetime

import asyncpg
import strawberry
from strawberry.types import Info

from graph.authenticator import Authenticator, Tokens
from graph.context import Context
from graph.errors import TypedError
from graph.principal import require_admin, require_user
from services.common.auth.passwords import WeakPassword
from services.common.auth.store import ApiKey as StoredApiKey
from services.common.auth.store import AuthStore
from services.common.errors import QuantflowError

_UNAVAILABLE = "accounts need the database (QUANTFLOW_DATABASE_URL); none is configured"


@strawberry.type(description="A user: a name and whether they hold the admin role.")
class User:
    name: str
    admin: bool


@strawberry.type(description="What login and refreshToken answer.")
class AuthPayload:
    access_token: str = strawberry.field(
        description="Send as 'Authorization: Bearer <accessToken>'; short-lived."
    )
    refresh_token: str = strawberry.field(
        description="Trade it once for a new pair (refreshToken) before it expires."
    )
    expires_at: datetime = strawberry.field(description="When accessToken stops working.")
    token_type: str = "Bearer"
    user: User

    @classmethod
    def of(cls, tokens: Tokens) -> AuthPayload:
        return cls(
            access_token=tokens.access_token,
            refresh_token=tokens.refresh_token,
            expires_at=tokens.expires_at,
            user=User(name=tokens.principal.name, admin=tokens.principal.admin),
        )


@strawberry.type(description="An API key for a program; the key itself is shown only once.")
class ApiKey:
    id: str = strawberry.field(description="Public; the key reads qf_<id>_<secret>.")
    name: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None

    @classmethod
    def of(cls, key: StoredApiKey) -> ApiKey:
        return cls(
            id=key.id,
            name=key.name,
            created_at=key.created_at,
            last_used_at=key.last_used_at,
            revoked_at=key.revoked_at,
        )


@strawberry.type
class CreatedApiKey:
    key: str = strawberry.field(
        description="Send as 'Authorization: Bearer <key>'. Shown now only: keep it."
    )
    api_key: ApiKey


def _authenticator(info: Info[Context, None]) -> Authenticator:
    authenticator = info.context.auth.authenticator
    if not isinstance(authenticator, Authenticator) or authenticator.store is None:
        raise TypedError("UNAVAILABLE", _UNAVAILABLE)
    return authenticator


def _store(info: Info[Context, None]) -> AuthStore:
    store = _authenticator(info).store
    assert store is not None
    return store


def _typed(error: QuantflowError) -> TypedError:
    code = {"ALREADY_EXISTS": "CONFLICT"}.get(error.code, error.code)
    return TypedError(code, str(error))


def me(info: Info[Context, None]) -> User:
    principal = require_user(info)
    return User(name=principal.name, admin=principal.admin)


async def api_keys(info: Info[Context, None]) -> list[ApiKey]:
    principal = require_user(info)
    return [ApiKey.of(key) for key in await _store(info).api_keys(principal.name)]


async def login(info: Info[Context, None], username: str, password: str) -> AuthPayload:
    authenticator = _authenticator(info)
    assert authenticator.store is not None
    user = await authenticator.store.check_password(username, password)
    if user is None:
        raise TypedError("UNAUTHENTICATED", "wrong user name or password")
    return AuthPayload.of(await authenticator.issue(user.name, user.admin))


async def refresh_token(info: Info[Context, None], refresh_token: str) -> AuthPayload:
    authenticator = _authenticator(info)
    assert authenticator.store is not None
    user = await authenticator.store.spend_refresh_token(refresh_token, datetime.now(UTC))
    if user is None:
        raise TypedError(
            "UNAUTHENTICATED", "the refresh token is unknown, expired or used; log in again"
        )
    return AuthPayload.of(await authenticator.issue(user.name, user.admin))


async def create_api_key(info: Info[Context, None], name: str) -> CreatedApiKey:
    principal = require_user(info)
    store = _store(info)
    try:
        stored, key = await store.create_api_key(principal.name, name)
    except QuantflowError as error:
        raise _typed(error) from None
    except asyncpg.ForeignKeyViolationError:
        raise TypedError(
            "FAILED_PRECONDITION",
            f"{principal.name!r} is no stored user (the local admin of a loopback stack has "
            "no keys): add one with `quantflow user add`, log in, then create keys",
        ) from None
    return CreatedApiKey(key=key, api_key=ApiKey.of(stored))


async def revoke_api_key(info: Info[Context, None], id: str) -> ApiKey:
    principal = require_user(info)
    try:
        revoked = await _store(info).revoke_api_key(principal.name, id, datetime.now(UTC))
    except QuantflowError as error:
        raise _typed(error) from None
    return ApiKey.of(revoked)


async def create_user(
    info: Info[Context, None], name: str, password: str, admin: bool = False
) -> User:
    require_admin(info)
    try:
        user = await _store(info).add_user(name, password, admin=admin)
    except QuantflowError as error:
        raise _typed(error) from None
    except WeakPassword as error:
        raise TypedError("INVALID_ARGUMENT", str(error)) from None
    return User(name=user.name, admin=user.admin)


@strawberry.type
class AuthQueries:
    me: User = strawberry.field(resolver=me, description="Who this request acts as.")
    api_keys: list[ApiKey] = strawberry.field(
        resolver=api_keys, description="Your API keys, newest first, revoked ones included."
    )


@strawberry.type
class AuthMutations:
    login: AuthPayload = strawberry.field(
        resolver=login,
        description="Trade a user name and password for an access token and a refresh "
        "token; UNAUTHENTICATED when either is wrong (which one is not said).",
    )
    refresh_token: AuthPayload = strawberry.field(
        resolver=refresh_token,
        description="Trade a refresh token (once) for a new access and refresh token. A "
        "refresh token shown twice revokes every refresh token of its user.",
    )
    create_api_key: CreatedApiKey = strawberry.field(
        resolver=create_api_key, description="A new API key of yours, for a program."
    )
    revoke_api_key: ApiKey = strawberry.field(
        resolver=revoke_api_key, description="Revoke one of your API keys; NOT_FOUND for any other."
    )
    create_user: User = strawberry.field(
        resolver=create_user, description="Add a user (admin only)."
    )
