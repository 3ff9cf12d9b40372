"""Binance Spot WebSocket messages → normalised events, at the edge.

Pure: no sockets, no bus. Accepts the combined-stream envelope
``{"stream": "btcusdt@trade", "data": {...}}`` and bare payloads alike. Every message gets
exactly one verdict: an event (:class:`Trade`, :class:`AggTrade`, :class:`Kline`,
:class:`BookTicker`, :class:`Ticker`, :class:`MiniTicker`), :class:`Skipped` (well-formed,
a kind we do not handle, or a control reply) or :class:`Malformed` (with the reason, for the
dead letter).

One frozen model per wire message (spec §4), each with its own ``to_event``: adding a kind
is adding one class to ``_MESSAGES``. Field rules are the shared ones of
:mod:`services.common.trades` and :mod:`services.common.events`, so storage's decoder
accepts exactly what this parser accepts.
"""

from __future__ import annotations

import functools
import json
from abc import abstractmethod
from dataclasses import dataclass
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    ValidationError,
    ValidationInfo,
    model_validator,
)

from services.common import events, names, trades
from services.common.events import AggTrade, BookTicker, Event, Kline, MiniTicker, Ticker
from services.common.trades import Trade
from services.ingest.venues import detect_venue

# A Binance message is at most about 700 bytes (a 24hr ticker); even with every field at its
# longest legal value it stays under 2 KiB. 64 KiB leaves room for fields Binance may add,
# and keeps the raw message (which its dead letter carries) far below NATS' default 1 MiB
# payload limit.
MAX_MESSAGE_BYTES = 64 * 1024


def _epoch_ms(value: int, info: ValidationInfo) -> int:
    now = info.context["now_ms"] if info.context else trades.now_ms()
    return trades.normalise_epoch_ms(value, now)


def _candle_end_ms(value: int, info: ValidationInfo) -> int:
    # An open candle's close time lies ahead, up to a month for 1M.
    now = info.context["now_ms"] if info.context else trades.now_ms()
    return trades.normalise_epoch_ms(value, now + 31 * 24 * 3_600_000)


PositiveDecimal = Annotated[str, AfterValidator(trades.check_decimal)]
Amount = Annotated[str, AfterValidator(trades.check_non_negative_decimal)]
SignedDecimal = Annotated[str, AfterValidator(trades.check_signed_decimal)]
EpochMs = Annotated[StrictInt, AfterValidator(_epoch_ms)]
CandleEndMs = Annotated[StrictInt, AfterValidator(_candle_end_ms)]
TradeId = Annotated[StrictInt, AfterValidator(trades.check_trade_id)]
TradeIdOrNone = Annotated[StrictInt, AfterValidator(trades.check_trade_id_or_none)]
Count = Annotated[StrictInt, AfterValidator(trades.check_count)]
Symbol = Annotated[str, AfterValidator(trades.check_symbol)]


def _interval(value: str) -> str:
    names.kline_kind(value)  # ValueError for an interval Binance does not have
    return value


Interval = Annotated[str, AfterValidator(_interval)]


