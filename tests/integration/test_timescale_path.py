"""The TimescaleDB path for real: PostgreSQL 17 with TimescaleDB 2.23 (PGlite, in WASM)
behind our wire-protocol server (tests/fakes/pglite_server), reached by asyncpg.

One server for the module (PGlite serves one connection at a time: every test closes its
connections before the next starts). Policies do not run by themselves there: tests run
their jobs with ``CALL run_job``. Skipped without Node.js, except in CI.
"""

from __future__ import annotations

import csv
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import asyncpg
import grpc
import pytest
import pytest_asyncio
from nats.aio.client import Client as NatsClient

from quantflow.storage.v1 import storage_service_pb2 as pb
from quantflow.storage.v1 import storage_service_pb2_grpc
from services.common.events import AggTrade, Kline
from services.common.trades import Trade
from services.storage import service as storage_service
from services.storage import tables
from services.storage.migrations import load_migrations, prepare_schema
from services.storage.repository import TradeRepository, prepare_connection
from services.storage.storage_mode import StorageMode
from services.storage.tables import datetime_to_ms
from services.storage.timescale_retention import apply_retention_policies
from tests.conftest import FIXTURES
from tests.integration.helpers import (
    eventually,
    running,
    service_settings,
    trade,
    trade_publisher,
)
from tests.integration.pglite import pglite_server

pytestmark = pytest.mark.integration

ETH_1M = FIXTURES / "ETHUSDT-1m-2022-08-14.csv"
DAY = datetime(2022, 8, 14, tzinfo=UTC)


@pytest.fixture(scope="module")
def timescale_url() -> Iterator[str]:
    with pglite_server() as url:
        yield url


@pytest_asyncio.fixture(scope="module")
async def schema(timescale_url: str) -> tuple[StorageMode, int]:
    """What storage does at start: the mode, then the migrations of that mode."""
    conn = await asyncpg.connect(timescale_url)
    try:
        return await prepare_schema(conn)
    finally:
        await conn.close()


@pytest_asyncio.fixture
async def pool(timescale_url: str, schema: tuple[StorageMode, int]) -> AsyncIterator[asyncpg.Pool]:
    pool = await asyncpg.create_pool(timescale_url, min_size=1, max_size=1, init=prepare_connection)
    yield pool
    await pool.close()


def _eth_klines(venue: str = "binance") -> list[Kline]:
    """A real day of ETHUSDT 1m klines (data.binance.vision; see SOURCES.md)."""
    with ETH_1M.open(newline="") as handle:
        return [
            Kline(
                venue=venue,
                symbol="ETHUSDT",
                interval="1m",
                open_time_ms=int(row[0]),
                close_time_ms=int(row[6]),
                open=row[1],
                high=row[2],
                low=row[3],
                close=row[4],
                volume=row[5],
                quote_volume=row[7],
                trades=int(row[8]),
                first_trade_id=-1,
                last_trade_id=-1,
                taker_buy_volume=row[9],
                taker_buy_quote_volume=row[10],
                closed=True,
                event_time_ms=int(row[6]) + 1,
            )
            for row in csv.reader(handle)
        ]


def _candle(klines: list[Kline]) -> tuple[object, ...]:
    """Binance's semantics: open of the first, highest high, lowest low, close of the
    last, sums of volume, quote volume and trade count."""
    return (
        Decimal(klines[0].open),
        max(Decimal(k.high) for k in klines),
        min(Decimal(k.low) for k in klines),
        Decimal(klines[-1].close),
        sum(Decimal(k.volume) for k in klines),
        sum(Decimal(k.quote_volume) for k in klines),
        sum(k.trades for k in klines),
    )


def _agg_trade(agg_id: int) -> AggTrade:
    return AggTrade(
        venue="binance",
        symbol="BTCUSDT",
        agg_id=agg_id,
        price="61583.01000000",
        quantity="0.00100000",
        first_trade_id=agg_id * 3,
        last_trade_id=agg_id * 3 + 2,
        trade_time_ms=1723161255000 + agg_id,
        event_time_ms=1723161255001 + agg_id,
        buyer_is_maker=False,
    )


def _trade_at(trade_id: int, moment: datetime, symbol: str = "SOLUSDT") -> Trade:
    return Trade(
        venue="binance",
        symbol=symbol,
        trade_id=trade_id,
        price="150.25",
        quantity="1.5",
        trade_time_ms=datetime_to_ms(moment),
        event_time_ms=datetime_to_ms(moment) + 1,
        buyer_is_maker=True,
    )


