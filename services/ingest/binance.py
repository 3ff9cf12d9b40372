"""Binance Spot WebSocket messages → normalised events, at the edge.

Pure: no sockets, no bus. Accepts the combined-stream envelope
``{"stream": "btcusdt@trade", "data": {...}}`` and bare payloads alike. Every message gets
exactly one verdict: a :class:`Trade`, :class:`Skipped` (well-formed, a kind we do not
handle yet, or a control reply) or :class:`Malformed` (with the reason, for the dead letter).
"""

from __future__ import annotations

import json
import re
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
)

from services.common.trades import Trade
from services.ingest.venues import detect_venue

_DECIMAL_RE = re.compile(r"[0-9]+(\.[0-9]+)?")
# Binance sends milliseconds unless asked for microseconds (timeUnit=MICROSECOND).
_MICROSECONDS_FROM = 10**15


def _positive_decimal(text: str) -> str:
    if not _DECIMAL_RE.fullmatch(text):
        raise ValueError(f"{text!r} is not a decimal number")
    if not text.strip("0."):
        raise ValueError(f"{text!r} must be greater than zero")
    return text


def _epoch_ms(value: int) -> int:
    if value <= 0:
        raise ValueError("time must be a positive epoch")
    return value // 1000 if value >= _MICROSECONDS_FROM else value


PositiveDecimal = Annotated[str, AfterValidator(_positive_decimal)]
EpochMs = Annotated[StrictInt, AfterValidator(_epoch_ms)]


class _TradePayload(BaseModel):
    """``<symbol>@trade`` payload (spec §4.1); unknown fields are ignored."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    event_type: Literal["trade"] = Field(alias="e")
    event_time: EpochMs = Field(alias="E")
    symbol: str = Field(alias="s", pattern=r"^[A-Z0-9]{2,30}$")
    trade_id: StrictInt = Field(alias="t", ge=0)
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


def parse_message(raw: str | bytes, received_time_us: int = 0) -> Verdict:
    """Classify one raw WebSocket text message."""
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
        if not isinstance(message, dict):
            return Skipped(stream.split("@", 1)[-1] if "@" in stream else "array")
    kind = _kind(stream, message)
    if kind != "trade":
        return Skipped(kind)
    try:
        payload = _TradePayload.model_validate(message)
    except ValidationError as error:
        return Malformed(f"invalid trade: {_describe(error)}")
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


def combined_stream_path(symbols: tuple[str, ...] | list[str]) -> str:
    """``/stream?streams=btcusdt@trade/ethusdt@trade`` for the given symbols."""
    return "/stream?streams=" + "/".join(f"{s.lower()}@trade" for s in symbols)
