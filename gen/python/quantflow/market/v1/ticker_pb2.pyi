from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Optional as _Optional

DESCRIPTOR: _descriptor.FileDescriptor

class Ticker(_message.Message):
    __slots__ = ("venue", "symbol", "event_time_ms", "price_change", "price_change_percent", "weighted_average_price", "first_price", "last_price", "last_quantity", "best_bid_price", "best_bid_quantity", "best_ask_price", "best_ask_quantity", "open", "high", "low", "volume", "quote_volume", "open_time_ms", "close_time_ms", "first_trade_id", "last_trade_id", "trades", "received_time_us")
    VENUE_FIELD_NUMBER: _ClassVar[int]
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    EVENT_TIME_MS_FIELD_NUMBER: _ClassVar[int]
    PRICE_CHANGE_FIELD_NUMBER: _ClassVar[int]
    PRICE_CHANGE_PERCENT_FIELD_NUMBER: _ClassVar[int]
    WEIGHTED_AVERAGE_PRICE_FIELD_NUMBER: _ClassVar[int]
    FIRST_PRICE_FIELD_NUMBER: _ClassVar[int]
    LAST_PRICE_FIELD_NUMBER: _ClassVar[int]
    LAST_QUANTITY_FIELD_NUMBER: _ClassVar[int]
    BEST_BID_PRICE_FIELD_NUMBER: _ClassVar[int]
    BEST_BID_QUANTITY_FIELD_NUMBER: _ClassVar[int]
    BEST_ASK_PRICE_FIELD_NUMBER: _ClassVar[int]
    BEST_ASK_QUANTITY_FIELD_NUMBER: _ClassVar[int]
    OPEN_FIELD_NUMBER: _ClassVar[int]
    HIGH_FIELD_NUMBER: _ClassVar[int]
    LOW_FIELD_NUMBER: _ClassVar[int]
    VOLUME_FIELD_NUMBER: _ClassVar[int]
    QUOTE_VOLUME_FIELD_NUMBER: _ClassVar[int]
    OPEN_TIME_MS_FIELD_NUMBER: _ClassVar[int]
    CLOSE_TIME_MS_FIELD_NUMBER: _ClassVar[int]
    FIRST_TRADE_ID_FIELD_NUMBER: _ClassVar[int]
    LAST_TRADE_ID_FIELD_NUMBER: _ClassVar[int]
    TRADES_FIELD_NUMBER: _ClassVar[int]
    RECEIVED_TIME_US_FIELD_NUMBER: _ClassVar[int]
    venue: str
    symbol: str
    event_time_ms: int
    price_change: str
    price_change_percent: str
    weighted_average_price: str
    first_price: str
    last_price: str
    last_quantity: str
    best_bid_price: str
    best_bid_quantity: str
    best_ask_price: str
    best_ask_quantity: str
    open: str
    high: str
    low: str
    volume: str
    quote_volume: str
    open_time_ms: int
    close_time_ms: int
    first_trade_id: int
    last_trade_id: int
    trades: int
    received_time_us: int
    def __init__(self, venue: _Optional[str] = ..., symbol: _Optional[str] = ..., event_time_ms: _Optional[int] = ..., price_change: _Optional[str] = ..., price_change_percent: _Optional[str] = ..., weighted_average_price: _Optional[str] = ..., first_price: _Optional[str] = ..., last_price: _Optional[str] = ..., last_quantity: _Optional[str] = ..., best_bid_price: _Optional[str] = ..., best_bid_quantity: _Optional[str] = ..., best_ask_price: _Optional[str] = ..., best_ask_quantity: _Optional[str] = ..., open: _Optional[str] = ..., high: _Optional[str] = ..., low: _Optional[str] = ..., volume: _Optional[str] = ..., quote_volume: _Optional[str] = ..., open_time_ms: _Optional[int] = ..., close_time_ms: _Optional[int] = ..., first_trade_id: _Optional[int] = ..., last_trade_id: _Optional[int] = ..., trades: _Optional[int] = ..., received_time_us: _Optional[int] = ...) -> None: ...
