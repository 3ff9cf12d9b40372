"""Candles of any interval from PostgreSQL: stored klines read as they are, or finer klines
or trades aggregated in SQL, exactly (numeric sums; prices as text).

The rule is :mod:`services.common.candles`'s (Binance's): open of the first, highest high,
lowest low, close of the last, sums of volume, quote volume and trades. Rows stream out of a
server-side cursor in batches, so a long series never sits in memory whole.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass

import asyncpg

from services.common import candles, names
from services.common.intervals import kline_step_ms

# (open_time ms, open, high, low, close, volume, quote_volume, trades): decimal strings.
CandleRow = tuple[int, str, str, str, str, str, str, int]

_BATCH = 10_000
_MS = "(extract(epoch FROM {column}) * 1000)::bigint"
_BOUND = "(timestamptz 'epoch' + {parameter}::bigint * interval '1 millisecond')"


def _bucket_sql(interval: str, column: str) -> str:
    """SQL for the open time (ms) of the ``interval`` candle holding ``column``'s moment."""
    if interval == candles.MONTH:
        return _MS.format(column=f"date_trunc('month', {column}, 'UTC')")
    step = kline_step_ms(interval)
    offset = candles.bucket_open(interval, 0) % step  # weeks: Mondays
    ms = _MS.format(column=column)
    return f"({offset} + ({ms} - {offset}) / {step} * {step})"


def _query(interval: str, source: str) -> str:
    """The candles of ``interval`` from ``source`` (a kline kind or ``trade``); parameters
    $1 venue, $2 symbol, $3 start ms, $4 end ms [, $5 source interval]."""
    start, end = _BOUND.format(parameter="$3"), _BOUND.format(parameter="$4")
    if source == names.TRADE:
        return f"""
            SELECT bucket, (array_agg(price ORDER BY trade_id))[1]::text,
                   max(price)::text, min(price)::text,
                   (array_agg(price ORDER BY trade_id DESC))[1]::text,
                   sum(quantity)::text, sum(price * quantity)::text, count(*)
            FROM (SELECT {_bucket_sql(interval, "trade_time")} AS bucket,
                         trade_id, price, quantity
                  FROM trades
                  WHERE venue = $1 AND symbol = $2
                    AND trade_time >= {start} AND trade_time < {end}) AS source
            GROUP BY bucket ORDER BY bucket"""
    kline_filter = f"""FROM klines WHERE venue = $1 AND symbol = $2 AND interval = $5
                       AND open_time >= {start} AND open_time < {end}"""
    if source == names.kline_kind(interval):
        return f"""
            SELECT {_MS.format(column="open_time")}, open::text, high::text, low::text,
                   close::text, volume::text, quote_volume::text, trades
            {kline_filter} ORDER BY open_time"""
    return f"""
        SELECT bucket, (array_agg(open ORDER BY open_time))[1]::text,
               max(high)::text, min(low)::text,
               (array_agg(close ORDER BY open_time DESC))[1]::text,
               sum(volume)::text, sum(quote_volume)::text, sum(trades)::bigint
        FROM (SELECT {_bucket_sql(interval, "open_time")} AS bucket, open_time,
                     open, high, low, close, volume, quote_volume, trades
              {kline_filter}) AS source
        GROUP BY bucket ORDER BY bucket"""


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

    async def stored_counts(self, query: CandleQuery) -> dict[str, int]:
        """How many klines of each interval that could build the candles are stored over
        their source range."""
        start, end = query.source_range
        async with self._pool.acquire() as conn:
            rows = await conn.fetch(
                f"""SELECT interval, count(*) AS stored FROM klines
                    WHERE venue = $1 AND symbol = $2 AND interval = ANY($3::text[])
                      AND open_time >= {_BOUND.format(parameter="$4")}
                      AND open_time < {_BOUND.format(parameter="$5")}
                    GROUP BY interval""",
                query.venue,
                query.symbol,
                candles.finer_sources(query.interval),
                start,
                end,
            )
        return {row["interval"]: row["stored"] for row in rows}

    async def source(self, query: CandleQuery) -> str:
        """What the candles are built from: ``kline_<interval>`` or ``trade``."""
        return candles.choose_source(query.interval, await self.stored_counts(query))

    async def candles(
        self, query: CandleQuery, source: str, batch: int = _BATCH
    ) -> AsyncIterator[Sequence[CandleRow]]:
        """The candles built from ``source``, oldest first, ``batch`` at a time."""
        start, end = query.source_range
        arguments: list[object] = [query.venue, query.symbol, start, end]
        if source != names.TRADE:
            arguments.append(source.removeprefix(names.KLINE_PREFIX))
        sql = _query(query.interval, source)
        async with self._pool.acquire() as conn, conn.transaction(readonly=True):
            cursor = await conn.cursor(sql, *arguments)
            while rows := await cursor.fetch(batch):
                yield rows
