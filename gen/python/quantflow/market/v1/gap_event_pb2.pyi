from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class GapState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    GAP_STATE_UNSPECIFIED: _ClassVar[GapState]
    GAP_STATE_OPENED: _ClassVar[GapState]
    GAP_STATE_FILLED: _ClassVar[GapState]
    GAP_STATE_UNFILLABLE: _ClassVar[GapState]
    GAP_STATE_EXCHANGE_HOLE: _ClassVar[GapState]
GAP_STATE_UNSPECIFIED: GapState
GAP_STATE_OPENED: GapState
GAP_STATE_FILLED: GapState
GAP_STATE_UNFILLABLE: GapState
GAP_STATE_EXCHANGE_HOLE: GapState

class GapEvent(_message.Message):
    __slots__ = ("venue", "symbol", "kind", "first_id", "last_id", "state", "reason", "event_time_ms")
    VENUE_FIELD_NUMBER: _ClassVar[int]
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    FIRST_ID_FIELD_NUMBER: _ClassVar[int]
    LAST_ID_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    EVENT_TIME_MS_FIELD_NUMBER: _ClassVar[int]
    venue: str
    symbol: str
    kind: str
    first_id: int
    last_id: int
    state: GapState
    reason: str
    event_time_ms: int
    def __init__(self, venue: _Optional[str] = ..., symbol: _Optional[str] = ..., kind: _Optional[str] = ..., first_id: _Optional[int] = ..., last_id: _Optional[int] = ..., state: _Optional[_Union[GapState, str]] = ..., reason: _Optional[str] = ..., event_time_ms: _Optional[int] = ...) -> None: ...
