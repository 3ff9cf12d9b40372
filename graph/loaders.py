"""DataLoaders: one gRPC call for what many fields of one request ask of the same RPC.

A query naming twenty symbols (``a: symbol(name: "BTCUSDT") { latest { price } } b: …``, or a
federation gateway resolving twenty ``Symbol`` entities at once) asks storage for the latest
prices once per venue, not twenty times.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

import grpc
from strawberry.dataloader import DataLoader
from strawberry.types import Info

from graph.context import Context
from graph.errors import from_rpc_error
from quantflow.storage.v1 import storage_service_pb2 as storage_pb
from quantflow.storage.v1 import storage_service_pb2_grpc

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
