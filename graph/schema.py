"""The public GraphQL schema: stored prices (via storage gRPC), live trades and klines (NATS)."""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator
from datetime import UTC, datetime

import grpc
import strawberry
from graphql import GraphQLError
from strawberry.extensions import MaskErrors
from strawberry.federation.schema import FederationAny
from strawberry.schema.config import StrawberryConfig
from strawberry.types import ExecutionContext, Info

from graph.alert_firings import AlertFiringQueries, AlertSubscriptions
from graph.alerts import AlertMutations, AlertQueries
from graph.arguments import kline_kind_argument, symbol_argument, venue_argument
from graph.auth import AuthMutations, AuthQueries
from graph.backtest import BacktestMutations, BacktestQueries
from graph.bus_events import bus_events
from graph.candles import CandleQueries
from graph.columnar import ColumnarExecutionContext
from graph.context import Context
from graph.coverage import Coverage, coverage
from graph.errors import from_rpc_error, is_bad_variable, should_mask
from graph.federation import ENTITY_TYPES, FEDERATION_VERSION, SymbolQueries, checked_entities
from graph.guard import AuthGuard
from graph.history import TradeConnection, history
from graph.jobs import JobMutations, JobQueries, JobSubscriptions
from graph.limits import limit_extensions
from graph.market_kinds import LatestMarketQueries, LiveMarketSubscriptions
from graph.market_subscriptions import MarketSubscription, market_subscriptions
from graph.market_subscriptions import Mutation as MarketMutation
from graph.metrics import GraphMetrics
from graph.scalars import SCALAR_MAP, Int64
from graph.trade import Trade
from quantflow.storage.v1 import storage_service_pb2 as storage_pb
from services.common import names
from services.common.events import Kline as KlineEvent
from services.common.trades import Trade as TradeEvent

_RPC_TIMEOUT_S = 5.0

log = logging.getLogger(__name__)


