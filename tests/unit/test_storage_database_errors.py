"""services/storage/database_errors.py: which failures mean "the database is unavailable"."""

from __future__ import annotations

import asyncpg
import pytest

from services.common.errors import Unavailable
from services.storage.database_errors import unavailable_when_database_is_down


@pytest.mark.parametrize(
    "error",
    [
        ConnectionRefusedError(111, "Connection refused"),
        TimeoutError(),
        asyncpg.CannotConnectNowError("the database system is starting up"),
        asyncpg.AdminShutdownError("terminating connection due to administrator command"),
        asyncpg.TooManyConnectionsError("sorry, too many clients already"),
        asyncpg.ConnectionDoesNotExistError("connection was closed in the middle of operation"),
        asyncpg.InterfaceError("pool is closed"),
        asyncpg.InterfaceError("connection is closed"),
        # What asyncpg raises on a connection the server terminated mid-operation.
        asyncpg.InternalClientError(
            "cannot switch to state 15; another operation (2) is in progress"
        ),
    ],
    ids=lambda e: type(e).__name__,
)
def test_database_unavailability_becomes_unavailable_with_its_cause(error: Exception) -> None:
    with pytest.raises(Unavailable) as raised, unavailable_when_database_is_down():
        raise error
    assert raised.value.__cause__ is error
    assert type(error).__name__ in str(raised.value)
    assert raised.value.retryable


@pytest.mark.parametrize(
    "error",
    [ValueError("bad"), asyncpg.UndefinedTableError("relation does not exist")],
    ids=lambda e: type(e).__name__,
)
def test_other_errors_pass_through_untranslated(error: Exception) -> None:
    with pytest.raises(type(error)), unavailable_when_database_is_down():
        raise error
