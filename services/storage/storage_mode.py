"""Which database storage runs on: plain PostgreSQL, or PostgreSQL with TimescaleDB.

Decided once, at start-up, before migrations: where the ``timescaledb`` extension is
available it is created (if it is not already) and storage runs in ``timescaledb`` mode,
else in ``postgresql`` mode. The mode decides which migrations apply (``timescale/*.sql``
only in ``timescaledb`` mode), which unique key the write path conflicts on
(:meth:`services.storage.tables.Table.conflict_key`) and who expires old rows (TimescaleDB's
retention policies, or the storage service itself). Health info reports it.
"""

from __future__ import annotations

import enum

import asyncpg


class StorageMode(enum.StrEnum):
    POSTGRESQL = "postgresql"
    TIMESCALEDB = "timescaledb"


async def enable(conn: asyncpg.Connection) -> StorageMode:
    """Create the timescaledb extension where the server offers it; the mode that follows.

    Once created the extension stays, and so does the mode: the tables are hypertables
    from then on."""
    available = await conn.fetchval(
        "SELECT count(*) FROM pg_available_extensions WHERE name = 'timescaledb'"
    )
    if not available:
        return StorageMode.POSTGRESQL
    await conn.execute("CREATE EXTENSION IF NOT EXISTS timescaledb")
    return StorageMode.TIMESCALEDB
