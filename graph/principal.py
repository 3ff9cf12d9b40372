"""Who a request acts as, and the checks resolvers make: a user at all, the admin role."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from graph.errors import TypedError
from services.common.auth.modes import LOCAL_USER


@dataclass(frozen=True)
class Principal:
    name: str
    admin: bool
    # The rate-limit bucket: "user:<name>", "key:<id>", or "local".
    client: str


LOCAL_ADMIN = Principal(LOCAL_USER, admin=True, client="local")


@dataclass
class RequestAuth:
    """What authentication found for one request (or one WebSocket connection)."""

    # None: nobody (auth required and no credentials): only login and refreshToken answer.
    principal: Principal | None
    # Why a credential that was sent is refused (every operation then answers UNAUTHENTICATED).
    refused: str | None = None
    # The bucket of an anonymous caller (its address), so login cannot be brute-forced.
    anonymous_client: str = "anonymous"
    # The HTTP response being built (a Retry-After header goes on it); None over WebSocket.
    response: Any = None
    # The Authenticator that made this (None in tests that build a Context by hand).
    authenticator: Any = None

    @property
    def client(self) -> str:
        return self.principal.client if self.principal else self.anonymous_client


def local_auth() -> RequestAuth:
    return RequestAuth(LOCAL_ADMIN)


class _HasAuth(Protocol):
    auth: RequestAuth


class _Info(Protocol):
    @property
    def context(self) -> _HasAuth: ...


def require_user(info: _Info) -> Principal:
    """The caller; UNAUTHENTICATED when nobody is logged in."""
    principal = info.context.auth.principal
    if principal is None:
        raise TypedError(
            "UNAUTHENTICATED",
            "log in first: the login mutation answers a token; send it as "
            "'Authorization: Bearer <token>' (or an API key the same way)",
        )
    return principal


def require_admin(info: _Info) -> Principal:
    """The caller when an admin; FORBIDDEN otherwise."""
    principal = require_user(info)
    if not principal.admin:
        raise TypedError("FORBIDDEN", "this needs the admin role")
    return principal


def owner(info: _Info) -> str:
    """The name whose objects (jobs, alert rules, channels, API keys) this request sees."""
    return require_user(info).name