async def test_timescale_mode_makes_hypertables_keyed_as_the_write_path_conflicts(
    schema: tuple[StorageMode, int], pool: asyncpg.Pool
) -> None:
    mode, version = schema
    assert mode is StorageMode.TIMESCALEDB
    assert version == load_migrations(mode)[-1].version
    applied = await pool.fetch("SELECT version FROM schema_migrations ORDER BY version")
    assert [r["version"] for r in applied] == [m.version for m in load_migrations(mode)]

    hypertables = await pool.fetch(
        """SELECT hypertable_name, compression_enabled
           FROM timescaledb_information.hypertables ORDER BY hypertable_name"""
    )
    assert [tuple(r) for r in hypertables] == [
        ("agg_trades", True),
        ("klines", True),
        ("trades", True),
    ]
    settings = await pool.fetch(
        """SELECT hypertable_name, attname, segmentby_column_index, orderby_column_index
           FROM timescaledb_information.compression_settings
           WHERE hypertable_name = 'trades' ORDER BY attname"""
    )
    assert [tuple(r) for r in settings] == [
        ("trades", "symbol", 2, None),
        ("trades", "trade_id", None, 2),
        ("trades", "trade_time", None, 1),
        ("trades", "venue", 1, None),
    ]
    for table in (tables.TRADES, tables.AGG_TRADES, tables.KLINES):
        key = await pool.fetchval(
            """SELECT array_agg(a.attname ORDER BY k.position)
               FROM pg_index i
               CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, position)
               JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
               WHERE i.indrelid = $1::regclass AND i.indisprimary""",
            table.like,
        )
        assert tuple(key) == table.conflict_key(StorageMode.TIMESCALEDB)
    assert tables.TRADES.conflict_key(mode) == ("venue", "symbol", "trade_id", "trade_time")
    views = await pool.fetch(
        """SELECT view_name FROM timescaledb_information.continuous_aggregates
           ORDER BY view_name"""
    )
    assert [r["view_name"] for r in views] == ["klines_1d", "klines_1h"]


async def test_writes_through_the_storage_path_are_stored_once_even_when_compressed(
    pool: asyncpg.Pool,
) -> None:
    repository = TradeRepository(pool, StorageMode.TIMESCALEDB)
    trades = [trade(i) for i in range(1, 251)]  # COPY of 100 rows or more: a known trap
    agg_trades = [_agg_trade(i) for i in range(1, 151)]
    klines = _eth_klines(venue="binance_usdm")
    assert await repository.write(tables.TRADES, trades) == 250
    assert await repository.write(tables.AGG_TRADES, agg_trades) == 150
    assert await repository.write(tables.KLINES, klines) == 1440

    assert await repository.write(tables.TRADES, trades) == 0
    assert await repository.write(tables.AGG_TRADES, agg_trades) == 0
    assert await repository.write(tables.KLINES, klines) == 0

    # Old data is compressed by policy; a replay over compressed chunks still adds nothing.
    compressed = await pool.fetch("SELECT compress_chunk(c) FROM show_chunks('trades') AS c")
    assert compressed
    assert await repository.write(tables.TRADES, [*trades[:120], trade(251)]) == 1
    stored = await pool.fetchrow(
        """SELECT count(*) AS count, min(trade_id) AS first, max(trade_id) AS last
           FROM trades WHERE venue = 'binance' AND symbol = 'BTCUSDT'"""
    )
    assert tuple(stored) == (251, 1, 251)
    [latest] = await repository.latest_prices(["BTCUSDT"], "binance")
    assert latest.trade_id == 251


async def test_continuous_aggregates_give_the_hour_and_day_candles_of_1m_klines(
    pool: asyncpg.Pool,
) -> None:
    klines = _eth_klines()
    await TradeRepository(pool, StorageMode.TIMESCALEDB).write(tables.KLINES, klines)
    # The refresh policies look at the last 3 days from now: a past day is refreshed
    # explicitly, as a backfill would.
    for view in ("klines_1h", "klines_1d"):
        await pool.execute(
            f"CALL refresh_continuous_aggregate('{view}', $1::timestamptz, $2::timestamptz)",
            DAY,
            DAY + timedelta(days=1),
        )
    columns = "open_time, open, high, low, close, volume, quote_volume, trades, klines"
    hours = await pool.fetch(
        f"""SELECT {columns} FROM klines_1h
            WHERE venue = 'binance' AND symbol = 'ETHUSDT' ORDER BY open_time"""
    )
    assert [r["open_time"] for r in hours] == [DAY + timedelta(hours=h) for h in range(24)]
    for hour, row in enumerate(hours):
        assert tuple(row)[1:8] == _candle(klines[hour * 60 : (hour + 1) * 60]), hour
        assert row["klines"] == 60
    day = await pool.fetchrow(
        f"SELECT {columns} FROM klines_1d WHERE venue = 'binance' AND symbol = 'ETHUSDT'"
    )
    assert day is not None
    assert (day["open_time"], *tuple(day)[1:8]) == (DAY, *_candle(klines))