class _Message(BaseModel):
    """One wire message; ``wire_kind`` is its ``e`` (or, without one, its stream kind)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    wire_kind: ClassVar[str]
    symbol: Symbol = Field(alias="s")

    @abstractmethod
    def to_event(self, venue: str, received_time_us: int) -> Event:
        """The normalised event this message reports."""


class _TradeMessage(_Message):
    """``<symbol>@trade`` (spec §4.1)."""

    wire_kind = "trade"
    event_type: Literal["trade"] = Field(alias="e")
    event_time: EpochMs = Field(alias="E")
    trade_id: TradeId = Field(alias="t")
    price: PositiveDecimal = Field(alias="p")
    quantity: PositiveDecimal = Field(alias="q")
    trade_time: EpochMs = Field(alias="T")
    buyer_is_maker: StrictBool = Field(alias="m")

    def to_event(self, venue: str, received_time_us: int) -> Trade:
        return Trade(
            venue=venue,
            symbol=self.symbol,
            trade_id=self.trade_id,
            price=self.price,
            quantity=self.quantity,
            trade_time_ms=self.trade_time,
            event_time_ms=self.event_time,
            buyer_is_maker=self.buyer_is_maker,
            received_time_us=received_time_us,
        )


class AggTradeFields(BaseModel):
    """The fields of an aggregate trade, as the ``aggTrade`` stream and REST
    ``/api/v3/aggTrades`` (spec §4.2, §7.2) both send them."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    agg_id: TradeId = Field(alias="a")
    price: PositiveDecimal = Field(alias="p")
    quantity: PositiveDecimal = Field(alias="q")
    first_trade_id: TradeId = Field(alias="f")
    last_trade_id: TradeId = Field(alias="l")
    trade_time: EpochMs = Field(alias="T")
    buyer_is_maker: StrictBool = Field(alias="m")

    @model_validator(mode="after")
    def _ids_run_forwards(self) -> AggTradeFields:
        events.check_trade_range(self.first_trade_id, self.last_trade_id)
        return self

    def agg_trade(
        self, venue: str, symbol: str, event_time_ms: int, received_time_us: int
    ) -> AggTrade:
        return AggTrade(
            venue=venue,
            symbol=symbol,
            agg_id=self.agg_id,
            price=self.price,
            quantity=self.quantity,
            first_trade_id=self.first_trade_id,
            last_trade_id=self.last_trade_id,
            trade_time_ms=self.trade_time,
            event_time_ms=event_time_ms,
            buyer_is_maker=self.buyer_is_maker,
            received_time_us=received_time_us,
        )


class _AggTradeMessage(_Message, AggTradeFields):
    """``<symbol>@aggTrade`` (spec §4.2)."""

    wire_kind = "aggTrade"
    event_type: Literal["aggTrade"] = Field(alias="e")
    event_time: EpochMs = Field(alias="E")

    def to_event(self, venue: str, received_time_us: int) -> AggTrade:
        return self.agg_trade(venue, self.symbol, self.event_time, received_time_us)


class _Candle(BaseModel):
    """The ``k`` object of a kline message."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    open_time: EpochMs = Field(alias="t")
    close_time: CandleEndMs = Field(alias="T")
    symbol: Symbol = Field(alias="s")
    interval: Interval = Field(alias="i")
    first_trade_id: TradeIdOrNone = Field(alias="f")
    last_trade_id: TradeIdOrNone = Field(alias="L")
    open: PositiveDecimal = Field(alias="o")
    close: PositiveDecimal = Field(alias="c")
    high: PositiveDecimal = Field(alias="h")
    low: PositiveDecimal = Field(alias="l")
    volume: Amount = Field(alias="v")
    trades: Count = Field(alias="n")
    closed: StrictBool = Field(alias="x")
    quote_volume: Amount = Field(alias="q")
    taker_buy_volume: Amount = Field(alias="V")
    taker_buy_quote_volume: Amount = Field(alias="Q")

    @model_validator(mode="after")
    def _is_a_candle(self) -> _Candle:
        events.check_kline_shape(self.open_time, self.close_time, self.high, self.low)
        return self


class _KlineMessage(_Message):
    """``<symbol>@kline_<interval>`` (spec §4.3)."""

    wire_kind = "kline"
    event_type: Literal["kline"] = Field(alias="e")
    event_time: EpochMs = Field(alias="E")
    candle: _Candle = Field(alias="k")

    @model_validator(mode="after")
    def _one_symbol(self) -> _KlineMessage:
        if self.candle.symbol != self.symbol:
            raise ValueError(f"k.s {self.candle.symbol} differs from s {self.symbol}")
        return self

    def to_event(self, venue: str, received_time_us: int) -> Kline:
        k = self.candle
        return Kline(
            venue=venue,
            symbol=self.symbol,
            interval=k.interval,
            open_time_ms=k.open_time,
            close_time_ms=k.close_time,
            open=k.open,
            high=k.high,
            low=k.low,
            close=k.close,
            volume=k.volume,
            quote_volume=k.quote_volume,
            trades=k.trades,
            first_trade_id=k.first_trade_id,
            last_trade_id=k.last_trade_id,
            taker_buy_volume=k.taker_buy_volume,
            taker_buy_quote_volume=k.taker_buy_quote_volume,
            closed=k.closed,
            event_time_ms=self.event_time,
            received_time_us=received_time_us,
        )


class _BookTickerMessage(_Message):
    """``<symbol>@bookTicker`` (spec §4.6): Spot sends no ``e`` and no ``E``."""

    wire_kind = "bookTicker"
    update_id: TradeId = Field(alias="u")
    bid_price: Amount = Field(alias="b")
    bid_quantity: Amount = Field(alias="B")
    ask_price: Amount = Field(alias="a")
    ask_quantity: Amount = Field(alias="A")

    def to_event(self, venue: str, received_time_us: int) -> BookTicker:
        return BookTicker(
            venue=venue,
            symbol=self.symbol,
            update_id=self.update_id,
            bid_price=self.bid_price,
            bid_quantity=self.bid_quantity,
            ask_price=self.ask_price,
            ask_quantity=self.ask_quantity,
            received_time_us=received_time_us,
        )


class _RollingWindowMessage(_Message):
    """What the 24-hour ticker and mini ticker share: the window's statistics."""

    event_time: EpochMs = Field(alias="E")
    open: Amount = Field(alias="o")
    high: Amount = Field(alias="h")
    low: Amount = Field(alias="l")
    volume: Amount = Field(alias="v")
    quote_volume: Amount = Field(alias="q")

    @model_validator(mode="after")
    def _low_below_high(self) -> _RollingWindowMessage:
        trades.check_low_high(self.low, self.high)
        return self


