"""Market events' protobuf form on the bus, at the edge only."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence

from google.protobuf.message import Message

from quantflow.market.v1 import (
    agg_trade_pb2,
    book_ticker_pb2,
    event_batch_pb2,
    kline_pb2,
    mini_ticker_pb2,
    ticker_pb2,
    trade_pb2,
)
from services.common import names, trades
from services.common.events import AggTrade, BookTicker, Event, Kline, MiniTicker, Ticker
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
    # Positional: keywords double the cost of building a frozen dataclass, per trade.
    trade = Trade(
        message.venue,
        message.symbol,
        message.trade_id,
        message.price,
        message.quantity,
        message.trade_time_ms,
        message.event_time_ms,
        message.buyer_is_maker,
        message.received_time_us,
    )
    return validate_trade(trade, now_ms)


# Each event's protobuf message: field names are the same on both sides, so one mapping
# serves every kind. Adding a kind is adding one line here.
_MESSAGES: dict[type[Event], type[Message]] = {
    Trade: trade_pb2.Trade,
    AggTrade: agg_trade_pb2.AggTrade,
    Kline: kline_pb2.Kline,
    BookTicker: book_ticker_pb2.BookTicker,
    Ticker: ticker_pb2.Ticker,
    MiniTicker: mini_ticker_pb2.MiniTicker,
}
_EVENTS_BY_KIND: dict[str, type[Event]] = {
    names.TRADE: Trade,
    names.AGGTRADE: AggTrade,
    names.BOOK: BookTicker,
    names.TICKER: Ticker,
    names.MINITICKER: MiniTicker,
    **{names.kline_kind(interval): Kline for interval in names.KLINE_INTERVALS},
}


# Each kind's field names, looked up once: encoding and decoding run per event.
_FIELDS: dict[type[Event], tuple[str, ...]] = {
    event_type: tuple(field.name for field in dataclasses.fields(event_type))
    for event_type in _MESSAGES
}


def to_message(event: Event) -> Message:
    """Any market event as its ``quantflow.market.v1`` protobuf message."""
    return _MESSAGES[type(event)](**{name: getattr(event, name) for name in _FIELDS[type(event)]})


def encode_event(event: Event) -> bytes:
    """Any market event's protobuf bytes."""
    if type(event) is Trade:  # tens of thousands a second: the fields spelled out
        return encode_trade(event)
    payload: bytes = to_message(event).SerializeToString()
    return payload


def decode_event(kind: str, payload: bytes, now_ms: int | None = None) -> Event:
    """The event of bus kind ``kind`` (a subject's kind token) in ``payload``, validated
    like ingest validates it; ``ValueError`` for anything else, an unknown kind included."""
    event_type = _EVENTS_BY_KIND.get(kind)
    if event_type is None:
        raise ValueError(f"no market event of kind {kind!r}")
    if event_type is Trade:  # tens of thousands a second: the fields spelled out
        return decode_trade(payload, now_ms)
    message_type = _MESSAGES[event_type]
    try:
        message = message_type.FromString(payload)
    except Exception as error:  # protobuf raises its own DecodeError
        raise ValueError(f"not a {message_type.DESCRIPTOR.full_name}: {error}") from error
    fields = {name: getattr(message, name) for name in _FIELDS[event_type]}
    event: Event = event_type(**fields).validate(now_ms)
    if event.kind != kind:
        raise ValueError(f"a {event.kind} event on a {kind} subject")
    return event


# Marks a bus message holding a market.v1.EventBatch (its value: how many events); a
# message without it holds one bare event, the only form before batches existed.
BATCH_HEADER = "Quantflow-Batch"


@dataclasses.dataclass(frozen=True, slots=True)
class InvalidEvent:
    """One event of a bus message that does not decode or validate: its bytes and why."""

    payload: bytes
    reason: str


def encode_batch(events: Sequence[Event]) -> bytes:
    """Events of one subject as a ``market.v1.EventBatch``."""
    payload: bytes = event_batch_pb2.EventBatch(
        events=[encode_event(event) for event in events]
    ).SerializeToString()
    return payload


def decode_message(
    kind: str,
    payload: bytes,
    headers: Mapping[str, str] | None,
    now_ms: int | None = None,
) -> list[Event | InvalidEvent]:
    """The events of one bus message on a ``kind`` subject, each decoded and validated on
    its own, so one bad event of a batch spoils only itself. ``ValueError`` when the
    message is not an event or a batch at all."""
    if not headers or BATCH_HEADER not in headers:
        return [_decoded(kind, payload, now_ms)]
    try:
        batch = event_batch_pb2.EventBatch.FromString(payload)
    except Exception as error:  # protobuf raises its own DecodeError
        raise ValueError(f"not a quantflow.market.v1.EventBatch: {error}") from error
    # One clock reading bounds every event of the message.
    now = trades.now_ms() if now_ms is None else now_ms
    return [_decoded(kind, event, now) for event in batch.events]


def _decoded(kind: str, payload: bytes, now_ms: int | None) -> Event | InvalidEvent:
    try:
        return decode_event(kind, payload, now_ms)
    except ValueError as error:
        return InvalidEvent(payload, str(error))
