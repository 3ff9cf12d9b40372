"""What the alerts service reads from storage over gRPC: which symbols the stack knows, and
the stored trades and candles RuleHistory evaluates.

A rule's symbol must be one the stack watches or holds: a symbol ingest is configured for
(``QUANTFLOW_SYMBOLS``), or one storage has any data of on the rule's venue (imported,
backfilled or subscribed at runtime: ``StorageService.ListSeries``). A well-formed symbol
the stack has never seen is refused, since a rule on it would wait for ever.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from decimal import Decimal
from typing import TypeAlias

import grpc

from quantflow.storage.v1 import storage_service_pb2 as storage_pb
from quantflow.storage.v1 import storage_service_pb2_grpc
from services.alerts.firing import CandleEvent
from services.common.candles import Candle
from services.common.errors import InvalidArgument, NotFound, QuantflowError, Unavailable
from services.common.trades import Trade

Storage: TypeAlias = storage_service_pb2_grpc.StorageServiceStub
_TIMEOUT_S = 10.0


def storage_error(error: grpc.aio.AioRpcError, doing: str) -> QuantflowError:
    """Storage's refusal in our error tree: its own words for a bad request."""
    code = error.code()
    if code == grpc.StatusCode.INVALID_ARGUMENT:
        return InvalidArgument(error.details() or doing)
    if code == grpc.StatusCode.NOT_FOUND:
        return NotFound(error.details() or doing)
    return Unavailable(f"storage could not {doing}: {code.name} {error.details() or ''}".strip())


class SymbolCatalogue:
    def __init__(self, storage: Storage, configured: Sequence[str]) -> None:
        self._storage = storage
        self._configured = frozenset(configured)

    async def check(self, symbol: str, venue: str) -> None:
        """INVALID_ARGUMENT unless the stack ingests or stores ``symbol``."""
        if symbol in self._configured:
            return
        try:
            reply = await self._storage.ListSeries(
                storage_pb.ListSeriesRequest(symbol=symbol, venue=venue), timeout=_TIMEOUT_S
            )
        except grpc.aio.AioRpcError as error:
            raise storage_error(error, f"list the series of {symbol}") from error
        if not reply.kinds:
            configured = ", ".join(sorted(self._configured)) or "none"
            raise InvalidArgument(
                f"symbol: {symbol} is unknown here: ingest is not configured for it "
                f"(QUANTFLOW_SYMBOLS: {configured}) and storage holds no {venue} data of it"
            )


async def stored_trades(
    storage: Storage, symbol: str, venue: str, from_ms: int, to_ms: int, limit: int
) -> AsyncIterator[Trade]:
    """Stored trades with trade time in [from_ms, to_ms), in trade-id order, at most
    ``limit`` (0: all)."""
    request = storage_pb.StreamTradesRequest(
        symbol=symbol, venue=venue, from_ms=from_ms, to_ms=to_ms, limit=limit
    )
    try:
        async for chunk in storage.StreamTrades(request):
            for stored in chunk.trades:
                yield Trade(
                    venue=stored.venue,
                    symbol=stored.symbol,
                    trade_id=stored.trade_id,
                    price=stored.price,
                    quantity=stored.quantity,
                    trade_time_ms=stored.trade_time_ms,
                    event_time_ms=stored.trade_time_ms,
                    buyer_is_maker=stored.buyer_is_maker,
                )
    except grpc.aio.AioRpcError as error:
        raise storage_error(error, f"stream the trades of {symbol}") from error


async def stored_candles(
    storage: Storage, symbol: str, venue: str, interval: str, from_ms: int, to_ms: int
) -> AsyncIterator[CandleEvent]:
    """Stored candles opening in [from_ms, to_ms), in time order."""
    request = storage_pb.GetOhlcRequest(
        symbol=symbol, venue=venue, interval=interval, from_ms=from_ms, to_ms=to_ms
    )
    try:
        async for chunk in storage.GetOhlc(request):
            for i, open_time in enumerate(chunk.open_time):
                yield CandleEvent(
                    symbol,
                    interval,
                    Candle(
                        open_time=open_time,
                        open=Decimal(chunk.open[i]),
                        high=Decimal(chunk.high[i]),
                        low=Decimal(chunk.low[i]),
                        close=Decimal(chunk.close[i]),
                        volume=Decimal(chunk.volume[i]),
                        quote_volume=Decimal(chunk.quote_volume[i]),
                        trades=chunk.trades[i],
                    ),
                )
    except grpc.aio.AioRpcError as error:
        raise storage_error(error, f"read the {interval} candles of {symbol}") from error