class _TickerMessage(_RollingWindowMessage):
    """``<symbol>@ticker`` (spec §4.5). Its ``x`` is a price, unlike a kline's."""

    wire_kind = "24hrTicker"
    event_type: Literal["24hrTicker"] = Field(alias="e")
    price_change: SignedDecimal = Field(alias="p")
    price_change_percent: SignedDecimal = Field(alias="P")
    weighted_average_price: Amount = Field(alias="w")
    first_price: Amount = Field(alias="x")
    last_price: Amount = Field(alias="c")
    last_quantity: Amount = Field(alias="Q")
    best_bid_price: Amount = Field(alias="b")
    best_bid_quantity: Amount = Field(alias="B")
    best_ask_price: Amount = Field(alias="a")
    best_ask_quantity: Amount = Field(alias="A")
    open_time: EpochMs = Field(alias="O")
    close_time: EpochMs = Field(alias="C")
    first_trade_id: TradeIdOrNone = Field(alias="F")
    last_trade_id: TradeIdOrNone = Field(alias="L")
    trades: Count = Field(alias="n")

    def to_event(self, venue: str, received_time_us: int) -> Ticker:
        return Ticker(
            venue=venue,
            symbol=self.symbol,
            event_time_ms=self.event_time,
            price_change=self.price_change,
            price_change_percent=self.price_change_percent,
            weighted_average_price=self.weighted_average_price,
            first_price=self.first_price,
            last_price=self.last_price,
            last_quantity=self.last_quantity,
            best_bid_price=self.best_bid_price,
            best_bid_quantity=self.best_bid_quantity,
            best_ask_price=self.best_ask_price,
            best_ask_quantity=self.best_ask_quantity,
            open=self.open,
            high=self.high,
            low=self.low,
            volume=self.volume,
            quote_volume=self.quote_volume,
            open_time_ms=self.open_time,
            close_time_ms=self.close_time,
            first_trade_id=self.first_trade_id,
            last_trade_id=self.last_trade_id,
            trades=self.trades,
            received_time_us=received_time_us,
        )


class _MiniTickerMessage(_RollingWindowMessage):
    """``<symbol>@miniTicker`` (spec §4.4)."""

    wire_kind = "24hrMiniTicker"
    event_type: Literal["24hrMiniTicker"] = Field(alias="e")
    close: Amount = Field(alias="c")

    def to_event(self, venue: str, received_time_us: int) -> MiniTicker:
        return MiniTicker(
            venue=venue,
            symbol=self.symbol,
            event_time_ms=self.event_time,
            open=self.open,
            high=self.high,
            low=self.low,
            close=self.close,
            volume=self.volume,
            quote_volume=self.quote_volume,
            received_time_us=received_time_us,
        )


_MESSAGES: dict[str, type[_Message]] = {
    model.wire_kind: model
    for model in (
        _TradeMessage,
        _AggTradeMessage,
        _KlineMessage,
        _BookTickerMessage,
        _TickerMessage,
        _MiniTickerMessage,
    )
}
# What a reason calls each message: "invalid trade: …", "invalid ticker: …".
_LABELS = {"24hrTicker": "ticker", "24hrMiniTicker": "miniTicker"}


