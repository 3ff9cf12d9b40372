"""Trades in PostgreSQL: idempotent batch writes and latest-price reads."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import asyncpg

from services.common import names
from services.common.events import Event
from services.common.intervals import IDS, SeriesStep
from services.common.trades import Trade
from services.storage import tables
from services.storage.tables import Table, datetime_to_ms


@dataclass(frozen=True)
class SeriesSpec:
    """Where a series with consecutive ids is stored: trades and aggTrades by id, final
    klines of one interval by open time (epoch milliseconds, one ``step`` apart: the
    interval, or for ``1M`` a calendar month)."""

    table: str
    key: str
    step: SeriesStep = IDS
    interval: str | None = None

    @classmethod
    def of(cls, kind: str) -> SeriesSpec:
        """ValueError for a kind without consecutive ids."""
        if kind == names.TRADE:
            return cls("trades", "trade_id")
        if kind == names.AGGTRADE:
            return cls("agg_trades", "agg_id")
        if kind.startswith(names.KLINE_PREFIX):
            interval = kind.removeprefix(names.KLINE_PREFIX)
            return cls("klines", "open_time", SeriesStep.of_interval(interval), interval)
        raise ValueError(f"kind {kind!r} is not one of trade, aggtrade, kline_<interval>")

    @property
    def id_sql(self) -> str:
        if self.interval is None:
            return f"{self.key} AS id"
        return f"(extract(epoch FROM {self.key}) * 1000)::bigint AS id"

    def interval_sql(self, parameter: str) -> str:
        return "" if self.interval is None else f"AND interval = {parameter}"

    def bound_sql(self, parameter: str) -> str:
        if self.interval is None:
            return parameter
        return f"(timestamptz 'epoch' + {parameter}::bigint * interval '1 millisecond')"


@dataclass(frozen=True)
class LatestPrice:
    venue: str
    symbol: str
    price: str
    quantity: str
    trade_id: int
    trade_time_ms: int


async def prepare_connection(conn: asyncpg.Connection) -> None:
    """Per-connection staging tables: COPY lands here, then one INSERT … ON CONFLICT."""
    for table in tables.ALL:
        await conn.execute(table.staging_ddl())


class TradeRepository:
    """Market events in PostgreSQL (every stored kind, trades first among them)."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def write_trades(self, trades: Sequence[Trade]) -> int:
        """Store a batch of trades in one transaction; returns how many were new."""
        return await self.write(tables.TRADES, trades)

    async def write(self, table: Table, events: Sequence[Event]) -> int:
        """Store a batch of one kind in one transaction; returns how many rows it added
        (or, for latest-per-symbol tables, moved forward)."""
        if not events:
            return 0
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.copy_records_to_table(
                table.staging, records=[table.row(e) for e in events], columns=table.columns
            )
            first, *rest = table.statements
            status = await conn.execute(first)
            for statement in rest:
                await conn.execute(statement)
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
                trade_time_ms=datetime_to_ms(r["trade_time"]),
            )
            for r in rows
        ]

    async def missing_ids(
        self,
        series: SeriesSpec,
        venue: str,
        symbol: str,
        first_id: int,
        last_id: int,
        max_ranges: int,
    ) -> list[tuple[int, int]]:
        """The ranges of ids (each ``series.step`` apart) in ``first_id`` … ``last_id`` with
        no stored row, ascending."""
        if series.step.monthly:
            return await self._missing_months(series, venue, symbol, first_id, last_id, max_ranges)
        # The stored ids walked in key order with two sentinels just outside the range:
        # wherever the next id is more than one step ahead, the ids between are missing.
        async with self._pool.acquire() as conn:
            rows = await conn.fetch(
                f"""SELECT id + $5 AS first_id, next_id - $5 AS last_id FROM (
                       SELECT id, lead(id) OVER (ORDER BY id) AS next_id
                       FROM (SELECT $3::bigint - $5 AS id
                             UNION ALL
                             SELECT {series.id_sql} FROM {series.table}
                             WHERE venue = $1 AND symbol = $2
                               AND {series.key} BETWEEN {series.bound_sql("$3")}
                                                    AND {series.bound_sql("$4")}
                               {series.interval_sql("$7")}
                             UNION ALL
                             SELECT $4::bigint + $5) AS ids
                   ) AS steps
                   WHERE next_id > id + $5
                   ORDER BY first_id LIMIT $6""",
                venue,
                symbol,
                first_id,
                last_id,
                series.step.size,
                max_ranges,
                *([] if series.interval is None else [series.interval]),
            )
        return [(row["first_id"], row["last_id"]) for row in rows]

    async def _missing_months(
        self,
        series: SeriesSpec,
        venue: str,
        symbol: str,
        first_id: int,
        last_id: int,
        max_ranges: int,
    ) -> list[tuple[int, int]]:
        """:meth:`missing_ids` of monthly klines: months have no fixed length, so every
        month of the range is listed (a few hundred at most) and those with no row kept;
        consecutive ones make a range (a missing month's number less its rank among the
        missing is the same throughout a run of them). In UTC, whatever the session's
        time zone: months are Binance's UTC months."""
        async with self._pool.acquire() as conn:
            rows = await conn.fetch(
                """WITH months AS (
                       SELECT month AT TIME ZONE 'UTC' AS open_time,
                              extract(year FROM month) * 12 + extract(month FROM month) AS n
                       FROM generate_series(
                           (timestamptz 'epoch' + $3::bigint * interval '1 millisecond')
                               AT TIME ZONE 'UTC',
                           (timestamptz 'epoch' + $4::bigint * interval '1 millisecond')
                               AT TIME ZONE 'UTC',
                           interval '1 month') AS month
                   ), missing AS (
                       SELECT open_time, n - row_number() OVER (ORDER BY open_time) AS run
                       FROM months
                       WHERE NOT EXISTS (
                           SELECT 1 FROM klines
                           WHERE venue = $1 AND symbol = $2 AND interval = $5
                             AND klines.open_time = months.open_time)
                   )
                   SELECT (extract(epoch FROM min(open_time)) * 1000)::bigint AS first_id,
                          (extract(epoch FROM max(open_time)) * 1000)::bigint AS last_id
                   FROM missing GROUP BY run ORDER BY first_id LIMIT $6""",
                venue,
                symbol,
                first_id,
                last_id,
                series.interval,
                max_ranges,
            )
        return [(row["first_id"], row["last_id"]) for row in rows]

    async def last_id(self, series: SeriesSpec, venue: str, symbol: str) -> int | None:
        """The highest stored id of a series; None when it has none."""
        async with self._pool.acquire() as conn:
            last: int | None = await conn.fetchval(
                f"""SELECT {series.id_sql} FROM {series.table}
                    WHERE venue = $1 AND symbol = $2 {series.interval_sql("$3")}
                    ORDER BY {series.key} DESC LIMIT 1""",
                venue,
                symbol,
                *([] if series.interval is None else [series.interval]),
            )
        return last

    async def backend(self) -> tuple[str, str]:
        """("timescaledb" or "postgresql", server_version)."""
        async with self._pool.acquire() as conn:
            installed = await conn.fetchval(
                "SELECT count(*) FROM pg_extension WHERE extname = 'timescaledb'"
            )
            version = await conn.fetchval("SHOW server_version")
        return ("timescaledb" if installed else "postgresql", str(version))
