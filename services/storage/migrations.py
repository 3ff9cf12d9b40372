"""Versioned schema migrations, applied in order at start-up.

Files ``migrations/NNNN_name.sql``; each runs once, in its own transaction, recorded in
``schema_migrations``. An advisory lock lets several storage replicas start together.
In ``timescaledb`` mode the files of ``timescale/`` join them (one sequence of versions
across both folders); plain PostgreSQL never sees those.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources

import asyncpg

from services.common.errors import Unavailable
from services.common.settings import mask_password
from services.storage.storage_mode import StorageMode, enable

log = logging.getLogger(__name__)

_FILE_RE = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
_LOCK_KEY = 0x51F10  # any constant unique to this schema


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str


def load_migrations(mode: StorageMode = StorageMode.POSTGRESQL) -> list[Migration]:
    """Every packaged migration of ``mode``, in version order."""
    package = resources.files("services.storage")
    folders = [package / "migrations"]
    if mode is StorageMode.TIMESCALEDB:
        folders.append(package / "timescale")
    found = []
    for entry in (entry for folder in folders for entry in folder.iterdir()):
        match = _FILE_RE.match(entry.name)
        if match:
            found.append(Migration(int(match.group(1)), match.group(2), entry.read_text()))
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise RuntimeError(f"two migrations share a version: {versions}")
    return found


async def migrate(
    conn: asyncpg.Connection,
    migrations: Sequence[Migration] | None = None,
    mode: StorageMode = StorageMode.POSTGRESQL,
) -> int:
    """Apply what is missing of ``migrations`` (default: every packaged one of ``mode``);
    return the schema version now in force. Passing a prefix lets tests build an older
    schema."""
    await conn.execute("SELECT pg_advisory_lock($1)", _LOCK_KEY)
    try:
        await conn.execute(
            """CREATE TABLE IF NOT EXISTS schema_migrations (
                   version    integer PRIMARY KEY,
                   name       text NOT NULL,
                   applied_at timestamptz NOT NULL DEFAULT now())"""
        )
        applied = {r["version"] for r in await conn.fetch("SELECT version FROM schema_migrations")}
        current = max(applied, default=0)
        for migration in load_migrations(mode) if migrations is None else migrations:
            if migration.version in applied:
                continue
            async with conn.transaction():
                await conn.execute(migration.sql)
                await conn.execute(
                    "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
                    migration.version,
                    migration.name,
                )
            log.info("applied migration %04d_%s", migration.version, migration.name)
            current = migration.version
        return current
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", _LOCK_KEY)


async def prepare_schema(conn: asyncpg.Connection) -> tuple[StorageMode, int]:
    """What everything that writes does first (the storage service, ``quantflow import``):
    choose the mode (creating timescaledb where offered), then apply that mode's
    migrations. Returns the mode, which :class:`~services.storage.repository.TradeRepository`
    needs, and the schema version."""
    mode = await enable(conn)
    return mode, await migrate(conn, mode=mode)


async def open_migrated_pool(
    dsn: str, *, min_size: int, max_size: int, application_name: str | None = None
) -> asyncpg.Pool:
    """For a service that shares storage's schema (backtest, alerts): the migrations applied
    (whoever starts first does it), then a pool; a database that refuses is a one-line
    startup failure."""
    try:
        conn = await asyncpg.connect(dsn, timeout=10)
    except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
        raise Unavailable(
            f"cannot reach PostgreSQL at {mask_password(dsn)}: {error or type(error).__name__}; "
            "check QUANTFLOW_DATABASE_URL"
        ) from error
    try:
        await prepare_schema(conn)
    finally:
        await conn.close()
    settings = {"application_name": application_name} if application_name else None
    pool: asyncpg.Pool = await asyncpg.create_pool(
        dsn, min_size=min_size, max_size=max_size, server_settings=settings
    )
    return pool