@dataclass(frozen=True, slots=True)
class Skipped:
    """Well-formed but not an event we handle: ``kind`` says what it was."""

    kind: str


@dataclass(frozen=True, slots=True)
class Malformed:
    """Broken or invalid input; ``reason`` goes into the dead letter."""

    reason: str


Verdict = Event | Skipped | Malformed


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
    if isinstance(raw, bytes) or len(raw) * 4 <= MAX_MESSAGE_BYTES:
        return len(raw)
    return len(raw.encode("utf-8", "surrogatepass"))


def _stream_mismatch(stream: str, event: Event) -> str | None:
    """Why ``event`` cannot have come on ``stream``, or None if it can."""
    if _stream_identity(stream) != (event.symbol, event.kind):
        return f"stream {stream!r} carries a {event.kind} of {event.symbol}"
    return None


@functools.lru_cache(maxsize=4096)  # a feed has few streams, each seen for every message
def _stream_identity(stream: str) -> tuple[str, str | None]:
    """The upper-case symbol and the bus kind a stream name promises (None: no kind)."""
    symbol, _, rest = stream.partition("@")
    stream_kind = rest.split("@", 1)[0]  # kline_1m@+08:00 is still kline_1m
    try:
        kind: str | None = names.stream_kind(stream_kind)
    except ValueError:
        kind = None
    return symbol.upper(), kind


def _valid_trade(data: dict[str, Any], now: int, received_time_us: int) -> Trade | None:
    """A trade payload that passes every rule of :class:`_TradeMessage`, read without
    pydantic (which costs ingest more than anything else at tens of thousands of trades a
    second); None for anything else, which then takes the model's path and gets its
    verdict and reason there. Accepts a subset of what the model accepts: the same checks,
    exact types only."""
    try:
        symbol, trade_id, price, quantity = data["s"], data["t"], data["p"], data["q"]
        event_time, trade_time, buyer_is_maker = data["E"], data["T"], data["m"]
    except KeyError:
        return None
    if not (
        data.get("e") == "trade"
        and type(symbol) is str
        and type(trade_id) is int
        and type(price) is str
        and type(quantity) is str
        and type(event_time) is int
        and type(trade_time) is int
        and type(buyer_is_maker) is bool
    ):
        return None
    try:
        trades.check_symbol(symbol)
        trades.check_trade_id(trade_id)
        trades.check_decimal(price)
        trades.check_decimal(quantity)
        event_ms = trades.normalise_epoch_ms(event_time, now)
        trade_ms = trades.normalise_epoch_ms(trade_time, now)
    except ValueError:
        return None
    # Positional: keywords double the cost of building a frozen dataclass, per trade.
    return Trade(
        detect_venue(data),
        symbol,
        trade_id,
        price,
        quantity,
        trade_ms,
        event_ms,
        buyer_is_maker,
        received_time_us,
    )


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
    model = _MESSAGES.get(kind)
    if model is None:
        return Skipped(kind)
    label = _LABELS.get(kind, kind)
    size = _size(raw)
    if size > MAX_MESSAGE_BYTES:
        return Malformed(
            f"{label} message of {size} bytes exceeds the {MAX_MESSAGE_BYTES}-byte limit"
        )
    now = trades.now_ms() if now_ms is None else now_ms
    event: Event | None = None
    if kind == "trade":
        event = _valid_trade(message, now, received_time_us)
    if event is None:
        try:
            payload = model.model_validate(message, context={"now_ms": now})
        except ValidationError as error:
            return Malformed(f"invalid {label}: {_describe(error)}")
        event = payload.to_event(detect_venue(message), received_time_us)
    if stream is not None and (mismatch := _stream_mismatch(stream, event)):
        return Malformed(mismatch)
    return event


def stream_names(
    symbols: tuple[str, ...] | list[str], streams: tuple[str, ...] | list[str]
) -> list[str]:
    """Binance stream names for every symbol × stream kind, symbol by symbol:
    ``(BTCUSDT,), (trade, kline_1m)`` → ``btcusdt@trade``, ``btcusdt@kline_1m``.
    ValueError for a stream kind QuantFlow does not handle."""
    for stream in streams:
        names.stream_kind(stream)
    return [f"{symbol.lower()}@{stream}" for symbol in symbols for stream in streams]
