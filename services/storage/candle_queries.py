"""Candles of any interval from PostgreSQL: stored klines read as they are, or finer klines
or trades aggregated in SQL, exactly (numeric sums; prices as text).

The rule is :mod:`services.common.candles`'s (Binance's): open of the first, highest high,
lowest low, close of the last, sums of volume, quote volume and trades. Rows stream out of a
server-side cursor in batches, so a long series never sits in memory whole.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg

from services.common import candles, names
from services.common.intervals import kline_step_ms

# (open_time ms, open, high, low, close, volume, quote_volume, trades): decimal strings.
CandleRow = tuple[int, str, str, str, str, str, str, int]

_BATCH = 10_000
_MS = "(extract(epoch FROM {column}) * 1000)::bigint"
_BOUND = "(timestamptz 'epoch' + {parameter}::bigint * interval '1 millisecond')"
# Weekly candles open on Mondays; 1970-01-05 was one.
_MONDAY = "timestamptz '1970-01-05 00:00:00+00'"


def _bucket_sql(interval: str, column: str) -> str:
    """SQL for the open time (a timestamptz) of the ``interval`` candle holding ``column``."""
    if interval == candles.MONTH:
        return f"date_trunc('month', {column}, 'UTC')"
    origin = _MONDAY if interval.endswith("w") else "timestamptz 'epoch'"
    return f"date_bin(interval '{kline_step_ms(interval)} milliseconds', {column}, {origin})"


def _stored_sql() -> str:
    """The stored klines of one interval, as they are: $1 venue, $2 symbol, $3 start ms,
    $4 end ms, $5 interval."""
    return f"""
        SELECT {_MS.format(column="open_time")}, open::text, high::text, low::text,
               close::text, volume::text, quote_volume::text, trades
        FROM klines
        WHERE venue = $1 AND symbol = $2 AND interval = $5
          AND open_time >= {_BOUND.format(parameter="$3")}
          AND open_time < {_BOUND.format(parameter="$4")}
        ORDER BY open_time"""


def _last_source_open_sql(interval: str, source_interval: str, bucket: str) -> str:
    """SQL for the open time of the last ``source_interval`` candle in a bucket."""
    step = kline_step_ms(source_interval)
    if interval == candles.MONTH:
        return f"({bucket} + interval '1 month' - interval '{step} milliseconds')"
    return f"({bucket} + interval '{kline_step_ms(interval) - step} milliseconds')"


def _aggregate_sql(interval: str, source: str) -> str:
    """Every bucket's open time (ms), open, high, low, close and sums, built from finer
    klines: the open is the open of the candle at the bucket's start and the close the close
    of the candle at its end, picked out by a filter (NULL when that candle is missing: see
    :func:`_edges_sql`), so one hash aggregate reads every row once and sorts none.
    Parameters as :func:`_stored_sql`."""
    bucket = _bucket_sql(interval, "open_time")
    last = _last_source_open_sql(interval, source.removeprefix(names.KLINE_PREFIX), "bucket")
    return f"""
        SELECT {_MS.format(column="bucket")},
               (max(open) FILTER (WHERE open_time = bucket))::text,
               max(high)::text, min(low)::text,
               (max(close) FILTER (WHERE open_time = {last}))::text,
               sum(volume)::text, sum(quote_volume)::text, sum(trades)::bigint
        FROM (SELECT {bucket} AS bucket, open_time, open, high, low, close,
                     volume, quote_volume, trades
              FROM klines
              WHERE venue = $1 AND symbol = $2 AND interval = $5
                AND open_time >= {_BOUND.format(parameter="$3")}
                AND open_time < {_BOUND.format(parameter="$4")}) AS source
        GROUP BY bucket ORDER BY bucket"""


def _edges_sql() -> str:
    """The open of the first and the close of the last stored candle in given buckets
    (those whose first or last source candle is missing): $1 venue, $2 symbol, $3 interval,
    $4 bucket starts (ms), $5 bucket ends (ms)."""
    where = f"""venue = $1 AND symbol = $2 AND interval = $3
                AND open_time >= {_BOUND.format(parameter="edge.start")}
                AND open_time < {_BOUND.format(parameter="edge.stop")}"""
    return f"""
        SELECT edge.start,
               (SELECT open::text FROM klines WHERE {where} ORDER BY open_time LIMIT 1),
               (SELECT close::text FROM klines WHERE {where} ORDER BY open_time DESC LIMIT 1)
        FROM unnest($4::bigint[], $5::bigint[]) AS edge(start, stop)"""


def _trades_sql(interval: str) -> str:
    """Every bucket's open time (ms), first and last trade id, high, low and sums, built
    from trades; the open and close prices are looked up by id (:func:`_prices_sql`).
    Parameters: $1 venue, $2 symbol, $3 start ms, $4 end ms."""
    return f"""
        SELECT {_MS.format(column="bucket")}, min(trade_id), max(price)::text,
               min(price)::text, max(trade_id), sum(quantity)::text,
               sum(price * quantity)::text, count(*)
        FROM (SELECT {_bucket_sql(interval, "trade_time")} AS bucket,
                     trade_id, price, quantity
              FROM trades
              WHERE venue = $1 AND symbol = $2
                AND trade_time >= {_BOUND.format(parameter="$3")}
                AND trade_time < {_BOUND.format(parameter="$4")}) AS source
        GROUP BY bucket ORDER BY bucket"""


def _prices_sql() -> str:
    """The prices of given trades: $1 venue, $2 symbol, $3 trade ids."""
    return """SELECT trade.trade_id, trade.price::text
              FROM unnest($3::bigint[]) AS wanted(trade_id)
              JOIN trades AS trade ON trade.venue = $1 AND trade.symbol = $2
                                  AND trade.trade_id = wanted.trade_id"""


@dataclass(frozen=True)
class CandleQuery:
    """Which candles: one symbol on one venue, ``interval`` candles opening in
    [from_ms, to_ms)."""

    venue: str
    symbol: str
    interval: str
    from_ms: int
    to_ms: int

    @property
    def source_range(self) -> tuple[int, int]:
        return candles.source_range(self.interval, self.from_ms, self.to_ms)


class CandleRepository:
    """Reads candles; writes nothing (klines and trades arrive through their tables)."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def covered(self, query: CandleQuery) -> dict[str, int]:
        """How much of the source range (ms) the stored klines of each interval that could
        build the candles cover: two index probes an interval, whatever the range."""
        start, end = query.source_range
        async with self._pool.acquire() as conn:
            rows = await conn.fetch(
                f"""SELECT asked.interval, {_MS.format(column="span.first")} AS first,
                           {_MS.format(column="span.last")} AS last
                    FROM unnest($3::text[]) AS asked(interval)
                    CROSS JOIN LATERAL (
                        SELECT min(open_time) AS first, max(open_time) AS last FROM klines
                        WHERE venue = $1 AND symbol = $2 AND interval = asked.interval
                          AND open_time >= {_BOUND.format(parameter="$4")}
                          AND open_time < {_BOUND.format(parameter="$5")}) AS span
                    WHERE span.first IS NOT NULL""",
                query.venue,
                query.symbol,
                candles.finer_sources(query.interval),
                start,
                end,
            )
        return {
            row["interval"]: candles.covered_ms(row["interval"], row["first"], row["last"])
            for row in rows
        }

    async def source(self, query: CandleQuery) -> str:
        """What the candles are built from: ``kline_<interval>`` or ``trade``."""
        return candles.choose_source(query.interval, await self.covered(query))

    async def candles(self, query: CandleQuery, source: str) -> AsyncIterator[Sequence[CandleRow]]:
        """The candles built from ``source``, oldest first, in batches."""
        start, end = query.source_range
        arguments: list[object] = [query.venue, query.symbol, start, end]
        source_interval = source.removeprefix(names.KLINE_PREFIX)
        if source == names.TRADE:
            sql = _trades_sql(query.interval)
        else:
            arguments.append(source_interval)
            as_stored = source_interval == query.interval
            sql = _stored_sql() if as_stored else _aggregate_sql(query.interval, source)
        async with self._pool.acquire() as conn, conn.transaction(readonly=True):
            # Plan for every row, not the first few (a cursor's default); compiling the
            # expressions (JIT) costs more than it saves on a few hundred thousand rows.
            await conn.execute("SET LOCAL cursor_tuple_fraction = 1.0; SET LOCAL jit = off")
            cursor = await conn.cursor(sql, *arguments)
            while rows := await cursor.fetch(_BATCH):
                if source == names.TRADE:
                    yield await self._with_trade_prices(conn, query, rows)
                elif as_stored:
                    yield rows
                else:
                    yield await self._with_edges(conn, query, source_interval, rows)

    @staticmethod
    async def _with_edges(
        conn: asyncpg.Connection, query: CandleQuery, source_interval: str, rows: list[Any]
    ) -> list[CandleRow]:
        """Rows whose open or close is NULL (their first or last source candle is missing)
        completed from the candles they do have."""
        holed = [row[0] for row in rows if row[1] is None or row[4] is None]
        if not holed:
            return rows
        found = {
            bucket: (open_, close)
            for bucket, open_, close in await conn.fetch(
                _edges_sql(),
                query.venue,
                query.symbol,
                source_interval,
                holed,
                [candles.next_open(query.interval, bucket) for bucket in holed],
            )
        }
        return [
            (t, o or found[t][0], h, lo, c or found[t][1], v, q, n)
            for t, o, h, lo, c, v, q, n in rows
        ]

    @staticmethod
    async def _with_trade_prices(
        conn: asyncpg.Connection, query: CandleQuery, rows: list[Any]
    ) -> list[CandleRow]:
        """Trade buckets (first id, …, last id, …) with the open and close prices."""
        ids = [row[1] for row in rows] + [row[4] for row in rows]
        prices = dict(await conn.fetch(_prices_sql(), query.venue, query.symbol, ids))
        return [
            (t, prices[first], h, lo, prices[last], v, q, n)
            for t, first, h, lo, last, v, q, n in rows
        ]
