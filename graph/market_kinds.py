"""GraphQL for the market kinds beside trades and klines: aggregate trades, book tickers,
24-hour tickers and mini tickers live from the bus, and the latest stored book ticker and
ticker of each symbol from storage."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncGenerator
from typing import Any, TypeVar

import grpc
import strawberry
from strawberry.types import Info

from graph.arguments import symbol_argument, venue_argument
from graph.bus_events import bus_events
from graph.context import Context
from graph.errors import from_rpc_error
from graph.scalars import Int64
from quantflow.storage.v1 import storage_service_pb2 as storage_pb
from services.common import events, names

_RPC_TIMEOUT_S = 5.0

_T = TypeVar("_T")


def _from_source(cls: type[_T], source: Any) -> _T:
    """A GraphQL object from an event or protobuf message with the same field names."""
    return cls(**{f.name: getattr(source, f.name) for f in dataclasses.fields(cls)})  # type: ignore[arg-type]


@strawberry.type(description="One aggregate trade: trades of one taker order at one price.")
class AggTrade:
    venue: str
    symbol: str
    agg_id: Int64 = strawberry.field(description="The exchange's aggregate trade id.")
    price: str = strawberry.field(description="Decimal string.")
    quantity: str = strawberry.field(description="Decimal string.")
    first_trade_id: Int64
    last_trade_id: Int64
    trade_time_ms: Int64 = strawberry.field(description="Exchange time, epoch milliseconds.")
    buyer_is_maker: bool


@strawberry.type(description="The best bid and ask of one symbol.")
class BookTicker:
    venue: str
    symbol: str
    update_id: Int64 = strawberry.field(description="Order book update id; increases.")
    bid_price: str = strawberry.field(description='Decimal string; "0" on an empty side.')
    bid_quantity: str
    ask_price: str
    ask_quantity: str
    received_time_us: Int64 = strawberry.field(
        description="When ingest received it, epoch microseconds (spot book tickers carry "
        "no exchange time)."
    )


@strawberry.type(description="Rolling 24-hour statistics of one symbol, once a second.")
class Ticker:
    venue: str
    symbol: str
    event_time_ms: Int64 = strawberry.field(description="Exchange event time, epoch ms.")
    price_change: str = strawberry.field(description="Decimal strings from here on.")
    price_change_percent: str
    weighted_average_price: str
    first_price: str
    last_price: str
    last_quantity: str
    best_bid_price: str
    best_bid_quantity: str
    best_ask_price: str
    best_ask_quantity: str
    open: str
    high: str
    low: str
    volume: str = strawberry.field(description="Base asset volume.")
    quote_volume: str
    open_time_ms: Int64
    close_time_ms: Int64
    first_trade_id: Int64
    last_trade_id: Int64
    trades: Int64


@strawberry.type(description="The short form of the 24-hour statistics, once a second.")
class MiniTicker:
    venue: str
    symbol: str
    event_time_ms: Int64
    open: str
    high: str
    low: str
    close: str
    volume: str
    quote_volume: str


def _filters(symbols: list[str] | None, venue: str | None) -> dict[str, Any]:
    return {
        "symbols": [symbol_argument(s) for s in symbols or []],
        "venue": venue_argument(venue) if venue is not None else "",
    }


@strawberry.type
class LatestMarketQueries:
    @strawberry.field(
        description="The latest stored best bid/ask of every symbol, or of those given, on "
        "every venue (or the one given). Needs the bookTicker stream captured."
    )
    async def book_tickers(
        self,
        info: Info[Context, None],
        symbols: list[str] | None = None,
        venue: str | None = None,
    ) -> list[BookTicker] | None:
        request = storage_pb.ListBookTickersRequest(**_filters(symbols, venue))
        try:
            reply = await info.context.backends.storage.ListBookTickers(
                request, timeout=_RPC_TIMEOUT_S
            )
        except grpc.aio.AioRpcError as error:
            raise from_rpc_error(error, "bookTickers") from error
        return [_from_source(BookTicker, b) for b in reply.book_tickers]

    @strawberry.field(
        description="The latest stored 24-hour ticker of every symbol, or of those given, "
        "on every venue (or the one given). Needs the ticker stream captured."
    )
    async def tickers(
        self,
        info: Info[Context, None],
        symbols: list[str] | None = None,
        venue: str | None = None,
    ) -> list[Ticker] | None:
        request = storage_pb.ListTickersRequest(**_filters(symbols, venue))
        try:
            reply = await info.context.backends.storage.ListTickers(request, timeout=_RPC_TIMEOUT_S)
        except grpc.aio.AioRpcError as error:
            raise from_rpc_error(error, "tickers") from error
        return [_from_source(Ticker, t) for t in reply.tickers]


@strawberry.type
class LiveMarketSubscriptions:
    @strawberry.subscription(
        description="Every aggregate trade of the given symbols (all if none) on the given "
        "venue (all if none) as it arrives on the bus."
    )
    async def agg_trades(
        self, info: Info[Context, None], symbols: list[str] | None = None, venue: str | None = None
    ) -> AsyncGenerator[AggTrade, None]:
        async for event in bus_events(info, names.AGGTRADE, symbols, venue):
            if isinstance(event, events.AggTrade):
                yield _from_source(AggTrade, event)

    @strawberry.subscription(
        description="Every change of the best bid/ask of the given symbols (all if none) "
        "on the given venue (all if none)."
    )
    async def book_tickers(
        self, info: Info[Context, None], symbols: list[str] | None = None, venue: str | None = None
    ) -> AsyncGenerator[BookTicker, None]:
        async for event in bus_events(info, names.BOOK, symbols, venue):
            if isinstance(event, events.BookTicker):
                yield _from_source(BookTicker, event)

    @strawberry.subscription(
        description="The 24-hour ticker of the given symbols (all if none), once a second."
    )
    async def tickers(
        self, info: Info[Context, None], symbols: list[str] | None = None, venue: str | None = None
    ) -> AsyncGenerator[Ticker, None]:
        async for event in bus_events(info, names.TICKER, symbols, venue):
            if isinstance(event, events.Ticker):
                yield _from_source(Ticker, event)

    @strawberry.subscription(
        description="The mini ticker of the given symbols (all if none), once a second."
    )
    async def mini_tickers(
        self, info: Info[Context, None], symbols: list[str] | None = None, venue: str | None = None
    ) -> AsyncGenerator[MiniTicker, None]:
        async for event in bus_events(info, names.MINITICKER, symbols, venue):
            if isinstance(event, events.MiniTicker):
                yield _from_source(MiniTicker, event)
