"""Binance REST answers → the same normalised events as WebSocket messages, at the edge.

One frozen class per REST item shape, validated with the same field rules as the WebSocket
parser (:mod:`services.ingest.binance`), so a backfilled trade is exactly the trade the
live stream would have produced. Adding a kind (aggTrades, klines) is adding a class here.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictBool, ValidationError

from services.common import trades
from services.common.trades import Trade
from services.ingest.binance import EpochMs, Malformed, PositiveDecimal, TradeId, _describe


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