def _time(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


@strawberry.type(description="A symbol's latest stored trade on one venue.")
class Price:
    venue: str = strawberry.field(
        description='The market: "binance" (spot) or "binance_usdm" (USDⓈ-M futures).'
    )
    symbol: str
    price: str = strawberry.field(description="Decimal string, exactly as the exchange sent it.")
    quantity: str = strawberry.field(description="Decimal string.")
    trade_id: Int64 = strawberry.field(description="The exchange's trade id.")
    trade_time_ms: Int64 = strawberry.field(description="Exchange time, epoch milliseconds.")

    @strawberry.field(description="Exchange time of the trade.")
    def trade_time(self) -> datetime:
        return _time(self.trade_time_ms)

    @classmethod
    def from_pb(cls, price: storage_pb.LatestPrice) -> Price:
        return cls(
            venue=price.venue,
            symbol=price.symbol,
            price=price.price,
            quantity=price.quantity,
            trade_id=Int64(price.trade_id),
            trade_time_ms=Int64(price.trade_time_ms),
        )


@strawberry.type(
    description="One candlestick as it arrives from the exchange: every update of "
    "the open candle (closed false), then its final form (closed true)."
)
class Kline:
    venue: str
    symbol: str
    interval: str = strawberry.field(description='Binance interval, case kept: "1m", "1M" …')
    open_time_ms: Int64 = strawberry.field(description="Candle open, epoch milliseconds.")
    close_time_ms: Int64 = strawberry.field(description="Candle close, epoch milliseconds.")
    open: str = strawberry.field(description="Decimal string.")
    high: str = strawberry.field(description="Decimal string.")
    low: str = strawberry.field(description="Decimal string.")
    close: str = strawberry.field(description="Decimal string.")
    volume: str = strawberry.field(description="Base asset volume, decimal string.")
    quote_volume: str = strawberry.field(description="Quote asset volume, decimal string.")
    trades: Int64 = strawberry.field(description="Number of trades in the candle so far.")
    closed: bool = strawberry.field(
        description="True for the candle's final update (the one that is stored)."
    )
    event_time_ms: Int64 = strawberry.field(description="Exchange event time, epoch ms.")

    @classmethod
    def from_event(cls, event: KlineEvent) -> Kline:
        return cls(
            venue=event.venue,
            symbol=event.symbol,
            interval=event.interval,
            open_time_ms=Int64(event.open_time_ms),
            close_time_ms=Int64(event.close_time_ms),
            open=event.open,
            high=event.high,
            low=event.low,
            close=event.close,
            volume=event.volume,
            quote_volume=event.quote_volume,
            trades=Int64(event.trades),
            closed=event.closed,
            event_time_ms=Int64(event.event_time_ms),
        )


@strawberry.type
class Query(
    LatestMarketQueries,
    CandleQueries,
    BacktestQueries,
    JobQueries,
    SymbolQueries,
    AlertQueries,
    AlertFiringQueries,
    AuthQueries,
):
    @strawberry.field(
        description="The latest stored trade price of one symbol; null with a NOT_FOUND "
        "error when none is stored, so the rest of the query still answers."
    )
    async def price(
        self, info: Info[Context, None], symbol: str, venue: str = names.VENUE_BINANCE
    ) -> Price | None:
        request = storage_pb.GetLatestPriceRequest(
            symbol=symbol_argument(symbol), venue=venue_argument(venue)
        )
        stub = info.context.backends.storage
        try:
            reply = await stub.GetLatestPrice(request, timeout=_RPC_TIMEOUT_S)
        except grpc.aio.AioRpcError as error:
            raise from_rpc_error(error, "price") from error
        return Price.from_pb(reply.price)

    @strawberry.field(
        description="The latest stored price of every symbol, or of those given, on every "
        "venue (or the one given); null with an error when storage cannot answer, so the "
        "rest of the query still answers."
    )
    async def prices(
        self,
        info: Info[Context, None],
        symbols: list[str] | None = None,
        venue: str | None = None,
    ) -> list[Price] | None:
        request = storage_pb.ListLatestPricesRequest(
            symbols=[symbol_argument(s) for s in symbols or []],
            venue=venue_argument(venue) if venue is not None else "",
        )
        stub = info.context.backends.storage
        try:
            reply = await stub.ListLatestPrices(request, timeout=_RPC_TIMEOUT_S)
        except grpc.aio.AioRpcError as error:
            raise from_rpc_error(error, "prices") from error
        return [Price.from_pb(p) for p in reply.prices]

    market_subscriptions: list[MarketSubscription] = strawberry.field(
        resolver=market_subscriptions, description="The Binance streams ingest captures now."
    )
    history: TradeConnection | None = strawberry.field(
        resolver=history,
        description="Stored trades of one symbol in trade id order, a page at a time; null "
        "with an error when storage cannot answer.",
    )
    coverage: Coverage | None = strawberry.field(
        resolver=coverage,
        description="What is stored of one series and its holes, each with its cause; null "
        "with an error when storage cannot answer.",
    )


@strawberry.type
class Mutation(MarketMutation, BacktestMutations, JobMutations, AlertMutations, AuthMutations):
    pass


@strawberry.type
class Subscription(LiveMarketSubscriptions, JobSubscriptions, AlertSubscriptions):
    @strawberry.subscription(
        description="Every trade of the given symbols (all if none) on the given venue (all "
        "if none) as it arrives on the bus."
    )
    async def trades(
        self,
        info: Info[Context, None],
        symbols: list[str] | None = None,
        venue: str | None = None,
    ) -> AsyncGenerator[Trade, None]:
        async for event in bus_events(info, names.TRADE, symbols, venue):
            if isinstance(event, TradeEvent):
                yield Trade(
                    venue=event.venue,
                    symbol=event.symbol,
                    trade_id=Int64(event.trade_id),
                    price=event.price,
                    quantity=event.quantity,
                    trade_time_ms=Int64(event.trade_time_ms),
                    buyer_is_maker=event.buyer_is_maker,
                )

    @strawberry.subscription(
        description='Every kline update of the given interval ("1m", "1h", "1M" …) for the '
        "given symbols (all if none) on the given venue (all if none): the open candle's "
        "updates (closed false) and each final candle (closed true), as they reach the bus."
    )
    async def klines(
        self,
        info: Info[Context, None],
        interval: str,
        symbols: list[str] | None = None,
        venue: str | None = None,
    ) -> AsyncGenerator[Kline, None]:
        async for event in bus_events(info, kline_kind_argument(interval), symbols, venue):
            if isinstance(event, KlineEvent):
                yield Kline.from_event(event)


class QuantflowSchema(strawberry.federation.Schema):
    # Strawberry builds `_entities` from this signature: the types must stay its own.
    def entities_resolver(
        self, info: Info, representations: list[FederationAny]
    ) -> list[FederationAny]:
        return checked_entities(super().entities_resolver, info, representations)

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        """Log unexpected errors in one record per request: typed ones are answers, not
        faults, and when many fields fail alike one traceback tells all there is to know."""
        unexpected = [e for e in errors if not _is_typed(e)]
        if not unexpected:
            return
        first = unexpected[0]
        log.error(
            "%d unexpected error(s) in one request (masked for the client); the first, at %s: %s",
            len(unexpected),
            ".".join(str(p) for p in first.path or ()) or "the document",
            first.message,
            exc_info=first.original_error,
        )


def _is_typed(error: GraphQLError) -> bool:
    original = error.original_error
    return (
        original is None
        or is_bad_variable(error)
        or (isinstance(original, GraphQLError) and "code" in (original.extensions or {}))
    )


schema = QuantflowSchema(
    query=Query,
    mutation=Mutation,
    subscription=Subscription,
    types=ENTITY_TYPES,
    federation_version=FEDERATION_VERSION,
    config=StrawberryConfig(scalar_map=SCALAR_MAP),
    execution_context_class=ColumnarExecutionContext,
    extensions=[
        *limit_extensions(),
        AuthGuard,
        lambda: MaskErrors(should_mask_error=should_mask),
        GraphMetrics,
    ],
)
