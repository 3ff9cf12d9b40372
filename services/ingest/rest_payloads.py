"""Binance REST answers → the same normalised events as WebSocket messages, at the edge.

One frozen class per REST item shape, validated with the same field rules as the WebSocket
parser (:mod:`services.ingest.binance`), so a backfilled trade is exactly the trade the
live stream would have produced.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictBool, ValidationError

from services.common import trades
from services.common.events import AggTrade, Kline
from services.common.trades import Trade
from services.ingest.binance import (
    AggTradeFields,
    EpochMs,
    Malformed,
    PositiveDecimal,
    TradeId,
    _Candle,
    _describe,
)


class RestTrade(BaseModel):
    """An item of ``/api/v3/historicalTrades`` or ``/api/v3/trades`` (spec §7.3)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    trade_id: TradeId = Field(alias="id")
    price: PositiveDecimal
    quantity: PositiveDecimal = Field(alias="qty")
    trade_time: EpochMs = Field(alias="time")
    buyer_is_maker: StrictBool = Field(alias="isBuyerMaker")

    def to_trade(self, venue: str, symbol: str, received_time_us: int) -> Trade:
        # REST has no event time; the trade's own time is when the exchange reported it.
        return Trade(
            venue=venue,
            symbol=symbol,
            trade_id=self.trade_id,
            price=self.price,
            quantity=self.quantity,
            trade_time_ms=self.trade_time,
            event_time_ms=self.trade_time,
            buyer_is_maker=self.buyer_is_maker,
            received_time_us=received_time_us,
        )


def parse_rest_trade(
    item: Any, venue: str, symbol: str, received_time_us: int = 0, now_ms: int | None = None
) -> Trade | Malformed:
    """One REST trade item of ``symbol`` (REST items do not name it) → Trade or Malformed."""
    if not isinstance(item, dict):
        return Malformed(f"REST trade of {symbol} is not a JSON object")
    now = trades.now_ms() if now_ms is None else now_ms
    try:
        payload = RestTrade.model_validate(item, context={"now_ms": now})
    except ValidationError as error:
        return Malformed(f"invalid REST trade of {symbol}: {_describe(error)}")
    return payload.to_trade(venue, symbol, received_time_us)


class RestAggTrade(AggTradeFields):
    """An item of ``/api/v3/aggTrades`` (spec §7.2): the WebSocket ``aggTrade`` payload
    without its event fields, so its trade time stands in for the event time."""

    def to_agg_trade(self, venue: str, symbol: str, received_time_us: int) -> AggTrade:
        return self.agg_trade(venue, symbol, self.trade_time, received_time_us)


def parse_rest_agg_trade(
    item: Any, venue: str, symbol: str, received_time_us: int = 0, now_ms: int | None = None
) -> AggTrade | Malformed:
    """One REST aggTrade item of ``symbol`` → the WebSocket parser's AggTrade, or Malformed."""
    if not isinstance(item, dict):
        return Malformed(f"REST aggTrade of {symbol} is not a JSON object")
    now = trades.now_ms() if now_ms is None else now_ms
    try:
        payload = RestAggTrade.model_validate(item, context={"now_ms": now})
    except ValidationError as error:
        return Malformed(f"invalid REST aggTrade of {symbol}: {_describe(error)}")
    return payload.to_agg_trade(venue, symbol, received_time_us)


# The 12 positions of a REST kline array (spec §7.1); the last one is unused.
_KLINE_FIELDS = (
    "t", "o", "h", "l", "c", "v", "T", "q", "n", "V", "Q", "B",
)  # fmt: skip


def parse_rest_kline(
    item: Any,
    venue: str,
    symbol: str,
    interval: str,
    received_time_us: int = 0,
    now_ms: int | None = None,
) -> Kline | Malformed:
    """One REST kline array → the final Kline the WebSocket parser makes of ``x: true``.

    REST marks no candle as closed: a caller asks only for candles that have closed (the
    newest item without ``endTime`` is the open one, spec §7.1). The array is put in the
    WebSocket ``k`` object's shape and validated by the WebSocket parser's own model.
    """
    if not isinstance(item, list) or len(item) < len(_KLINE_FIELDS) - 1:
        return Malformed(f"REST kline of {symbol} is not an array of 11 or 12 fields")
    now = trades.now_ms() if now_ms is None else now_ms
    candle = dict(zip(_KLINE_FIELDS, item, strict=False))
    # REST klines carry no trade ids; -1 is what Binance sends for a candle without trades.
    candle.update(s=symbol, i=interval, f=-1, L=-1, x=True)
    try:
        payload = _Candle.model_validate(candle, context={"now_ms": now})
    except ValidationError as error:
        return Malformed(f"invalid REST kline of {symbol}: {_describe(error)}")
    return Kline(
        venue=venue,
        symbol=symbol,
        interval=payload.interval,
        open_time_ms=payload.open_time,
        close_time_ms=payload.close_time,
        open=payload.open,
        high=payload.high,
        low=payload.low,
        close=payload.close,
        volume=payload.volume,
        quote_volume=payload.quote_volume,
        trades=payload.trades,
        first_trade_id=payload.first_trade_id,
        last_trade_id=payload.last_trade_id,
        taker_buy_volume=payload.taker_buy_volume,
        taker_buy_quote_volume=payload.taker_buy_quote_volume,
        closed=True,
        # REST has no event time; a final candle is reported when it closes.
        event_time_ms=payload.close_time,
        received_time_us=received_time_us,
    )