async def test_compression_and_refresh_policies_do_their_jobs_when_run(
    pool: asyncpg.Pool,
) -> None:
    # Klines of two days ago, shifted from the real day: inside the refresh window (the
    # last 3 days) and past the compression age of trades (2 days), not of klines (14).
    now = datetime.now(UTC)
    start = (now - timedelta(days=2)).replace(hour=0, minute=0, second=0, microsecond=0)
    shift = datetime_to_ms(start) - datetime_to_ms(DAY)
    klines = [
        replace(k, open_time_ms=k.open_time_ms + shift, close_time_ms=k.close_time_ms + shift)
        for k in _eth_klines(venue="binance_usdm")[:180]
    ]
    repository = TradeRepository(pool, StorageMode.TIMESCALEDB)
    await repository.write(tables.KLINES, klines)
    five_days_ago = now - timedelta(days=5)
    await repository.write(tables.TRADES, [_trade_at(100, five_days_ago, "ADAUSDT")])
    jobs = {
        (r["proc_name"], r["hypertable_name"]): r["job_id"]
        for r in await pool.fetch(
            "SELECT job_id, proc_name, hypertable_name FROM timescaledb_information.jobs"
        )
    }

    await pool.execute(f"CALL run_job({jobs['policy_refresh_continuous_aggregate', 'klines_1h']})")
    hours = await pool.fetch(
        """SELECT open_time, open, close FROM klines_1h
           WHERE venue = 'binance_usdm' AND symbol = 'ETHUSDT' AND open_time >= $1
           ORDER BY open_time""",
        start,
    )
    assert [r["open_time"] for r in hours] == [start + timedelta(hours=h) for h in range(3)]
    assert (hours[0]["open"], hours[-1]["close"]) == (
        Decimal(klines[0].open),
        Decimal(klines[-1].close),
    )

    async def compressed() -> bool:
        return bool(
            await pool.fetchval(
                """SELECT is_compressed FROM timescaledb_information.chunks
                   WHERE hypertable_name = 'trades' AND range_start <= $1 AND range_end > $1""",
                five_days_ago,
            )
        )

    assert not await compressed()
    await pool.execute(f"CALL run_job({jobs['policy_compression', 'trades']})")
    assert await compressed()


async def test_retention_policy_job_drops_chunks_older_than_its_length(
    pool: asyncpg.Pool,
) -> None:
    now = datetime.now(UTC)
    moments = [now - timedelta(days=30), now - timedelta(days=20), now - timedelta(hours=1)]
    repository = TradeRepository(pool, StorageMode.TIMESCALEDB)
    await repository.write(tables.TRADES, [_trade_at(i, m) for i, m in enumerate(moments)])

    async with pool.acquire() as conn:
        jobs = await apply_retention_policies(
            conn,
            {"trade": timedelta(days=7), "kline_1m": timedelta(days=365), "kline_1h": None},
        )
    assert set(jobs) == {"trades", "klines"}
    drop_after = await pool.fetch(
        """SELECT hypertable_name, config->>'drop_after' AS drop_after
           FROM timescaledb_information.jobs
           WHERE proc_name = 'policy_retention' ORDER BY hypertable_name"""
    )
    assert [tuple(r) for r in drop_after] == [("klines", "365 days"), ("trades", "7 days")]

    chunks_before = await pool.fetchval("SELECT count(*) FROM show_chunks('trades')")
    await pool.execute(f"CALL run_job({jobs['trades']})")
    kept = await pool.fetch(
        "SELECT trade_id FROM trades WHERE symbol = 'SOLUSDT' ORDER BY trade_id"
    )
    assert [r["trade_id"] for r in kept] == [2]
    assert await pool.fetchval("SELECT count(*) FROM show_chunks('trades')") < chunks_before

    # Applied again at the next start with nothing named: the policies go.
    async with pool.acquire() as conn:
        assert await apply_retention_policies(conn, {}) == {}
    assert not await pool.fetchval(
        "SELECT count(*) FROM timescaledb_information.jobs WHERE proc_name = 'policy_retention'"
    )


async def _status(target: str) -> pb.GetStorageStatusResponse:
    async with grpc.aio.insecure_channel(target) as channel:
        reply: pb.GetStorageStatusResponse = await storage_service_pb2_grpc.StorageServiceStub(
            channel
        ).GetStorageStatus(pb.GetStorageStatusRequest(), timeout=5)
    return reply


async def test_storage_service_on_timescaledb_stores_bus_trades_and_says_so(
    timescale_url: str, nats_url: str, namespace: str, nats_client: NatsClient
) -> None:
    settings = service_settings(timescale_url, nats_url, namespace)
    _, publisher = await trade_publisher(nats_client, namespace)
    for trade_id in range(1, 301):
        await publisher.publish(trade(trade_id, symbol="ETHUSDT", price="2064.10"))
    await publisher.flush()

    async with running(storage_service.run, settings, settings.storage_grpc_port):

        async def stored() -> bool:
            status = await _status(settings.storage_target)
            return bool(status.trades_written == 300)

        await eventually(stored)
        status = await _status(settings.storage_target)
    assert status.backend == "timescaledb"
    assert status.schema_version == load_migrations(StorageMode.TIMESCALEDB)[-1].version
    assert status.server_version.startswith("17")

    conn = await asyncpg.connect(timescale_url)
    try:
        count = await conn.fetchval("SELECT count(*) FROM trades WHERE symbol = 'ETHUSDT'")
    finally:
        await conn.close()
    assert count == 300
