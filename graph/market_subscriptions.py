"""What ingest captures, changed at run time: GraphQL over IngestService's gRPC RPCs."""

from __future__ import annotations

from collections.abc import Iterable

import grpc
import strawberry
from strawberry.types import Info

from graph.context import Context
from graph.errors import TypedError, from_rpc_error
from graph.principal import require_admin
from quantflow.market.v1 import ingest_service_pb2 as ingest_pb
from quantflow.market.v1 import ingest_service_pb2_grpc

_RPC_TIMEOUT_S = 15.0  # a subscription first asks Binance's exchangeInfo


@strawberry.type(description="One Binance stream ingest captures.")
class MarketSubscription:
    symbol: str = strawberry.field(description='Upper-case symbol, e.g. "BTCUSDT".')
    stream: str = strawberry.field(
        description='Kind of stream: "trade", "aggTrade", "kline_1m", "bookTicker", "ticker", '
        '"miniTicker".'
    )
    stream_name: str = strawberry.field(description='Binance\'s name, e.g. "btcusdt@kline_1m".')


def _listed(subscriptions: Iterable[ingest_pb.MarketSubscription]) -> list[MarketSubscription]:
    return [
        MarketSubscription(symbol=s.symbol, stream=s.stream, stream_name=s.stream_name)
        for s in subscriptions
    ]


def _ingest(info: Info[Context, None]) -> ingest_service_pb2_grpc.IngestServiceStub:
    stub = info.context.backends.ingest
    if stub is None:
        raise TypedError("UNAVAILABLE", "this gateway is not connected to ingest")
    return stub


async def market_subscriptions(info: Info[Context, None]) -> list[MarketSubscription]:
    try:
        reply = await _ingest(info).ListMarketSubscriptions(
            ingest_pb.ListMarketSubscriptionsRequest(), timeout=_RPC_TIMEOUT_S
        )
    except grpc.aio.AioRpcError as error:
        raise from_rpc_error(error, "marketSubscriptions") from error
    return _listed(reply.subscriptions)


async def subscribe_market_data(
    info: Info[Context, None], symbols: list[str], streams: list[str]
) -> list[MarketSubscription]:
    require_admin(info)
    request = ingest_pb.SubscribeMarketDataRequest(symbols=symbols, streams=streams)
    try:
        reply = await _ingest(info).SubscribeMarketData(request, timeout=_RPC_TIMEOUT_S)
    except grpc.aio.AioRpcError as error:
        raise from_rpc_error(error, "subscribeMarketData") from error
    return _listed(reply.subscriptions)


async def unsubscribe_market_data(
    info: Info[Context, None], symbols: list[str], streams: list[str]
) -> list[MarketSubscription]:
    require_admin(info)
    request = ingest_pb.UnsubscribeMarketDataRequest(symbols=symbols, streams=streams)
    try:
        reply = await _ingest(info).UnsubscribeMarketData(request, timeout=_RPC_TIMEOUT_S)
    except grpc.aio.AioRpcError as error:
        raise from_rpc_error(error, "unsubscribeMarketData") from error
    return _listed(reply.subscriptions)


@strawberry.type
class Mutation:
    subscribe_market_data: list[MarketSubscription] = strawberry.field(
        resolver=subscribe_market_data,
        description="Start capturing `streams` (trade, aggTrade, kline_<interval>, bookTicker, "
        "ticker, miniTicker) of `symbols`; every symbol must be trading on Binance "
        "(INVALID_ARGUMENT names one that is not). Answers everything captured afterwards.",
    )
    unsubscribe_market_data: list[MarketSubscription] = strawberry.field(
        resolver=unsubscribe_market_data,
        description="Stop capturing `streams` of `symbols`. Answers everything captured "
        "afterwards.",
    )
