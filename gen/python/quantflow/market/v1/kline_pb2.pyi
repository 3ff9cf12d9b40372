from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Optional as _Optional

DESCRIPTOR: _descriptor.FileDescriptor

class Kline(_message.Message):
    __slots__ = ("venue", "symbol", "interval", "open_time_ms", "close_time_ms", "open", "high", "low", "close", "volume", "quote_volume", "trades", "first_trade_id", "last_trade_id", "taker_buy_volume", "taker_buy_quote_volume", "closed", "event_time_ms", "received_time_us")
    VENUE_FIELD_NUMBER: _ClassVar[int]
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    INTERVAL_FIELD_NUMBER: _ClassVar[int]
    OPEN_TIME_MS_FIELD_NUMBER: _ClassVar[int]
    CLOSE_TIME_MS_FIELD_NUMBER: _ClassVar[int]
    OPEN_FIELD_NUMBER: _ClassVar[int]
    HIGH_FIELD_NUMBER: _ClassVar[int]
    LOW_FIELD_NUMBER: _ClassVar[int]
    CLOSE_FIELD_NUMBER: _ClassVar[int]
    VOLUME_FIELD_NUMBER: _ClassVar[int]
    QUOTE_VOLUME_FIELD_NUMBER: _ClassVar[int]
    TRADES_FIELD_NUMBER: _ClassVar[int]
    FIRST_TRADE_ID_FIELD_NUMBER: _ClassVar[int]
    LAST_TRADE_ID_FIELD_NUMBER: _ClassVar[int]
    TAKER_BUY_VOLUME_FIELD_NUMBER: _ClassVar[int]
    TAKER_BUY_QUOTE_VOLUME_FIELD_NUMBER: _ClassVar[int]
    CLOSED_FIELD_NUMBER: _ClassVar[int]
    EVENT_TIME_MS_FIELD_NUMBER: _ClassVar[int]
    RECEIVED_TIME_US_FIELD_NUMBER: _ClassVar[int]
    venue: str
    symbol: str
    interval: str
    open_time_ms: int
    close_time_ms: int
    open: str
    high: str
    low: str
    close: str
    volume: str
    quote_volume: str
    trades: int
    first_trade_id: int
    last_trade_id: int
    taker_buy_volume: str
    taker_buy_quote_volume: str
    closed: bool
    event_time_ms: int
    received_time_us: int
    def __init__(self, venue: _Optional[str] = ..., symbol: _Optional[str] = ..., interval: _Optional[str] = ..., open_time_ms: _Optional[int] = ..., close_time_ms: _Optional[int] = ..., open: _Optional[str] = ..., high: _Optional[str] = ..., low: _Optional[str] = ..., close: _Optional[str] = ..., volume: _Optional[str] = ..., quote_volume: _Optional[str] = ..., trades: _Optional[int] = ..., first_trade_id: _Optional[int] = ..., last_trade_id: _Optional[int] = ..., taker_buy_volume: _Optional[str] = ..., taker_buy_quote_volume: _Optional[str] = ..., closed: _Optional[bool] = ..., event_time_ms: _Optional[int] = ..., received_time_us: _Optional[int] = ...) -> None: ...
