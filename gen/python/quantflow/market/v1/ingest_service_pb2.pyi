from quantflow.market.v1 import gap_event_pb2 as _gap_event_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class MarketSubscription(_message.Message):
    __slots__ = ("symbol", "stream", "stream_name")
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    STREAM_FIELD_NUMBER: _ClassVar[int]
    STREAM_NAME_FIELD_NUMBER: _ClassVar[int]
    symbol: str
    stream: str
    stream_name: str
    def __init__(self, symbol: _Optional[str] = ..., stream: _Optional[str] = ..., stream_name: _Optional[str] = ...) -> None: ...

class SubscribeMarketDataRequest(_message.Message):
    __slots__ = ("symbols", "streams")
    SYMBOLS_FIELD_NUMBER: _ClassVar[int]
    STREAMS_FIELD_NUMBER: _ClassVar[int]
    symbols: _containers.RepeatedScalarFieldContainer[str]
    streams: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, symbols: _Optional[_Iterable[str]] = ..., streams: _Optional[_Iterable[str]] = ...) -> None: ...

class SubscribeMarketDataResponse(_message.Message):
    __slots__ = ("subscriptions",)
    SUBSCRIPTIONS_FIELD_NUMBER: _ClassVar[int]
    subscriptions: _containers.RepeatedCompositeFieldContainer[MarketSubscription]
    def __init__(self, subscriptions: _Optional[_Iterable[_Union[MarketSubscription, _Mapping]]] = ...) -> None: ...

class UnsubscribeMarketDataRequest(_message.Message):
    __slots__ = ("symbols", "streams")
    SYMBOLS_FIELD_NUMBER: _ClassVar[int]
    STREAMS_FIELD_NUMBER: _ClassVar[int]
    symbols: _containers.RepeatedScalarFieldContainer[str]
    streams: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, symbols: _Optional[_Iterable[str]] = ..., streams: _Optional[_Iterable[str]] = ...) -> None: ...

class UnsubscribeMarketDataResponse(_message.Message):
    __slots__ = ("subscriptions",)
    SUBSCRIPTIONS_FIELD_NUMBER: _ClassVar[int]
    subscriptions: _containers.RepeatedCompositeFieldContainer[MarketSubscription]
    def __init__(self, subscriptions: _Optional[_Iterable[_Union[MarketSubscription, _Mapping]]] = ...) -> None: ...

class ListMarketSubscriptionsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListMarketSubscriptionsResponse(_message.Message):
    __slots__ = ("subscriptions",)
    SUBSCRIPTIONS_FIELD_NUMBER: _ClassVar[int]
    subscriptions: _containers.RepeatedCompositeFieldContainer[MarketSubscription]
    def __init__(self, subscriptions: _Optional[_Iterable[_Union[MarketSubscription, _Mapping]]] = ...) -> None: ...

class GetIngestStatusRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetIngestStatusResponse(_message.Message):
    __slots__ = ("source", "symbols", "connected", "source_finished", "messages_received", "events_published", "messages_dead_lettered", "messages_skipped", "connections_opened", "ever_connected", "last_error", "disconnected_for_ms", "rotations", "stalls", "connections", "streams", "open_gaps")
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    SYMBOLS_FIELD_NUMBER: _ClassVar[int]
    CONNECTED_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FINISHED_FIELD_NUMBER: _ClassVar[int]
    MESSAGES_RECEIVED_FIELD_NUMBER: _ClassVar[int]
    EVENTS_PUBLISHED_FIELD_NUMBER: _ClassVar[int]
    MESSAGES_DEAD_LETTERED_FIELD_NUMBER: _ClassVar[int]
    MESSAGES_SKIPPED_FIELD_NUMBER: _ClassVar[int]
    CONNECTIONS_OPENED_FIELD_NUMBER: _ClassVar[int]
    EVER_CONNECTED_FIELD_NUMBER: _ClassVar[int]
    LAST_ERROR_FIELD_NUMBER: _ClassVar[int]
    DISCONNECTED_FOR_MS_FIELD_NUMBER: _ClassVar[int]
    ROTATIONS_FIELD_NUMBER: _ClassVar[int]
    STALLS_FIELD_NUMBER: _ClassVar[int]
    CONNECTIONS_FIELD_NUMBER: _ClassVar[int]
    STREAMS_FIELD_NUMBER: _ClassVar[int]
    OPEN_GAPS_FIELD_NUMBER: _ClassVar[int]
    source: str
    symbols: _containers.RepeatedScalarFieldContainer[str]
    connected: bool
    source_finished: bool
    messages_received: int
    events_published: int
    messages_dead_lettered: int
    messages_skipped: int
    connections_opened: int
    ever_connected: bool
    last_error: str
    disconnected_for_ms: int
    rotations: int
    stalls: int
    connections: int
    streams: int
    open_gaps: _containers.RepeatedCompositeFieldContainer[_gap_event_pb2.GapEvent]
    def __init__(self, source: _Optional[str] = ..., symbols: _Optional[_Iterable[str]] = ..., connected: _Optional[bool] = ..., source_finished: _Optional[bool] = ..., messages_received: _Optional[int] = ..., events_published: _Optional[int] = ..., messages_dead_lettered: _Optional[int] = ..., messages_skipped: _Optional[int] = ..., connections_opened: _Optional[int] = ..., ever_connected: _Optional[bool] = ..., last_error: _Optional[str] = ..., disconnected_for_ms: _Optional[int] = ..., rotations: _Optional[int] = ..., stalls: _Optional[int] = ..., connections: _Optional[int] = ..., streams: _Optional[int] = ..., open_gaps: _Optional[_Iterable[_Union[_gap_event_pb2.GapEvent, _Mapping]]] = ...) -> None: ...
