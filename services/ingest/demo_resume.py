"""What the system already holds for the demo's symbols, so a demo run continues after it.

Storage's latest stored trade (over gRPC) is the record that lasts; the bus's last message
on the symbol's subject covers what was published but not stored yet (the MARKET stream
keeps only a day). Either may be missing; with neither, the demo starts at the capture.
"""

from __future__ import annotations

import logging

import grpc
from nats.errors import Error as NatsError
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError
from pydantic import SecretStr

from quantflow.storage.v1 import storage_service_pb2 as storage_pb
from quantflow.storage.v1 import storage_service_pb2_grpc
from services.common import names
from services.common.codec import decode_message
from services.common.service_token import service_channel
from services.common.trades import Trade
from services.ingest.sources import TradePoint

log = logging.getLogger(__name__)

_STORAGE_TIMEOUT_S = 5.0


class StorageUnreachable(Exception):
    """Storage did not answer; the bus is the only record left to ask."""


async def known_trades(
    storage_target: str,
    js: JetStreamContext,
    namespace: str,
    symbols: tuple[str, ...],
    service_token: SecretStr | None = None,
) -> dict[str, tuple[TradePoint, ...]]:
    """Per symbol: the latest stored trade and the bus's last trade, those that exist."""
    known: dict[str, tuple[TradePoint, ...]] = {}
    for symbol in symbols:
        points: list[TradePoint] = []
        try:
            stored = await stored_latest(storage_target, symbol, service_token)
        except StorageUnreachable as error:
            log.warning(
                "demo: storage at %s did not answer (%s); resuming %s after the bus's "
                "last trade instead",
                storage_target,
                error,
                symbol,
            )
        else:
            points += [stored] if stored else []
        on_bus = await last_on_bus(js, namespace, symbol)
        points += [on_bus] if on_bus else []
        known[symbol] = tuple(points)
        if points:
            highest = max(points, key=lambda point: point.trade_id)
            log.info("demo: %s continues after trade %d", symbol, highest.trade_id)
        else:
            log.info("demo: nothing known for %s yet; starting at the capture's ids", symbol)
    return known


async def stored_latest(
    target: str, symbol: str, service_token: SecretStr | None = None
) -> TradePoint | None:
    """Storage's latest trade of ``symbol``; None when it stores none."""
    async with service_channel(target, service_token) as channel:
        stub = storage_service_pb2_grpc.StorageServiceStub(channel)
        try:
            reply = await stub.GetLatestPrice(
                storage_pb.GetLatestPriceRequest(symbol=symbol), timeout=_STORAGE_TIMEOUT_S
            )
        except grpc.aio.AioRpcError as error:
            if error.code() == grpc.StatusCode.NOT_FOUND:
                return None
            raise StorageUnreachable(f"{error.code().name}: {error.details()}") from error
    return TradePoint(reply.price.trade_id, reply.price.trade_time_ms)


async def last_on_bus(js: JetStreamContext, namespace: str, symbol: str) -> TradePoint | None:
    """The last trade of ``symbol`` on the MARKET stream; None when it holds none."""
    subject = names.trade_subject(symbol, names.VENUE_BINANCE, namespace)
    try:
        message = await js.get_last_msg(names.market_stream(namespace), subject)
    except NotFoundError:
        return None
    except (TimeoutError, NatsError) as error:
        log.warning("demo: could not read the last trade on %s (%s)", subject, error)
        return None
    if message.data is None:
        return None
    try:
        events = decode_message(names.TRADE, message.data, message.headers)
    except ValueError as error:
        events = []
        log.warning("demo: the last message on %s is not a trade (%s)", subject, error)
    # One trade, or a batch of them.
    trades = [event for event in events if isinstance(event, Trade)]
    if not trades:
        return None
    last = max(trades, key=lambda trade: trade.trade_id)
    return TradePoint(last.trade_id, last.trade_time_ms)
