"""Coverage and history over a large stored series: ours (gaps and islands in SQL, keyset
pages) beside what one would otherwise write (every id into Python, OFFSET pages)."""

from __future__ import annotations

import asyncpg

from bench.infra import fresh_database
from bench.report import Result, timed_async
from services.storage.migrations import migrate
from services.storage.repository import SeriesSpec, TradeRepository, prepare_connection

# One trade id in this many is missing: a badly holed history.
HOLE_EVERY = 10_000
PAGE = 1_000


async def _ids_in_python(pool: asyncpg.Pool) -> int:
    """The obvious alternative: fetch every id and walk them for holes."""
    rows = await pool.fetch(
        "SELECT trade_id FROM trades WHERE venue = 'binance' AND symbol = 'BTCUSDT' "
        "ORDER BY trade_id"
    )
    holes, previous = 0, None
    for row in rows:
        if previous is not None and row["trade_id"] != previous + 1:
            holes += 1
        previous = row["trade_id"]
    return holes


async def run(admin_url: str, size: int) -> list[Result]:
    async with fresh_database(admin_url) as url:
        conn = await asyncpg.connect(url)
        try:
            await migrate(conn)
            await conn.execute(
                """INSERT INTO trades (symbol, trade_id, price, quantity, trade_time,
                                       buyer_is_maker, venue)
                   SELECT 'BTCUSDT', g, 61583.01, 0.001,
                          timestamptz '2024-01-01' + g * interval '1 millisecond', true, 'binance'
                   FROM generate_series(1, $1::bigint) AS g WHERE g % $2 <> 0""",
                size,
                HOLE_EVERY,
            )
            await conn.execute("ANALYZE trades")
        finally:
            await conn.close()
        pool = await asyncpg.create_pool(url, min_size=1, max_size=2, init=prepare_connection)
        try:
            repository = TradeRepository(pool)
            series = SeriesSpec.of("trade")
            holes = size // HOLE_EVERY
            coverage = repository.coverage(series, "binance", "BTCUSDT", (None, None), 10_000)
            results = [
                await timed_async(
                    "coverage",
                    "quantflow coverage (gaps and islands in SQL)",
                    size,
                    coverage,
                    f"{holes} holes",
                ),
                await timed_async(
                    "coverage",
                    "every id into Python, walked for holes",
                    size,
                    _ids_in_python(pool),
                    f"{holes} holes",
                ),
            ]
            deep = size - 2 * PAGE
            keyset = repository.trades_after("binance", "BTCUSDT", deep, (None, None), PAGE)
            offset = pool.fetch(
                "SELECT * FROM trades WHERE venue = 'binance' AND symbol = 'BTCUSDT' "
                "ORDER BY trade_id OFFSET $1 LIMIT $2",
                deep,
                PAGE,
            )
            results += [
                await timed_async(
                    "history", f"quantflow keyset page at row {deep:,}", PAGE, keyset
                ),
                await timed_async("history", "OFFSET page at the same depth", PAGE, offset),
            ]
        finally:
            await pool.close()
    return results
