"""Binance Spot WebSocket messages → normalised events, at the edge.

Pure: no sockets, no bus. Accepts the combined-stream envelope
``{"stream": "btcusdt@trade", "data": {...}}`` and bare payloads alike. Every message gets
exactly one verdict: a :class:`Trade`, :class:`Skipped` (well-formed, a kind we do not
handle yet, or a control reply) or :class:`Malformed` (with the reason, for the dead letter).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    ValidationError,
    ValidationInfo,
)

from services.common import trades
from services.common.trades import Trade
from services.ingest.venues import detect_venue

# A Binance trade message is about 250 bytes; even with every field at its longest legal
# value it stays under 1 KiB. 64 KiB leaves room for fields Binance may add, and keeps the
# raw message (which its dead letter carries) far below NATS' default 1 MiB payload limit.
MAX_TRADE_MESSAGE_BYTES = 64 * 1024


def _epoch_ms(value: int, info: ValidationInfo) -> int:
    now = info.context["now_ms"] if info.context else trades.now_ms()
    return trades.normalise_epoch_ms(value, now)


PositiveDecimal = Annotated[str, AfterValidator(trades.check_decimal)]
EpochMs = Annotated[StrictInt, AfterValidator(_epoch_ms)]
TradeId = Annotated[StrictInt, AfterValidator(trades.check_trade_id)]
Symbol = Annotated[str, AfterValidator(trades.check_symbol)]


class _TradePayload(BaseModel):
    """``<symbol>@trade`` payload (spec §4.1); unknown fields are ignored."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    event_type: Literal["trade"] = Field(alias="e")
    event_time: EpochMs = Field(alias="E")
    symbol: Symbol = Field(alias="s")
    trade_id: TradeId = Field(alias="t")
    price: PositiveDecimal = Field(alias="p")
    quantity: PositiveDecimal = Field(alias="q")
    trade_time: EpochMs = Field(alias="T")
    buyer_is_maker: StrictBool = Field(alias="m")


@dataclass(frozen=True, slots=True)
class Skipped:
    """Well-formed but not an event we store: ``kind`` says what it was."""

    kind: str


@dataclass(frozen=True, slots=True)
class Malformed:
    """Broken or invalid input; ``reason`` goes into the dead letter."""

    reason: str


Verdict = Trade | Skipped | Malformed


def _describe(error: ValidationError) -> str:
    parts = []
    for item in error.errors(include_url=False):
        where = ".".join(str(p) for p in item["loc"]) or "payload"
        parts.append(f"{where}: {item['msg']}")
    return "; ".join(parts)


def _kind(stream: str | None, data: dict[str, Any]) -> str:
    event = data.get("e")
    if isinstance(event, str):
        return event
    if stream and "@" in stream:
        return stream.split("@", 1)[1]
    if "lastUpdateId" in data:
        return "depthSnapshot"
    if {"u", "b", "a"} <= data.keys():
        return "bookTicker"
    return "unknown"


def _size(raw: str | bytes) -> int:
    # UTF-8 takes at most 4 bytes a character: short text needs no encoding to be measured.
    if isinstance(raw, bytes) or len(raw) * 4 <= MAX_TRADE_MESSAGE_BYTES:
        return len(raw)
    return len(raw.encode("utf-8", "surrogatepass"))


def parse_message(
    raw: str | bytes, received_time_us: int = 0, now_ms: int | None = None
) -> Verdict:
    """Classify one raw WebSocket text message; ``now_ms`` (default: the clock) bounds times."""
    try:
        message = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as error:
        return Malformed(f"invalid JSON: {error}")
    if not isinstance(message, dict):
        return Malformed(f"expected a JSON object, got {type(message).__name__}")
    if "result" in message and "id" in message:
        return Skipped("reply")
    if "error" in message and "id" in message:
        return Skipped("error-reply")
    stream: str | None = None
    if "stream" in message:
        stream = message["stream"]
        if not isinstance(stream, str) or "data" not in message:
            return Malformed("combined-stream envelope without a 'stream' name and 'data'")
        message = message["data"]
        if message is None:
            return Malformed(f"combined-stream envelope of {stream!r} with null 'data'")
        if not isinstance(message, dict):
            return Skipped(stream.split("@", 1)[-1] if "@" in stream else "array")
    kind = _kind(stream, message)
    if kind != "trade":
        return Skipped(kind)
    size = _size(raw)
    if size > MAX_TRADE_MESSAGE_BYTES:
        return Malformed(
            f"trade message of {size} bytes exceeds the {MAX_TRADE_MESSAGE_BYTES}-byte limit"
        )
    now = trades.now_ms() if now_ms is None else now_ms
    try:
        payload = _TradePayload.model_validate(message, context={"now_ms": now})
    except ValidationError as error:
        return Malformed(f"invalid trade: {_describe(error)}")
    if stream is not None and stream.split("@", 1)[0].upper() != payload.symbol:
        return Malformed(f"stream {stream!r} carries a trade of {payload.symbol}")
    return Trade(
        venue=detect_venue(message),
        symbol=payload.symbol,
        trade_id=payload.trade_id,
        price=payload.price,
        quantity=payload.quantity,
        trade_time_ms=payload.trade_time,
        event_time_ms=payload.event_time,
        buyer_is_maker=payload.buyer_is_maker,
        received_time_us=received_time_us,
    )
