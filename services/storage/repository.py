"""Trades in PostgreSQL: idempotent batch writes and latest-price reads."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import asyncpg

from services.common.trades import Trade

_STAGING_COLUMNS = (
    "symbol",
    "trade_id",
    "price",
    "quantity",
    "trade_time",
    "buyer_is_maker",
    "venue",
    "received_at",
)


@dataclass(frozen=True)
class LatestPrice:
    venue: str
    symbol: str
    price: str
    quantity: str
    trade_id: int
    trade_time_ms: int


# Integer arithmetic only: a float epoch in seconds cannot hold every millisecond exactly.
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _ms_to_datetime(ms: int) -> datetime:
    return _EPOCH + timedelta(milliseconds=ms)


def _datetime_to_ms(moment: datetime) -> int:
    return (moment - _EPOCH) // timedelta(milliseconds=1)


def _row(trade: Trade) -> tuple[object, ...]:
    return (
        trade.symbol,
        trade.trade_id,
        Decimal(trade.price),
        Decimal(trade.quantity),
        _ms_to_datetime(trade.trade_time_ms),
        trade.buyer_is_maker,
        trade.venue,
        _EPOCH + timedelta(microseconds=trade.received_time_us) if trade.received_time_us else None,
    )


async def prepare_connection(conn: asyncpg.Connection) -> None:
    """Per-connection staging table: COPY lands here, then one INSERT … ON CONFLICT."""
    await conn.execute(
        "CREATE TEMP TABLE IF NOT EXISTS trades_staging "
        "(LIKE trades INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
    )


class TradeRepository:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def write_trades(self, trades: Sequence[Trade]) -> int:
        """Store a batch in one transaction; returns how many trades were new."""
        if not trades:
            return 0
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.copy_records_to_table(
                "trades_staging", records=[_row(t) for t in trades], columns=_STAGING_COLUMNS
            )
            status = await conn.execute(
                f"INSERT INTO trades ({', '.join(_STAGING_COLUMNS)}) "
                f"SELECT DISTINCT ON (venue, symbol, trade_id) {', '.join(_STAGING_COLUMNS)} "
                "FROM trades_staging ON CONFLICT (venue, symbol, trade_id) DO NOTHING"
            )
            await conn.execute(
                """INSERT INTO latest_prices
                       (venue, symbol, trade_id, price, quantity, trade_time)
                   SELECT DISTINCT ON (venue, symbol)
                       venue, symbol, trade_id, price, quantity, trade_time
                   FROM trades_staging ORDER BY venue, symbol, trade_id DESC
                   ON CONFLICT (venue, symbol) DO UPDATE SET
                       trade_id = EXCLUDED.trade_id, price = EXCLUDED.price,
                       quantity = EXCLUDED.quantity, trade_time = EXCLUDED.trade_time,
                       updated_at = now()
                   WHERE latest_prices.trade_id < EXCLUDED.trade_id"""
            )
        return int(status.rsplit(" ", 1)[-1])

    async def latest_prices(
        self, symbols: Sequence[str] = (), venue: str | None = None
    ) -> list[LatestPrice]:
        """Each (venue, symbol)'s latest trade; empty ``symbols`` means every symbol and a
        ``None`` venue every venue."""
        async with self._pool.acquire() as conn:
            rows = await conn.fetch(
                """SELECT venue, symbol, price, quantity, trade_id, trade_time
                   FROM latest_prices
                   WHERE (cardinality($1::text[]) = 0 OR symbol = ANY($1::text[]))
                     AND ($2::text IS NULL OR venue = $2)
                   ORDER BY symbol, venue""",
                list(symbols),
                venue,
            )
        return [
            LatestPrice(
                venue=r["venue"],
                symbol=r["symbol"],
                price=str(r["price"]),
                quantity=str(r["quantity"]),
                trade_id=r["trade_id"],
                trade_time_ms=_datetime_to_ms(r["trade_time"]),
            )
            for r in rows
        ]

    async def missing_trade_ids(
        self, venue: str, symbol: str, first_id: int, last_id: int, max_ranges: int
    ) -> list[tuple[int, int]]:
        """The ranges of ids in ``first_id`` … ``last_id`` with no stored trade, ascending."""
        # The stored ids walked in key order with two sentinels just outside the range:
        # wherever the next id is more than one ahead, the ids between are missing.
        async with self._pool.acquire() as conn:
            rows = await conn.fetch(
                """SELECT trade_id + 1 AS first_id, next_id - 1 AS last_id FROM (
                       SELECT trade_id, lead(trade_id) OVER (ORDER BY trade_id) AS next_id
                       FROM (SELECT $3::bigint - 1 AS trade_id
                             UNION ALL
                             SELECT trade_id FROM trades
                             WHERE venue = $1 AND symbol = $2
                               AND trade_id BETWEEN $3 AND $4
                             UNION ALL
                             SELECT $4::bigint + 1) AS ids
                   ) AS steps
                   WHERE next_id > trade_id + 1
                   ORDER BY first_id LIMIT $5""",
                venue,
                symbol,
                first_id,
                last_id,
                max_ranges,
            )
        return [(row["first_id"], row["last_id"]) for row in rows]

    async def backend(self) -> tuple[str, str]:
        """("timescaledb" or "postgresql", server_version)."""
        async with self._pool.acquire() as conn:
            installed = await conn.fetchval(
                "SELECT count(*) FROM pg_extension WHERE extname = 'timescaledb'"
            )
            version = await conn.fetchval("SHOW server_version")
        return ("timescaledb" if installed else "postgresql", str(version))
