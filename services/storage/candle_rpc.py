"""StorageService's GetOhlc and GetIndicators: requests checked, candles streamed as
columnar chunks, indicators computed over them (off the event loop)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from typing import Protocol

import numpy as np

from quantflow.storage.v1 import storage_service_pb2 as pb
from services.common import candles, names
from services.common.errors import InvalidArgument
from services.common.indicators.catalogue import BadSpec, Request, parse
from services.common.indicators.compute import compute
from services.common.symbols import parse_symbol
from services.storage.candle_queries import CandleQuery, CandleRepository, CandleRow
from services.storage.database_errors import unavailable_when_database_is_down

# An indicator reply chunk holds about this many values (doubles), far below gRPC's 4 MiB.
_VALUES_PER_CHUNK = 200_000
_MAX_SPECS = 50


class _CandleRequest(Protocol):
    symbol: str
    venue: str
    interval: str
    from_ms: int
    to_ms: int


def candle_query(request: _CandleRequest) -> CandleQuery:
    """The candles a request asks for; InvalidArgument naming what is wrong."""
    symbol = parse_symbol(request.symbol)
    try:
        venue = names.check_venue(request.venue or names.VENUE_BINANCE)
        interval = candles.check_interval(request.interval)
    except ValueError as error:
        raise InvalidArgument(str(error)) from None
    if request.from_ms >= request.to_ms:
        raise InvalidArgument(
            f"from ({request.from_ms}) must be before to ({request.to_ms}): the range is [from, to)"
        )
    return CandleQuery(venue, symbol, interval, request.from_ms, request.to_ms)


def _chunk(source: str, rows: Sequence[CandleRow]) -> pb.GetOhlcResponse:
    if not rows:
        return pb.GetOhlcResponse(source=source)
    open_time, open_, high, low, close, volume, quote_volume, trades = zip(*rows, strict=True)
    return pb.GetOhlcResponse(
        source=source,
        open_time=open_time,
        open=open_,
        high=high,
        low=low,
        close=close,
        volume=volume,
        quote_volume=quote_volume,
        trades=trades,
    )


async def ohlc_chunks(
    repository: CandleRepository, request: pb.GetOhlcRequest
) -> AsyncIterator[pb.GetOhlcResponse]:
    query = candle_query(request)
    with unavailable_when_database_is_down():
        source = await repository.source(query)
        sent = False
        async for rows in repository.candles(query, source):
            yield _chunk(source, rows)
            sent = True
    if not sent:
        yield pb.GetOhlcResponse(source=source)


def _requests(specs: Sequence[str]) -> list[Request]:
    if not specs:
        raise InvalidArgument('give at least one indicator spec, e.g. "rsi(14)"')
    if len(specs) > _MAX_SPECS:
        raise InvalidArgument(f"at most {_MAX_SPECS} indicator specs a request, not {len(specs)}")
    try:
        return [parse(spec) for spec in specs]
    except BadSpec as error:
        raise InvalidArgument(str(error)) from None


async def indicator_chunks(
    repository: CandleRepository, request: pb.GetIndicatorsRequest
) -> AsyncIterator[pb.GetIndicatorsResponse]:
    query = candle_query(request)
    requests = _requests(request.specs)
    rows: list[CandleRow] = []
    with unavailable_when_database_is_down():
        source = await repository.source(query)
        async for batch in repository.candles(query, source):
            rows.extend(batch)
    open_times = [row[0] for row in rows]
    columns = {
        name: np.array([row[index] for row in rows], dtype=np.float64)
        for name, index in (("high", 2), ("low", 3), ("close", 4), ("volume", 5))
    }
    series = await asyncio.to_thread(compute, requests, columns)
    step = max(1, _VALUES_PER_CHUNK // (len(series) + 1))
    for start in range(0, max(len(open_times), 1), step):
        stop = start + step
        yield pb.GetIndicatorsResponse(
            source=source,
            open_time=open_times[start:stop],
            series=[
                pb.IndicatorValues(spec=s.spec, name=s.name, values=s.values[start:stop].tolist())
                for s in series
            ],
        )
