"""The ways asyncpg and the OS say "the database cannot be reached" or "the connection was
lost", translated once into :class:`~services.common.errors.Unavailable` (gRPC UNAVAILABLE:
retrying later may help).

Every one of them is transient: the same statement succeeds once PostgreSQL is back, and
asyncpg's pool replaces a connection that died (a connection that fails its reset on
release is terminated, and a closed one is reconnected on the next acquire). Loops that
write (storage's consumer, the alerts evaluator, job workers) retry on these after a pause
instead of ending."""

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
    # asyncpg's own protocol-state error on a connection the server dropped mid-operation
    # (pg_terminate_backend, a restart): "cannot switch to state 15; another operation (2)
    # is in progress", raised e.g. by the pool resetting the dead connection on release.
    # Pool connections are never shared, so here it means a lost connection, not misuse.
    # Its subclass OutdatedSchemaCacheError (a table changed under a prepared statement)
    # also passes on a retry: asyncpg has dropped the stale cache by then.
    asyncpg.InternalClientError,
)


@contextmanager
def unavailable_when_database_is_down() -> Iterator[None]:
    """Raise :class:`Unavailable`, naming the cause, for any database-unavailability error."""
    try:
        yield
    except DATABASE_UNAVAILABLE_ERRORS as error:
        cause = f"{type(error).__name__}: {error}"
        raise Unavailable(f"the database is unavailable: {cause}") from error
