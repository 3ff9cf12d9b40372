from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Optional as _Optional

DESCRIPTOR: _descriptor.FileDescriptor

class AggTrade(_message.Message):
    __slots__ = ("venue", "symbol", "agg_id", "price", "quantity", "first_trade_id", "last_trade_id", "trade_time_ms", "event_time_ms", "buyer_is_maker", "received_time_us")
    VENUE_FIELD_NUMBER: _ClassVar[int]
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    AGG_ID_FIELD_NUMBER: _ClassVar[int]
    PRICE_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_FIELD_NUMBER: _ClassVar[int]
    FIRST_TRADE_ID_FIELD_NUMBER: _ClassVar[int]
    LAST_TRADE_ID_FIELD_NUMBER: _ClassVar[int]
    TRADE_TIME_MS_FIELD_NUMBER: _ClassVar[int]
    EVENT_TIME_MS_FIELD_NUMBER: _ClassVar[int]
    BUYER_IS_MAKER_FIELD_NUMBER: _ClassVar[int]
    RECEIVED_TIME_US_FIELD_NUMBER: _ClassVar[int]
    venue: str
    symbol: str
    agg_id: int
    price: str
    quantity: str
    first_trade_id: int
    last_trade_id: int
    trade_time_ms: int
    event_time_ms: int
    buyer_is_maker: bool
    received_time_us: int
    def __init__(self, venue: _Optional[str] = ..., symbol: _Optional[str] = ..., agg_id: _Optional[int] = ..., price: _Optional[str] = ..., quantity: _Optional[str] = ..., first_trade_id: _Optional[int] = ..., last_trade_id: _Optional[int] = ..., trade_time_ms: _Optional[int] = ..., event_time_ms: _Optional[int] = ..., buyer_is_maker: _Optional[bool] = ..., received_time_us: _Optional[int] = ...) -> None: ...
