"""StorageService over gRPC: a thin layer over the repository. A database that cannot be
reached answers UNAVAILABLE (see database_errors), never INTERNAL."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc

from quantflow.storage.v1 import storage_service_pb2 as pb
from quantflow.storage.v1 import storage_service_pb2_grpc
from services.common import names
from services.common.codec import to_message
from services.common.errors import InvalidArgument, NotFound
from services.common.symbols import parse_symbol
from services.storage import tables
from services.storage.candle_queries import CandleRepository
from services.storage.candle_rpc import indicator_chunks, ohlc_chunks
from services.storage.consumer import MarketConsumer
from services.storage.coverage import Cause
from services.storage.database_errors import unavailable_when_database_is_down
from services.storage.price_cache import LatestPrice, LatestPriceCache
from services.storage.repository import SeriesSpec, StoredTrade, TradeRepository
from services.storage.retention_job import RetentionJob

# A reply stays small (16 bytes a range) even for a badly holed history.
_MAX_MISSING_RANGES = 10_000
# Coverage lists at most this many runs (and the holes between them).
_MAX_COVERAGE_RANGES = 10_000
# Trades per StreamTrades message: ~100 bytes each, well under gRPC's 4 MB message cap.
_TRADES_PER_MESSAGE = 5_000
_CAUSES = {Cause.MISSING: pb.HOLE_CAUSE_MISSING, Cause.EXCHANGE: pb.HOLE_CAUSE_EXCHANGE}


def _venue(value: str) -> str:
    try:
        return names.check_venue(value)
    except ValueError as error:
        raise InvalidArgument(str(error)) from None


def _series(kind: str) -> SeriesSpec:
    try:
        return SeriesSpec.of(kind)
    except ValueError as error:
        raise InvalidArgument(str(error)) from None


def _window(
    request: pb.StreamTradesRequest | pb.GetCoverageRequest,
) -> tuple[int | None, int | None]:
    """The half-open time window of a request; INVALID_ARGUMENT when it is empty."""
    first = request.from_ms if request.HasField("from_ms") else None
    end = request.to_ms if request.HasField("to_ms") else None
    if first is not None and end is not None and end <= first:
        raise InvalidArgument(f"from {first} is not before to {end}: give from < to")
    return first, end


def _trade_to_pb(trade: StoredTrade) -> pb.StoredTrade:
    return pb.StoredTrade(
        venue=trade.venue,
        symbol=trade.symbol,
        trade_id=trade.trade_id,
        price=trade.price,
        quantity=trade.quantity,
        trade_time_ms=trade.trade_time_ms,
        buyer_is_maker=trade.buyer_is_maker,
    )


def _to_pb(price: LatestPrice) -> pb.LatestPrice:
    return pb.LatestPrice(
        venue=price.venue,
        symbol=price.symbol,
        price=price.price,
        quantity=price.quantity,
        trade_id=price.trade_id,
        trade_time_ms=price.trade_time_ms,
    )


class StorageServicer(storage_service_pb2_grpc.StorageServiceServicer):  # type: ignore[misc]
    """Latest prices come from the in-memory cache (see price_cache); the rest from
    PostgreSQL."""

    def __init__(
        self,
        repository: TradeRepository,
        consumer: MarketConsumer,
        schema_version: int,
        prices: LatestPriceCache,
        retention: RetentionJob,
        candles: CandleRepository,
    ) -> None:
        self._repository = repository
        self._consumer = consumer
        self._schema_version = schema_version
        self._prices = prices
        self._retention = retention
        self._candles = candles

    async def GetLatestPrice(
        self, request: pb.GetLatestPriceRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetLatestPriceResponse:
        symbol = parse_symbol(request.symbol)
        venue = _venue(request.venue or names.VENUE_BINANCE)
        price = self._prices.get(venue, symbol)
        if price is None:
            raise NotFound(f"no trade stored for {symbol} on {venue}")
        return pb.GetLatestPriceResponse(price=_to_pb(price))

    async def ListLatestPrices(
        self, request: pb.ListLatestPricesRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListLatestPricesResponse:
        symbols = [parse_symbol(s) for s in request.symbols]
        venue = _venue(request.venue) if request.venue else None
        prices = self._prices.list(symbols, venue)
        return pb.ListLatestPricesResponse(prices=[_to_pb(p) for p in prices])

    async def ListBookTickers(
        self, request: pb.ListBookTickersRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListBookTickersResponse:
        symbols = [parse_symbol(s) for s in request.symbols]
        venue = _venue(request.venue) if request.venue else None
        with unavailable_when_database_is_down():
            book_tickers = await self._repository.latest_book_tickers(symbols, venue)
        return pb.ListBookTickersResponse(book_tickers=[to_message(b) for b in book_tickers])

    async def ListTickers(
        self, request: pb.ListTickersRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListTickersResponse:
        symbols = [parse_symbol(s) for s in request.symbols]
        venue = _venue(request.venue) if request.venue else None
        with unavailable_when_database_is_down():
            tickers = await self._repository.latest_tickers(symbols, venue)
        return pb.ListTickersResponse(tickers=[to_message(t) for t in tickers])

    async def StreamTrades(
        self, request: pb.StreamTradesRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[pb.StreamTradesResponse]:
        symbol = parse_symbol(request.symbol)
        venue = _venue(request.venue or names.VENUE_BINANCE)
        window = _window(request)
        if request.limit < 0:
            raise InvalidArgument(f"limit {request.limit}: give 0 (all) or more")
        after = request.after_trade_id if request.HasField("after_trade_id") else None
        with unavailable_when_database_is_down():
            pages = self._repository.trades(
                venue, symbol, after, window, request.limit, _TRADES_PER_MESSAGE
            )
            async for page in pages:
                yield pb.StreamTradesResponse(trades=[_trade_to_pb(t) for t in page])

    async def GetCoverage(
        self, request: pb.GetCoverageRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetCoverageResponse:
        symbol = parse_symbol(request.symbol)
        venue = _venue(request.venue or names.VENUE_BINANCE)
        series = _series(request.kind)
        window = _window(request)
        with unavailable_when_database_is_down():
            coverage = await self._repository.coverage(
                series, venue, symbol, window, _MAX_COVERAGE_RANGES
            )
        return pb.GetCoverageResponse(
            ranges=[
                pb.CoveredRange(first_id=r.first_id, last_id=r.last_id, count=r.count)
                for r in coverage.runs
            ],
            holes=[
                pb.CoverageHole(
                    first_id=h.first_id,
                    last_id=h.last_id,
                    missing=h.missing,
                    cause=_CAUSES[h.cause],
                )
                for h in coverage.holes
            ],
            stored_count=coverage.stored,
            missing_count=coverage.missing(),
            exchange_missing_count=coverage.missing(Cause.EXCHANGE),
            truncated=coverage.truncated,
        )

    async def ListSeries(
        self, request: pb.ListSeriesRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListSeriesResponse:
        symbol = parse_symbol(request.symbol)
        venue = _venue(request.venue or names.VENUE_BINANCE)
        with unavailable_when_database_is_down():
            kinds = await self._repository.stored_kinds(venue, symbol)
        return pb.ListSeriesResponse(kinds=kinds)

    async def GetLastStoredId(
        self, request: pb.GetLastStoredIdRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetLastStoredIdResponse:
        symbol = parse_symbol(request.symbol)
        venue = _venue(request.venue or names.VENUE_BINANCE)
        series = _series(request.kind)
        with unavailable_when_database_is_down():
            last = await self._repository.last_id(series, venue, symbol)
        if last is None:
            raise NotFound(f"no {request.kind} stored for {symbol} on {venue}")
        return pb.GetLastStoredIdResponse(last_id=last)

    async def ListMissingIds(
        self, request: pb.ListMissingIdsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListMissingIdsResponse:
        symbol = parse_symbol(request.symbol)
        venue = _venue(request.venue or names.VENUE_BINANCE)
        series = _series(request.kind)
        if request.last_id < request.first_id or request.first_id < 0:
            raise InvalidArgument(
                f"ids {request.first_id}-{request.last_id}: give 0 <= first_id <= last_id"
            )
        with unavailable_when_database_is_down():
            ranges = await self._repository.missing_ids(
                series, venue, symbol, request.first_id, request.last_id, _MAX_MISSING_RANGES
            )
        return pb.ListMissingIdsResponse(
            missing=[pb.IdRange(first_id=first, last_id=last) for first, last in ranges],
            missing_count=sum(series.step.count(first, last) for first, last in ranges),
        )

    async def GetOhlc(
        self, request: pb.GetOhlcRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[pb.GetOhlcResponse]:
        async for chunk in ohlc_chunks(self._candles, request):
            yield chunk

    async def GetIndicators(
        self, request: pb.GetIndicatorsRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[pb.GetIndicatorsResponse]:
        async for chunk in indicator_chunks(self._candles, request):
            yield chunk

    async def GetStorageStatus(
        self, request: pb.GetStorageStatusRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetStorageStatusResponse:
        with unavailable_when_database_is_down():
            backend, version = await self._repository.backend()
        return pb.GetStorageStatusResponse(
            backend=backend,
            server_version=version,
            schema_version=self._schema_version,
            trades_written=self._consumer.trades_written,
            agg_trades_written=self._consumer.written[tables.AGG_TRADES.name],
            klines_written=self._consumer.written[tables.KLINES.name],
            book_tickers_written=self._consumer.written[tables.BOOK_TICKERS.name],
            tickers_written=self._consumer.written[tables.TICKERS.name],
            events_dead_lettered=self._consumer.events_dead_lettered,
            retention_mode=self._retention.mode,
            retention=str(self._retention.policy),
            rows_expired=self._retention.expired,
        )
