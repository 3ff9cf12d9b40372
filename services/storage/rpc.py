"""StorageService over gRPC: a thin layer over the repository. A database that cannot be
reached answers UNAVAILABLE (see database_errors), never INTERNAL."""

from __future__ import annotations

import grpc

from quantflow.storage.v1 import storage_service_pb2 as pb
from quantflow.storage.v1 import storage_service_pb2_grpc
from services.common import names
from services.common.errors import InvalidArgument, NotFound
from services.common.symbols import parse_symbol
from services.storage import tables
from services.storage.consumer import MarketConsumer
from services.storage.database_errors import unavailable_when_database_is_down
from services.storage.repository import LatestPrice, SeriesSpec, TradeRepository

# A reply stays small (16 bytes a range) even for a badly holed history.
_MAX_MISSING_RANGES = 10_000


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
    def __init__(
        self, repository: TradeRepository, consumer: MarketConsumer, schema_version: int
    ) -> None:
        self._repository = repository
        self._consumer = consumer
        self._schema_version = schema_version

    async def GetLatestPrice(
        self, request: pb.GetLatestPriceRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetLatestPriceResponse:
        symbol = parse_symbol(request.symbol)
        venue = _venue(request.venue or names.VENUE_BINANCE)
        with unavailable_when_database_is_down():
            prices = await self._repository.latest_prices([symbol], venue)
        if not prices:
            raise NotFound(f"no trade stored for {symbol} on {venue}")
        return pb.GetLatestPriceResponse(price=_to_pb(prices[0]))

    async def ListLatestPrices(
        self, request: pb.ListLatestPricesRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListLatestPricesResponse:
        symbols = [parse_symbol(s) for s in request.symbols]
        venue = _venue(request.venue) if request.venue else None
        with unavailable_when_database_is_down():
            prices = await self._repository.latest_prices(symbols, venue)
        return pb.ListLatestPricesResponse(prices=[_to_pb(p) for p in prices])

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
        )
