"""The ways asyncpg and the OS say "the database cannot be reached", translated once into
:class:`~services.common.errors.Unavailable` (gRPC UNAVAILABLE: retrying later may help)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import asyncpg

from services.common.errors import Unavailable

DATABASE_UNAVAILABLE_ERRORS: tuple[type[BaseException], ...] = (
    # Refused, reset or unreachable sockets, and connect or pool-acquire timeouts
    # (TimeoutError is an OSError).
    OSError,
    # SQLSTATE class 08: the connection failed or was lost mid-query.
    asyncpg.PostgresConnectionError,
    # 57P01-57P03: the server is shutting down, crashed, or not yet accepting connections.
    asyncpg.AdminShutdownError,
    asyncpg.CrashShutdownError,
    asyncpg.CannotConnectNowError,
    # 53300: every connection slot is taken.
    asyncpg.TooManyConnectionsError,
    # Client side: the connection or the pool is closed.
    asyncpg.InterfaceError,
)


@contextmanager
def unavailable_when_database_is_down() -> Iterator[None]:
    """Raise :class:`Unavailable`, naming the cause, for any database-unavailability error."""
    try:
        yield
    except DATABASE_UNAVAILABLE_ERRORS as error:
        cause = f"{type(error).__name__}: {error}"
        raise Unavailable(f"the database is unavailable: {cause}") from error
