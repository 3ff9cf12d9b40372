"""Candles at any interval and indicators over them: GraphQL over StorageService's streamed
GetOhlc and GetIndicators.

Series are columnar (one list per field): a year of hourly candles is nine lists, not 8,760
objects, which GraphQL resolves many times faster. ``candles(first, after)`` pages the same
candles as objects for those who want them.
"""

from __future__ import annotations

import base64
import math
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated

import grpc
import strawberry
from strawberry.types import Info

from graph.context import Context
from graph.errors import TypedError, from_rpc_error
from graph.scalars import Int64
from quantflow.storage.v1 import storage_service_pb2 as storage_pb
from services.common import names

_RPC_TIMEOUT_S = 60.0
_MAX_PAGE = 1_000
_CURSOR_PREFIX = "candle:"


def _epoch_ms(moment: datetime) -> int:
    """An argument's moment in epoch milliseconds; a time without offset is UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    delta = moment - datetime(1970, 1, 1, tzinfo=UTC)
    return delta.days * 86_400_000 + delta.seconds * 1000 + delta.microseconds // 1000


def _cursor(open_time: int) -> str:
    return base64.b64encode(f"{_CURSOR_PREFIX}{open_time}".encode()).decode()


def _after(cursor: str) -> int:
    try:
        text = base64.b64decode(cursor, validate=True).decode()
        if not text.startswith(_CURSOR_PREFIX):
            raise ValueError(text)
        return int(text.removeprefix(_CURSOR_PREFIX))
    except ValueError:
        raise TypedError("INVALID_ARGUMENT", f"after: {cursor!r} is not a candle cursor") from None


@strawberry.type(description="One candle.")
class Candle:
    open_time: Int64 = strawberry.field(description="Open time, epoch milliseconds.")
    open: str = strawberry.field(description="Decimal string.")
    high: str = strawberry.field(description="Decimal string.")
    low: str = strawberry.field(description="Decimal string.")
    close: str = strawberry.field(description="Decimal string.")
    volume: str = strawberry.field(description="Base asset volume, decimal string.")
    quote_volume: str = strawberry.field(description="Quote asset volume, decimal string.")
    trades: Int64 = strawberry.field(description="Number of trades.")


@strawberry.type
class CandleEdge:
    cursor: str
    node: Candle


@strawberry.type
class CandlePageInfo:
    has_next_page: bool
    end_cursor: str | None


@strawberry.type(description="A page of candles as objects, Relay-style.")
class CandleConnection:
    edges: list[CandleEdge]
    page_info: CandlePageInfo


@strawberry.type(
    description="Candles of one symbol at one interval, columnar: every list has one entry "
    "per candle, oldest first. A bucket without data is absent, never a zero candle."
)
class OhlcSeries:
    symbol: str
    interval: str
    venue: str
    source: str = strawberry.field(
        description='What the candles are built from: "kline_<interval>" (stored klines of '
        'that interval or a finer one) or "trade".'
    )
    open_time: list[Int64] = strawberry.field(description="Open times, epoch milliseconds.")
    open: list[str]
    high: list[str]
    low: list[str]
    close: list[str]
    volume: list[str]
    quote_volume: list[str]
    trades: list[Int64]

    @strawberry.field(description="The same candles as objects, a page at a time.")
    def candles(self, first: int = 100, after: str | None = None) -> CandleConnection:
        if not 0 <= first <= _MAX_PAGE:
            raise TypedError("INVALID_ARGUMENT", f"first: {first} is not in 0…{_MAX_PAGE}")
        start = 0
        if after is not None:
            after_time = _after(after)
            start = next(
                (i for i, t in enumerate(self.open_time) if t > after_time), len(self.open_time)
            )
        stop = min(start + first, len(self.open_time))
        edges = [
            CandleEdge(
                cursor=_cursor(self.open_time[i]),
                node=Candle(
                    open_time=self.open_time[i],
                    open=self.open[i],
                    high=self.high[i],
                    low=self.low[i],
                    close=self.close[i],
                    volume=self.volume[i],
                    quote_volume=self.quote_volume[i],
                    trades=self.trades[i],
                ),
            )
            for i in range(start, stop)
        ]
        return CandleConnection(
            edges=edges,
            page_info=CandlePageInfo(
                has_next_page=stop < len(self.open_time),
                end_cursor=edges[-1].cursor if edges else None,
            ),
        )


@strawberry.type(description="One output of one requested indicator.")
class IndicatorValues:
    spec: str = strawberry.field(description='The spec as requested, e.g. "macd(12,26,9)".')
    name: str = strawberry.field(
        description='The output, as the `ta` library names it: "rsi", "macd_signal" …'
    )
    values: list[float | None] = strawberry.field(
        description="One per candle; null during the warm-up."
    )


@strawberry.type(description="Indicator series aligned with the candles `ohlc` returns.")
class IndicatorSeries:
    open_time: list[Int64] = strawberry.field(description="Open times, epoch milliseconds.")
    series: list[IndicatorValues]
    source: str = strawberry.field(description="What the candles are built from.")


@dataclass(frozen=True)
class _Range:
    symbol: str
    venue: str
    interval: str
    from_ms: int
    to_ms: int


def _range(symbol: str, venue: str, interval: str, start: datetime, end: datetime) -> _Range:
    # Symbol, venue and interval are checked by storage, whose errors name them.
    return _Range(symbol, venue, interval, _epoch_ms(start), _epoch_ms(end))


async def ohlc(
    info: Info[Context, None],
    symbol: str,
    interval: str,
    from_: Annotated[datetime, strawberry.argument(name="from")],
    to: datetime,
    venue: str = names.VENUE_BINANCE,
) -> OhlcSeries:
    asked = _range(symbol, venue, interval, from_, to)
    request = storage_pb.GetOhlcRequest(
        symbol=asked.symbol,
        venue=asked.venue,
        interval=asked.interval,
        from_ms=asked.from_ms,
        to_ms=asked.to_ms,
    )
    series = OhlcSeries(
        symbol=symbol,
        interval=interval,
        venue=venue,
        source="",
        open_time=[],
        open=[],
        high=[],
        low=[],
        close=[],
        volume=[],
        quote_volume=[],
        trades=[],
    )
    try:
        async for chunk in info.context.backends.storage.GetOhlc(request, timeout=_RPC_TIMEOUT_S):
            series.source = chunk.source
            series.open_time.extend(chunk.open_time)
            series.open.extend(chunk.open)
            series.high.extend(chunk.high)
            series.low.extend(chunk.low)
            series.close.extend(chunk.close)
            series.volume.extend(chunk.volume)
            series.quote_volume.extend(chunk.quote_volume)
            series.trades.extend(chunk.trades)
    except grpc.aio.AioRpcError as error:
        raise from_rpc_error(error, "ohlc") from error
    return series


async def indicators(
    info: Info[Context, None],
    symbol: str,
    interval: str,
    from_: Annotated[datetime, strawberry.argument(name="from")],
    to: datetime,
    specs: list[str],
    venue: str = names.VENUE_BINANCE,
) -> IndicatorSeries:
    asked = _range(symbol, venue, interval, from_, to)
    request = storage_pb.GetIndicatorsRequest(
        symbol=asked.symbol,
        venue=asked.venue,
        interval=asked.interval,
        from_ms=asked.from_ms,
        to_ms=asked.to_ms,
        specs=specs,
    )
    result = IndicatorSeries(open_time=[], series=[], source="")
    try:
        async for chunk in info.context.backends.storage.GetIndicators(
            request, timeout=_RPC_TIMEOUT_S
        ):
            result.source = chunk.source
            result.open_time.extend(chunk.open_time)
            if not result.series:
                result.series = [
                    IndicatorValues(spec=s.spec, name=s.name, values=[]) for s in chunk.series
                ]
            for values, part in zip(result.series, chunk.series, strict=True):
                values.values.extend(None if math.isnan(v) else v for v in part.values)
    except grpc.aio.AioRpcError as error:
        raise from_rpc_error(error, "indicators") from error
    return result


@strawberry.type
class CandleQueries:
    """The query fields of this module, mixed into the schema's Query."""

    ohlc: OhlcSeries | None = strawberry.field(
        resolver=ohlc,
        description="Candles of one symbol at any interval (1s … 1d, 3d, 1w from Monday "
        "00:00 UTC, 1M calendar months) opening in [from, to), built from the finest stored "
        "data covering the range (klines of that interval, a finer one, or trades; `source` "
        "says which) with Binance's rule: open of the first, highest high, lowest low, close "
        "of the last, sums of volume, quote volume and trades.",
    )
    indicators: IndicatorSeries | None = strawberry.field(
        resolver=indicators,
        description='Indicators of the `ta` library by name with parameters ("rsi(14)", '
        '"sma(50)", "macd(12,26,9)", "bbands(20,2)", "atr(14)", "stoch(14,3)", "obv" …) over '
        "the candles `ohlc` returns, one series per output, null during the warm-up. An "
        "unknown indicator or a bad parameter is INVALID_ARGUMENT naming it.",
    )
