from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Optional as _Optional

DESCRIPTOR: _descriptor.FileDescriptor

class AlertFired(_message.Message):
    __slots__ = ("firing_id", "rule_id", "symbol", "venue", "condition", "time_ms", "price", "trade_id", "value", "candle_open_ms", "interval", "owner")
    FIRING_ID_FIELD_NUMBER: _ClassVar[int]
    RULE_ID_FIELD_NUMBER: _ClassVar[int]
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    VENUE_FIELD_NUMBER: _ClassVar[int]
    CONDITION_FIELD_NUMBER: _ClassVar[int]
    TIME_MS_FIELD_NUMBER: _ClassVar[int]
    PRICE_FIELD_NUMBER: _ClassVar[int]
    TRADE_ID_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    CANDLE_OPEN_MS_FIELD_NUMBER: _ClassVar[int]
    INTERVAL_FIELD_NUMBER: _ClassVar[int]
    OWNER_FIELD_NUMBER: _ClassVar[int]
    firing_id: str
    rule_id: str
    symbol: str
    venue: str
    condition: str
    time_ms: int
    price: str
    trade_id: int
    value: float
    candle_open_ms: int
    interval: str
    owner: str
    def __init__(self, firing_id: _Optional[str] = ..., rule_id: _Optional[str] = ..., symbol: _Optional[str] = ..., venue: _Optional[str] = ..., condition: _Optional[str] = ..., time_ms: _Optional[int] = ..., price: _Optional[str] = ..., trade_id: _Optional[int] = ..., value: _Optional[float] = ..., candle_open_ms: _Optional[int] = ..., interval: _Optional[str] = ..., owner: _Optional[str] = ...) -> None: ...
