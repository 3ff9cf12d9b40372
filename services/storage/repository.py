"""Market events in PostgreSQL: idempotent batch writes, latest prices, trade history,
stored runs of id series (coverage, missing ids) and retention deletes."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import asyncpg

from services.common import names
from services.common.events import BookTicker, Event, Ticker
from services.common.intervals import IDS, SeriesStep
from services.common.trades import Trade
from services.storage import tables
from services.storage.coverage import (
    Coverage,
    ExchangeHole,
    Run,
    classify,
    holes_between,
    missing_in,
)
from services.storage.price_cache import LatestPrice
from services.storage.storage_mode import StorageMode
from services.storage.tables import EPOCH, Table, datetime_to_ms, ms_to_datetime


@dataclass(frozen=True)
class SeriesSpec:
    """Where a series with consecutive ids is stored: trades and aggTrades by id, final
    klines of one interval by open time (epoch milliseconds, one ``step`` apart: the
    interval, or for ``1M`` a calendar month)."""

    kind: str
    table: str
    key: str
    time_column: str
    step: SeriesStep = IDS
    interval: str | None = None

    @classmethod
    def of(cls, kind: str) -> SeriesSpec:
        """ValueError for a kind without consecutive ids."""
        if kind == names.TRADE:
            return cls(kind, "trades", "trade_id", "trade_time")
        if kind == names.AGGTRADE:
            return cls(kind, "agg_trades", "agg_id", "trade_time")
        if kind.startswith(names.KLINE_PREFIX):
            interval = kind.removeprefix(names.KLINE_PREFIX)
            step = SeriesStep.of_interval(interval)
            return cls(kind, "klines", "open_time", "open_time", step, interval)
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

    @property
    def run_sql(self) -> str:
        """Gaps and islands, in SQL over rows with ``id`` and the key: a number that stays
        the same along ids that follow each other and changes at every hole. For months
        their number (UTC months, whatever the session's time zone) less the row's rank;
        otherwise ``id - step × rank``."""
        rank = f"row_number() OVER (ORDER BY {self.key})"
        if self.step.monthly:
            month = f"({self.key} AT TIME ZONE 'UTC')"
            number = f"(extract(year FROM {month}) * 12 + extract(month FROM {month}))::bigint"
            return f"{number} - {rank}"
        return f"id - {self.step.size} * {rank}"


@dataclass(frozen=True, slots=True)
class StoredTrade:
    venue: str
    symbol: str
    trade_id: int
    price: str
    quantity: str
    trade_time_ms: int
    buyer_is_maker: bool


# Where retention finds each expiring kind's rows: (table, time column, extra condition).
_EXPIRY = {
    names.TRADE: ("trades", "trade_time"),
    names.AGGTRADE: ("agg_trades", "trade_time"),
    names.TICKER: ("ticker_history", "event_time"),
}


async def prepare_connection(conn: asyncpg.Connection) -> None:
    """Per-connection staging tables: COPY lands here, then one INSERT … ON CONFLICT."""
    for table in tables.ALL:
        await conn.execute(table.staging_ddl())


class TradeRepository:
    """Market events in PostgreSQL (every stored kind, trades first among them)."""

    def __init__(self, pool: asyncpg.Pool, mode: StorageMode = StorageMode.POSTGRESQL) -> None:
        self._pool = pool
        # The mode storage started in (storage_mode.enable): which keys writes conflict on.
        self.mode = mode
        self._statements = {table.name: table.statements(mode) for table in tables.ALL}

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
            first, *rest = self._statements[table.name]
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

    async def latest_book_tickers(
        self, symbols: Sequence[str] = (), venue: str | None = None
    ) -> list[BookTicker]:
        """Each (venue, symbol)'s latest best bid/ask, filtered as :meth:`latest_prices`."""
        return [
            BookTicker(**fields)
            for fields in await self._latest("book_tickers", tables.BOOK_TICKERS, symbols, venue)
        ]

    async def latest_tickers(
        self, symbols: Sequence[str] = (), venue: str | None = None
    ) -> list[Ticker]:
        """Each (venue, symbol)'s latest 24-hour ticker, filtered as :meth:`latest_prices`."""
        rows = await self._latest("tickers", tables.TICKERS, symbols, venue)
        return [Ticker(**fields) for fields in rows]

    async def _latest(
        self, table: str, kind: Table, symbols: Sequence[str], venue: str | None
    ) -> list[dict[str, Any]]:
        """The rows of a latest-per-symbol table as event fields: numerics as the decimal
        strings they were stored from, times (``x``) as epoch ms (``x_ms``) and
        ``received_at`` as epoch µs."""
        async with self._pool.acquire() as conn:
            rows = await conn.fetch(
                f"""SELECT {", ".join(kind.columns)} FROM {table}
                    WHERE (cardinality($1::text[]) = 0 OR symbol = ANY($1::text[]))
                      AND ($2::text IS NULL OR venue = $2)
                    ORDER BY symbol, venue""",
                list(symbols),
                venue,
            )
        return [dict(_event_field(name, value) for name, value in row.items()) for row in rows]

    async def stored_runs(
        self,
        series: SeriesSpec,
        venue: str,
        symbol: str,
        *,
        ids: tuple[int, int] | None = None,
        times_ms: tuple[int | None, int | None] = (None, None),
        max_runs: int,
    ) -> list[Run]:
        """The runs of consecutive stored ids (klines: open times ``series.step`` apart),
        ascending, the first ``max_runs``: within ``ids`` (both inclusive) and/or the
        half-open window ``times_ms`` of the series' time column (None: unbounded)."""
        # Gaps and islands (SeriesSpec.run_sql): one group per run.
        conditions = ["venue = $1", "symbol = $2"]
        arguments: list[object] = [venue, symbol, max_runs]
        if series.interval is not None:
            arguments.append(series.interval)
            conditions.append(f"interval = ${len(arguments)}")
        if ids is not None:
            arguments.extend(ids)
            low, high = len(arguments) - 1, len(arguments)
            conditions.append(
                f"{series.key} BETWEEN {series.bound_sql(f'${low}')} "
                f"AND {series.bound_sql(f'${high}')}"
            )
        for bound, operator in zip(times_ms, (">=", "<"), strict=True):
            if bound is not None:
                arguments.append(ms_to_datetime(bound))
                conditions.append(f"{series.time_column} {operator} ${len(arguments)}")
        async with self._pool.acquire() as conn:
            rows = await conn.fetch(
                f"""SELECT min(id) AS first_id, max(id) AS last_id, count(*) AS count
                    FROM (SELECT id, {series.run_sql} AS run
                          FROM (SELECT {series.key}, {series.id_sql} FROM {series.table}
                                WHERE {" AND ".join(conditions)}) AS ids
                    ) AS numbered
                    GROUP BY run ORDER BY first_id LIMIT $3""",
                *arguments,
            )
        return [Run(row["first_id"], row["last_id"], row["count"]) for row in rows]

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
        no stored row, ascending, the first ``max_ranges``."""
        runs = await self.stored_runs(
            series, venue, symbol, ids=(first_id, last_id), max_runs=max_ranges + 1
        )
        complete = len(runs) <= max_ranges
        return missing_in(runs, first_id, last_id, series.step, complete)[:max_ranges]

    async def coverage(
        self,
        series: SeriesSpec,
        venue: str,
        symbol: str,
        times_ms: tuple[int | None, int | None],
        max_runs: int,
    ) -> Coverage:
        """The stored runs of a series in a time window, the holes between them, and which
        of those Binance has no data for either (known exchange holes)."""
        runs = await self.stored_runs(
            series, venue, symbol, times_ms=times_ms, max_runs=max_runs + 1
        )
        truncated = len(runs) > max_runs
        runs = runs[:max_runs]
        holes = holes_between(runs, series.step)
        if holes:
            known = await self.exchange_holes(
                venue, symbol, series.kind, holes[0].first_id, holes[-1].last_id
            )
            holes = classify(holes, known, series.step)
        return Coverage(runs, holes, truncated)

    async def record_exchange_holes(self, holes: Sequence[ExchangeHole]) -> int:
        """Remember id ranges Binance has no data for; returns how many were new."""
        columns = ("venue", "symbol", "kind", "first_id", "last_id", "reason")
        async with self._pool.acquire() as conn:
            status = await conn.execute(
                f"""INSERT INTO exchange_holes ({", ".join(columns)})
                    SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[],
                                         $5::bigint[], $6::text[])
                    ON CONFLICT DO NOTHING""",
                *([getattr(hole, column) for hole in holes] for column in columns),
            )
        return int(status.rsplit(" ", 1)[-1])

    async def exchange_holes(
        self, venue: str, symbol: str, kind: str, first_id: int, last_id: int
    ) -> list[tuple[int, int]]:
        """Known exchange holes of a series that overlap ``first_id`` … ``last_id``."""
        async with self._pool.acquire() as conn:
            rows = await conn.fetch(
                """SELECT first_id, last_id FROM exchange_holes
                   WHERE venue = $1 AND symbol = $2 AND kind = $3
                     AND first_id <= $5 AND last_id >= $4
                   ORDER BY first_id""",
                venue,
                symbol,
                kind,
                first_id,
                last_id,
            )
        return [(row["first_id"], row["last_id"]) for row in rows]

    async def trades_after(
        self,
        venue: str,
        symbol: str,
        after_trade_id: int | None,
        times_ms: tuple[int | None, int | None],
        limit: int,
    ) -> list[StoredTrade]:
        """Up to ``limit`` trades above ``after_trade_id`` (None: from the first) in the
        half-open trade-time window ``times_ms``, in trade id order: one keyset page."""
        conditions = ["venue = $1", "symbol = $2"]
        arguments: list[object] = [venue, symbol, limit]
        if after_trade_id is not None:
            arguments.append(after_trade_id)
            conditions.append(f"trade_id > ${len(arguments)}")
        for bound, operator in zip(times_ms, (">=", "<"), strict=True):
            if bound is not None:
                arguments.append(ms_to_datetime(bound))
                conditions.append(f"trade_time {operator} ${len(arguments)}")
        async with self._pool.acquire() as conn:
            rows = await conn.fetch(
                f"""SELECT venue, symbol, trade_id, price, quantity, trade_time, buyer_is_maker
                    FROM trades WHERE {" AND ".join(conditions)}
                    ORDER BY trade_id LIMIT $3""",
                *arguments,
            )
        return [
            StoredTrade(
                venue=r["venue"],
                symbol=r["symbol"],
                trade_id=r["trade_id"],
                price=str(r["price"]),
                quantity=str(r["quantity"]),
                trade_time_ms=datetime_to_ms(r["trade_time"]),
                buyer_is_maker=r["buyer_is_maker"],
            )
            for r in rows
        ]

    async def trades(
        self,
        venue: str,
        symbol: str,
        after_trade_id: int | None,
        times_ms: tuple[int | None, int | None],
        limit: int,
        page_size: int,
    ) -> AsyncIterator[list[StoredTrade]]:
        """Pages of :meth:`trades_after` until ``limit`` trades (0: all) are read; each
        page its own short query, so a long read holds no transaction open."""
        left = limit or None
        while left is None or left > 0:
            size = page_size if left is None else min(page_size, left)
            page = await self.trades_after(venue, symbol, after_trade_id, times_ms, size)
            if not page:
                return
            yield page
            if len(page) < size:
                return
            after_trade_id = page[-1].trade_id
            if left is not None:
                left -= len(page)

    async def stored_kinds(self, venue: str | None = None, symbol: str | None = None) -> list[str]:
        """The series kinds with at least one row (of one venue and symbol, or of any):
        trade, aggtrade, then kline_<interval> as stored."""
        where = "" if symbol is None else "WHERE venue = $1 AND symbol = $2"
        arguments = [] if symbol is None else [venue or names.VENUE_BINANCE, symbol]
        after = "" if symbol is None else "AND venue = $1 AND symbol = $2"
        async with self._pool.acquire() as conn:
            kinds = [
                kind
                for table, kind in (("trades", names.TRADE), ("agg_trades", names.AGGTRADE))
                if await conn.fetchval(f"SELECT EXISTS (SELECT 1 FROM {table} {where})", *arguments)
            ]
            # DISTINCT would read every kline; this walks the primary key instead, one
            # index probe per (venue, symbol, interval) present.
            rows = await conn.fetch(
                f"""WITH RECURSIVE present AS (
                        (SELECT venue, symbol, interval FROM klines {where}
                         ORDER BY venue, symbol, interval LIMIT 1)
                        UNION ALL
                        SELECT next.* FROM present, LATERAL (
                            SELECT venue, symbol, interval FROM klines
                            WHERE (venue, symbol, interval)
                                  > (present.venue, present.symbol, present.interval)
                                  {after}
                            ORDER BY venue, symbol, interval LIMIT 1) AS next)
                    SELECT DISTINCT interval FROM present""",
                *arguments,
            )
        intervals = {row["interval"] for row in rows}
        kinds.extend(names.kline_kind(i) for i in names.KLINE_INTERVALS if i in intervals)
        return kinds

    async def delete_expired(self, kind: str, before_ms: int, batch_size: int) -> int:
        """Delete up to ``batch_size`` rows of ``kind`` whose exchange time is before
        ``before_ms``; returns how many went (fewer than ``batch_size``: none are left)."""
        if kind.startswith(names.KLINE_PREFIX):
            table, column = "klines", "open_time"
            only = "AND interval = $3"
            arguments: list[object] = [kind.removeprefix(names.KLINE_PREFIX)]
        else:
            table, column = _EXPIRY[kind]
            only, arguments = "", []
        # ctid batches keep each transaction short: a year of trades expiring at once
        # would otherwise hold its locks and bloat WAL in one statement.
        async with self._pool.acquire() as conn:
            status = await conn.execute(
                f"""DELETE FROM {table} WHERE ctid = ANY (ARRAY(
                        SELECT ctid FROM {table} WHERE {column} < $1 {only} LIMIT $2))""",
                ms_to_datetime(before_ms),
                batch_size,
                *arguments,
            )
        return int(status.rsplit(" ", 1)[-1])

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
        """(the mode: "timescaledb" or "postgresql", server_version)."""
        async with self._pool.acquire() as conn:
            version = await conn.fetchval("SHOW server_version")
        return (self.mode.value, str(version))


def _event_field(column: str, value: object) -> tuple[str, object]:
    if column == "received_at":
        if not isinstance(value, datetime):
            return "received_time_us", 0
        return "received_time_us", (value - EPOCH) // timedelta(microseconds=1)
    if isinstance(value, datetime):
        return f"{column}_ms", datetime_to_ms(value)
    if isinstance(value, Decimal):
        return column, str(value)
    return column, value
