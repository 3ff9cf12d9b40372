"""TradeRepository and migrations against a real PostgreSQL database."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest
import pytest_asyncio

from services.storage.migrations import load_migrations, migrate, prepare_schema
from services.storage.repository import TradeRepository, prepare_connection
from services.storage.storage_mode import StorageMode
from tests.integration.helpers import trade

pytestmark = pytest.mark.integration


@pytest_asyncio.fixture
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    conn = await asyncpg.connect(database_url)
    await migrate(conn)
    await conn.close()
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=2, init=prepare_connection)
    yield pool
    await pool.close()


async def test_migrate_twice_applies_each_migration_once(database_url: str) -> None:
    conn = await asyncpg.connect(database_url)
    try:
        first = await migrate(conn)
        second = await migrate(conn)
        rows = await conn.fetch("SELECT version FROM schema_migrations ORDER BY version")
    finally:
        await conn.close()
    assert first == second == load_migrations()[-1].version
    assert [r["version"] for r in rows] == [m.version for m in load_migrations()]


async def test_prepare_schema_without_timescaledb_keeps_plain_postgresql(
    database_url: str,
) -> None:
    conn = await asyncpg.connect(database_url)
    try:
        mode, version = await prepare_schema(conn)
        extensions = await conn.fetchval(
            "SELECT count(*) FROM pg_extension WHERE extname = 'timescaledb'"
        )
        key = await conn.fetchval(
            """SELECT pg_get_constraintdef(oid) FROM pg_constraint
               WHERE conrelid = 'trades'::regclass AND contype = 'p'"""
        )
    finally:
        await conn.close()
    assert (mode, version, extensions) == (StorageMode.POSTGRESQL, load_migrations()[-1].version, 0)
    assert key == "PRIMARY KEY (venue, symbol, trade_id)"


async def test_write_same_batch_twice_stores_it_once(pool: asyncpg.Pool) -> None:
    repository = TradeRepository(pool)
    batch = [trade(i) for i in range(1, 101)]
    assert await repository.write_trades(batch) == 100
    assert await repository.write_trades(batch) == 0
    assert await pool.fetchval("SELECT count(*) FROM trades") == 100


async def test_write_batch_with_internal_duplicates_stores_each_trade_once(
    pool: asyncpg.Pool,
) -> None:
    repository = TradeRepository(pool)
    assert await repository.write_trades([trade(1), trade(2), trade(1)]) == 2


async def test_stored_trade_keeps_exchange_decimal_text_and_times(pool: asyncpg.Pool) -> None:
    repository = TradeRepository(pool)
    await repository.write_trades([trade(7, price="0.00001230")])
    row = await pool.fetchrow("SELECT price, quantity, trade_time, buyer_is_maker FROM trades")
    assert str(row["price"]) == "0.00001230"
    assert str(row["quantity"]) == "0.00100000"
    assert int(row["trade_time"].timestamp() * 1000) == 1723161255007
    assert row["buyer_is_maker"] is False


async def test_latest_price_is_highest_trade_id_even_when_batches_arrive_out_of_order(
    pool: asyncpg.Pool,
) -> None:
    repository = TradeRepository(pool)
    await repository.write_trades([trade(10, "2.0"), trade(11, "3.0")])
    await repository.write_trades([trade(5, "1.0")])  # late redelivery of older trades
    [latest] = await repository.latest_prices(["BTCUSDT"])
    assert (latest.trade_id, latest.price) == (11, "3.0")
    assert latest.trade_time_ms == 1723161255011


async def test_latest_prices_lists_each_symbol_once(pool: asyncpg.Pool) -> None:
    repository = TradeRepository(pool)
    await repository.write_trades([trade(1), trade(2), trade(9, "2064.1", "ETHUSDT")])
    prices = await repository.latest_prices()
    assert [(p.symbol, p.trade_id) for p in prices] == [("BTCUSDT", 2), ("ETHUSDT", 9)]
    assert await repository.latest_prices(["DOGEUSDT"]) == []


async def test_backend_reports_the_mode_it_was_given(pool: asyncpg.Pool) -> None:
    backend, version = await TradeRepository(pool).backend()
    assert backend == "postgresql"
    assert version[:2].isdigit()
