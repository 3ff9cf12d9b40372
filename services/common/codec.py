"""A :class:`Trade`'s protobuf form on the bus, at the edge only."""

from __future__ import annotations

from quantflow.market.v1 import trade_pb2
from services.common.trades import Trade, validate_trade


def encode_trade(trade: Trade) -> bytes:
    message = trade_pb2.Trade(
        venue=trade.venue,
        symbol=trade.symbol,
        trade_id=trade.trade_id,
        price=trade.price,
        quantity=trade.quantity,
        trade_time_ms=trade.trade_time_ms,
        event_time_ms=trade.event_time_ms,
        buyer_is_maker=trade.buyer_is_maker,
        received_time_us=trade.received_time_us,
    )
    payload: bytes = message.SerializeToString()
    return payload


def decode_trade(payload: bytes, now_ms: int | None = None) -> Trade:
    """Raise ``ValueError`` for bytes that are not a complete, valid Trade event.

    The same validation as ingest's parser (:func:`validate_trade`), so an event that reached
    the bus by another way than ingest cannot store what ingest would have refused.
    """
    try:
        message = trade_pb2.Trade.FromString(payload)
    except Exception as error:  # protobuf raises its own DecodeError
        raise ValueError(f"not a quantflow.market.v1.Trade: {error}") from error
    if not message.symbol or not message.price or not message.quantity:
        raise ValueError("Trade event lacks symbol, price or quantity")
    trade = Trade(
        venue=message.venue,
        symbol=message.symbol,
        trade_id=message.trade_id,
        price=message.price,
        quantity=message.quantity,
        trade_time_ms=message.trade_time_ms,
        event_time_ms=message.event_time_ms,
        buyer_is_maker=message.buyer_is_maker,
        received_time_us=message.received_time_us,
    )
    return validate_trade(trade, now_ms)
