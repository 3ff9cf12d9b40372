from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Optional as _Optional

DESCRIPTOR: _descriptor.FileDescriptor

class BookTicker(_message.Message):
    __slots__ = ("venue", "symbol", "update_id", "bid_price", "bid_quantity", "ask_price", "ask_quantity", "received_time_us")
    VENUE_FIELD_NUMBER: _ClassVar[int]
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    UPDATE_ID_FIELD_NUMBER: _ClassVar[int]
    BID_PRICE_FIELD_NUMBER: _ClassVar[int]
    BID_QUANTITY_FIELD_NUMBER: _ClassVar[int]
    ASK_PRICE_FIELD_NUMBER: _ClassVar[int]
    ASK_QUANTITY_FIELD_NUMBER: _ClassVar[int]
    RECEIVED_TIME_US_FIELD_NUMBER: _ClassVar[int]
    venue: str
    symbol: str
    update_id: int
    bid_price: str
    bid_quantity: str
    ask_price: str
    ask_quantity: str
    received_time_us: int
    def __init__(self, venue: _Optional[str] = ..., symbol: _Optional[str] = ..., update_id: _Optional[int] = ..., bid_price: _Optional[str] = ..., bid_quantity: _Optional[str] = ..., ask_price: _Optional[str] = ..., ask_quantity: _Optional[str] = ..., received_time_us: _Optional[int] = ...) -> None: ...
