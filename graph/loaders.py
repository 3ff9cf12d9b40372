"""DataLoaders: one gRPC call for what many fields of one request ask of the same RPC.

A query naming twenty symbols (``a: symbol(name: "BTCUSDT") { latest { price } } b: …``, or a
federation gateway resolving twenty ``Symbol`` entities at once) asks storage for the latest
prices once per venue, not twenty times.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import grpc
from strawberry.dataloader import DataLoader
from strawberry.types import Info

from graph.context import Context
from graph.errors import TypedError, from_rpc_error
from graph.principal import owner
from quantflow.alerts.v1 import alerts_service_pb2 as alerts_pb
from quantflow.alerts.v1 import alerts_service_pb2_grpc
from quantflow.backtest.v1 import backtest_service_pb2 as backtest_pb
from quantflow.backtest.v1 import backtest_service_pb2_grpc
from quantflow.storage.v1 import storage_service_pb2 as storage_pb
from quantflow.storage.v1 import storage_service_pb2_grpc
from services.common.auth.modes import LOCAL_USER

_RPC_TIMEOUT_S = 5.0

# (symbol, venue): both already checked by the caller.
SymbolKey = tuple[str, str]
LatestPriceLoader = DataLoader[SymbolKey, storage_pb.LatestPrice | None]


async def load_latest_prices(
    storage: storage_service_pb2_grpc.StorageServiceStub, keys: Sequence[SymbolKey]
) -> list[storage_pb.LatestPrice | BaseException | None]:
    """The latest stored trade of each (symbol, venue), None where none is stored: one
    ``ListLatestPrices`` per venue among the keys."""
    by_venue: dict[str, set[str]] = defaultdict(set)
    for symbol, venue in keys:
        by_venue[venue].add(symbol)
    found: dict[SymbolKey, storage_pb.LatestPrice] = {}
    failed: dict[str, BaseException] = {}
    for venue, symbols in by_venue.items():
        request = storage_pb.ListLatestPricesRequest(symbols=sorted(symbols), venue=venue)
        try:
            reply = await storage.ListLatestPrices(request, timeout=_RPC_TIMEOUT_S)
        except grpc.aio.AioRpcError as error:
            failed[venue] = from_rpc_error(error, "latest")
            continue
        for price in reply.prices:
            found[(price.symbol, price.venue)] = price
    return [failed.get(key[1]) or found.get(key) for key in keys]


def latest_price_loader(info: Info[Context, None]) -> LatestPriceLoader:
    """This request's loader (made on first use). Not caching: a subscription's context lives
    as long as its connection, and a price read then must not be served later."""
    loaders = info.context.loaders
    loader = loaders.get("latest_price")
    if loader is None:
        storage = info.context.backends.storage

        async def load(
            keys: list[SymbolKey],
        ) -> list[storage_pb.LatestPrice | BaseException | None]:
            return await load_latest_prices(storage, keys)

        loader = loaders["latest_price"] = LatestPriceLoader(load_fn=load, cache=False)
    assert isinstance(loader, DataLoader)
    return loader


def _loader(info: Info[Context, None], name: str, load: Any) -> DataLoader[Any, Any]:
    """This request's loader called ``name``, made on first use; never caching (see above)."""
    loaders = info.context.loaders
    loader = loaders.get(name)
    if loader is None:
        loader = loaders[name] = DataLoader(load_fn=load, cache=False)
    assert isinstance(loader, DataLoader)
    return loader


# (symbol, venue, how many, summary: without equity and trades): one market's newest results.
BacktestsKey = tuple[str, str, int, bool]


async def load_backtests(
    backtest: backtest_service_pb2_grpc.BacktestServiceStub, keys: Sequence[BacktestsKey]
) -> list[list[backtest_pb.BacktestResult] | BaseException]:
    """Each market's newest stored results: one ``ListBacktests`` per distinct (count,
    summary)."""
    by_limit: dict[tuple[int, bool], list[SymbolKey]] = defaultdict(list)
    for symbol, venue, limit, summary in keys:
        by_limit[(limit, summary)].append((symbol, venue))
    found: dict[BacktestsKey, list[backtest_pb.BacktestResult] | BaseException] = {}
    for (limit, summary), markets in by_limit.items():
        request = backtest_pb.ListBacktestsRequest(
            markets=[backtest_pb.MarketKey(symbol=s, venue=v) for s, v in markets],
            limit=limit,
            summary=summary,
        )
        try:
            reply = await backtest.ListBacktests(request, timeout=_RPC_TIMEOUT_S)
        except grpc.aio.AioRpcError as error:
            failure = from_rpc_error(error, "backtests")
            found.update({(s, v, limit, summary): failure for s, v in markets})
            continue
        for market in reply.markets:
            key = (market.market.symbol, market.market.venue, limit, summary)
            found[key] = list(market.results)
    return [found.get(key, []) for key in keys]


def backtests_loader(info: Info[Context, None]) -> DataLoader[BacktestsKey, Any]:
    backtest = info.context.backends.backtest
    if backtest is None:
        raise TypedError("UNAVAILABLE", "this gateway is not connected to the backtest service")

    async def load(keys: list[BacktestsKey]) -> list[Any]:
        return await load_backtests(backtest, keys)

    return _loader(info, "backtests", load)


async def load_alert_rules(
    alerts: alerts_service_pb2_grpc.AlertsServiceStub,
    keys: Sequence[SymbolKey],
    owner: str = LOCAL_USER,
) -> list[list[alerts_pb.Rule] | BaseException]:
    """Each market's alert rules of ``owner``: one ``ListRules`` (filtered by symbol when
    only one symbol is asked for, else every rule of the owner, grouped here)."""
    symbols = {symbol for symbol, _ in keys}
    only = next(iter(symbols)) if len(symbols) == 1 else ""
    request = alerts_pb.ListRulesRequest(owner=owner, symbol=only)
    try:
        reply = await alerts.ListRules(request, timeout=_RPC_TIMEOUT_S)
    except grpc.aio.AioRpcError as error:
        failure = from_rpc_error(error, "alertRules")
        return [failure for _ in keys]
    grouped: dict[SymbolKey, list[alerts_pb.Rule]] = defaultdict(list)
    for rule in reply.rules:
        grouped[(rule.symbol, rule.venue)].append(rule)
    return [grouped.get(key, []) for key in keys]


def alert_rules_loader(info: Info[Context, None]) -> DataLoader[SymbolKey, Any]:
    alerts = info.context.backends.alerts
    if alerts is None:
        raise TypedError("UNAVAILABLE", "this gateway is not connected to the alerts service")

    caller = owner(info)  # the request's user: one loader per request

    async def load(keys: list[SymbolKey]) -> list[Any]:
        return await load_alert_rules(alerts, keys, caller)

    return _loader(info, "alert_rules", load)
