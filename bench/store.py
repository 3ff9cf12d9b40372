"""Writing trade batches to PostgreSQL: TradeRepository beside hand-rolled asyncpg writers."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from decimal import Decimal

import asyncpg

from bench.infra import fresh_database
from bench.report import Result, timed_async
from services.common.trades import Trade
from services.storage.migrations import migrate
from services.storage.repository import TradeRepository, prepare_connection

BATCH = 2000  # the storage service's default QUANTFLOW_STORAGE_BATCH_SIZE

# What a hand-rolled writer runs: idempotent thanks to the primary key.
INSERT_IDEMPOTENT = (
    "INSERT INTO trades (symbol, trade_id, price, quantity, trade_time, buyer_is_maker, venue) "
    "VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (venue, symbol, trade_id) DO NOTHING"
)

Writer = Callable[[asyncpg.Pool, Sequence[Trade]], Awaitable[None]]


def _time(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


def _batches(trades: Sequence[Trade]) -> list[Sequence[Trade]]:
    return [trades[i : i + BATCH] for i in range(0, len(trades), BATCH)]


async def _executemany(pool: asyncpg.Pool, trades: Sequence[Trade]) -> None:
    """The usual hand-rolled writer: ``executemany`` of an idempotent INSERT per batch."""
    async with pool.acquire() as conn:
        for batch in _batches(trades):
            async with conn.transaction():
                await conn.executemany(
                    INSERT_IDEMPOTENT,
                    [
                        (
                            t.symbol,
                            t.trade_id,
                            Decimal(t.price),
                            Decimal(t.quantity),
                            _time(t.trade_time_ms),
                            t.buyer_is_maker,
                            t.venue,
                        )
                        for t in batch
                    ],
                )


async def _values_literal(pool: asyncpg.Pool, trades: Sequence[Trade]) -> None:
    """The statement cryptofeed 3.0.1's ``TradePostgres.write_batch`` builds: one
    ``INSERT … VALUES (…),(…)`` of literals per batch; a duplicate fails the whole batch,
    which cryptofeed then drops (``except UniqueViolationError: pass``)."""
    async with pool.acquire() as conn:
        for batch in _batches(trades):
            values = ",".join(
                f"('{t.symbol}',{t.trade_id},{t.price},{t.quantity},"
                f"'{_time(t.trade_time_ms).isoformat()}',{str(t.buyer_is_maker).lower()},"
                f"'{t.venue}')"
                for t in batch
            )
            async with conn.transaction():
                try:
                    await conn.execute(
                        "INSERT INTO trades (symbol, trade_id, price, quantity, trade_time, "
                        f"buyer_is_maker, venue) VALUES {values}"
                    )
                except asyncpg.UniqueViolationError:
                    pass


async def _quantflow(pool: asyncpg.Pool, trades: Sequence[Trade]) -> None:
    repository = TradeRepository(pool)
    for batch in _batches(trades):
        await repository.write_trades(batch)


async def _measure(
    admin_url: str, case: str, writer: Writer, trades: Sequence[Trade], note: str, times: int = 1
) -> Result:
    """Run ``writer`` ``times`` over the same trades on a new database; time the last run."""
    async with fresh_database(admin_url) as url:
        conn = await asyncpg.connect(url)
        try:
            await migrate(conn)
        finally:
            await conn.close()
        pool = await asyncpg.create_pool(url, min_size=1, max_size=2, init=prepare_connection)
        try:
            for _ in range(times - 1):
                await writer(pool, trades)
            result = await timed_async("store", case, len(trades), writer(pool, trades), note)
            stored = await pool.fetchval("SELECT count(*) FROM trades")
        finally:
            await pool.close()
    distinct = len({(t.symbol, t.trade_id) for t in trades})
    if stored != distinct:
        raise RuntimeError(f"{case}: {stored} rows stored, expected {distinct}")
    return result


async def run(admin_url: str, trades: list[Trade]) -> list[Result]:
    return [
        await _measure(
            admin_url,
            "asyncpg executemany INSERT … ON CONFLICT DO NOTHING",
            _executemany,
            trades,
            f"batches of {BATCH}",
        ),
        await _measure(
            admin_url,
            "multi-row VALUES literal (cryptofeed TradePostgres)",
            _values_literal,
            trades,
            "a duplicate drops its batch",
        ),
        await _measure(
            admin_url,
            "quantflow TradeRepository.write_trades (COPY)",
            _quantflow,
            trades,
            "+ latest_prices upsert",
        ),
        await _measure(
            admin_url,
            "quantflow write_trades, same trades again",
            _quantflow,
            trades,
            "replay: all duplicates",
            times=2,
        ),
    ]
