from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class GetOhlcRequest(_message.Message):
    __slots__ = ("symbol", "venue", "interval", "from_ms", "to_ms")
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    VENUE_FIELD_NUMBER: _ClassVar[int]
    INTERVAL_FIELD_NUMBER: _ClassVar[int]
    FROM_MS_FIELD_NUMBER: _ClassVar[int]
    TO_MS_FIELD_NUMBER: _ClassVar[int]
    symbol: str
    venue: str
    interval: str
    from_ms: int
    to_ms: int
    def __init__(self, symbol: _Optional[str] = ..., venue: _Optional[str] = ..., interval: _Optional[str] = ..., from_ms: _Optional[int] = ..., to_ms: _Optional[int] = ...) -> None: ...

class GetOhlcResponse(_message.Message):
    __slots__ = ("source", "open_time", "open", "high", "low", "close", "volume", "quote_volume", "trades")
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    OPEN_TIME_FIELD_NUMBER: _ClassVar[int]
    OPEN_FIELD_NUMBER: _ClassVar[int]
    HIGH_FIELD_NUMBER: _ClassVar[int]
    LOW_FIELD_NUMBER: _ClassVar[int]
    CLOSE_FIELD_NUMBER: _ClassVar[int]
    VOLUME_FIELD_NUMBER: _ClassVar[int]
    QUOTE_VOLUME_FIELD_NUMBER: _ClassVar[int]
    TRADES_FIELD_NUMBER: _ClassVar[int]
    source: str
    open_time: _containers.RepeatedScalarFieldContainer[int]
    open: _containers.RepeatedScalarFieldContainer[str]
    high: _containers.RepeatedScalarFieldContainer[str]
    low: _containers.RepeatedScalarFieldContainer[str]
    close: _containers.RepeatedScalarFieldContainer[str]
    volume: _containers.RepeatedScalarFieldContainer[str]
    quote_volume: _containers.RepeatedScalarFieldContainer[str]
    trades: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, source: _Optional[str] = ..., open_time: _Optional[_Iterable[int]] = ..., open: _Optional[_Iterable[str]] = ..., high: _Optional[_Iterable[str]] = ..., low: _Optional[_Iterable[str]] = ..., close: _Optional[_Iterable[str]] = ..., volume: _Optional[_Iterable[str]] = ..., quote_volume: _Optional[_Iterable[str]] = ..., trades: _Optional[_Iterable[int]] = ...) -> None: ...

class GetIndicatorsRequest(_message.Message):
    __slots__ = ("symbol", "venue", "interval", "from_ms", "to_ms", "specs")
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    VENUE_FIELD_NUMBER: _ClassVar[int]
    INTERVAL_FIELD_NUMBER: _ClassVar[int]
    FROM_MS_FIELD_NUMBER: _ClassVar[int]
    TO_MS_FIELD_NUMBER: _ClassVar[int]
    SPECS_FIELD_NUMBER: _ClassVar[int]
    symbol: str
    venue: str
    interval: str
    from_ms: int
    to_ms: int
    specs: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, symbol: _Optional[str] = ..., venue: _Optional[str] = ..., interval: _Optional[str] = ..., from_ms: _Optional[int] = ..., to_ms: _Optional[int] = ..., specs: _Optional[_Iterable[str]] = ...) -> None: ...

class GetIndicatorsResponse(_message.Message):
    __slots__ = ("source", "open_time", "series")
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    OPEN_TIME_FIELD_NUMBER: _ClassVar[int]
    SERIES_FIELD_NUMBER: _ClassVar[int]
    source: str
    open_time: _containers.RepeatedScalarFieldContainer[int]
    series: _containers.RepeatedCompositeFieldContainer[IndicatorValues]
    def __init__(self, source: _Optional[str] = ..., open_time: _Optional[_Iterable[int]] = ..., series: _Optional[_Iterable[_Union[IndicatorValues, _Mapping]]] = ...) -> None: ...

class IndicatorValues(_message.Message):
    __slots__ = ("spec", "name", "values")
    SPEC_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    VALUES_FIELD_NUMBER: _ClassVar[int]
    spec: str
    name: str
    values: _containers.RepeatedScalarFieldContainer[float]
    def __init__(self, spec: _Optional[str] = ..., name: _Optional[str] = ..., values: _Optional[_Iterable[float]] = ...) -> None: ...

class GetLastStoredIdRequest(_message.Message):
    __slots__ = ("symbol", "venue", "kind")
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    VENUE_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    symbol: str
    venue: str
    kind: str
    def __init__(self, symbol: _Optional[str] = ..., venue: _Optional[str] = ..., kind: _Optional[str] = ...) -> None: ...

class GetLastStoredIdResponse(_message.Message):
    __slots__ = ("last_id",)
    LAST_ID_FIELD_NUMBER: _ClassVar[int]
    last_id: int
    def __init__(self, last_id: _Optional[int] = ...) -> None: ...

class ListMissingIdsRequest(_message.Message):
    __slots__ = ("symbol", "venue", "kind", "first_id", "last_id")
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    VENUE_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    FIRST_ID_FIELD_NUMBER: _ClassVar[int]
    LAST_ID_FIELD_NUMBER: _ClassVar[int]
    symbol: str
    venue: str
    kind: str
    first_id: int
    last_id: int
    def __init__(self, symbol: _Optional[str] = ..., venue: _Optional[str] = ..., kind: _Optional[str] = ..., first_id: _Optional[int] = ..., last_id: _Optional[int] = ...) -> None: ...

class ListMissingIdsResponse(_message.Message):
    __slots__ = ("missing", "missing_count")
    MISSING_FIELD_NUMBER: _ClassVar[int]
    MISSING_COUNT_FIELD_NUMBER: _ClassVar[int]
    missing: _containers.RepeatedCompositeFieldContainer[IdRange]
    missing_count: int
    def __init__(self, missing: _Optional[_Iterable[_Union[IdRange, _Mapping]]] = ..., missing_count: _Optional[int] = ...) -> None: ...

class IdRange(_message.Message):
    __slots__ = ("first_id", "last_id")
    FIRST_ID_FIELD_NUMBER: _ClassVar[int]
    LAST_ID_FIELD_NUMBER: _ClassVar[int]
    first_id: int
    last_id: int
    def __init__(self, first_id: _Optional[int] = ..., last_id: _Optional[int] = ...) -> None: ...

class LatestPrice(_message.Message):
    __slots__ = ("symbol", "price", "quantity", "trade_id", "trade_time_ms", "venue")
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    PRICE_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_FIELD_NUMBER: _ClassVar[int]
    TRADE_ID_FIELD_NUMBER: _ClassVar[int]
    TRADE_TIME_MS_FIELD_NUMBER: _ClassVar[int]
    VENUE_FIELD_NUMBER: _ClassVar[int]
    symbol: str
    price: str
    quantity: str
    trade_id: int
    trade_time_ms: int
    venue: str
    def __init__(self, symbol: _Optional[str] = ..., price: _Optional[str] = ..., quantity: _Optional[str] = ..., trade_id: _Optional[int] = ..., trade_time_ms: _Optional[int] = ..., venue: _Optional[str] = ...) -> None: ...

class GetLatestPriceRequest(_message.Message):
    __slots__ = ("symbol", "venue")
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    VENUE_FIELD_NUMBER: _ClassVar[int]
    symbol: str
    venue: str
    def __init__(self, symbol: _Optional[str] = ..., venue: _Optional[str] = ...) -> None: ...

class GetLatestPriceResponse(_message.Message):
    __slots__ = ("price",)
    PRICE_FIELD_NUMBER: _ClassVar[int]
    price: LatestPrice
    def __init__(self, price: _Optional[_Union[LatestPrice, _Mapping]] = ...) -> None: ...

class ListLatestPricesRequest(_message.Message):
    __slots__ = ("symbols", "venue")
    SYMBOLS_FIELD_NUMBER: _ClassVar[int]
    VENUE_FIELD_NUMBER: _ClassVar[int]
    symbols: _containers.RepeatedScalarFieldContainer[str]
    venue: str
    def __init__(self, symbols: _Optional[_Iterable[str]] = ..., venue: _Optional[str] = ...) -> None: ...

class ListLatestPricesResponse(_message.Message):
    __slots__ = ("prices",)
    PRICES_FIELD_NUMBER: _ClassVar[int]
    prices: _containers.RepeatedCompositeFieldContainer[LatestPrice]
    def __init__(self, prices: _Optional[_Iterable[_Union[LatestPrice, _Mapping]]] = ...) -> None: ...

class GetStorageStatusRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetStorageStatusResponse(_message.Message):
    __slots__ = ("backend", "server_version", "schema_version", "trades_written", "events_dead_lettered", "agg_trades_written", "klines_written", "book_tickers_written", "tickers_written")
    BACKEND_FIELD_NUMBER: _ClassVar[int]
    SERVER_VERSION_FIELD_NUMBER: _ClassVar[int]
    SCHEMA_VERSION_FIELD_NUMBER: _ClassVar[int]
    TRADES_WRITTEN_FIELD_NUMBER: _ClassVar[int]
    EVENTS_DEAD_LETTERED_FIELD_NUMBER: _ClassVar[int]
    AGG_TRADES_WRITTEN_FIELD_NUMBER: _ClassVar[int]
    KLINES_WRITTEN_FIELD_NUMBER: _ClassVar[int]
    BOOK_TICKERS_WRITTEN_FIELD_NUMBER: _ClassVar[int]
    TICKERS_WRITTEN_FIELD_NUMBER: _ClassVar[int]
    backend: str
    server_version: str
    schema_version: int
    trades_written: int
    events_dead_lettered: int
    agg_trades_written: int
    klines_written: int
    book_tickers_written: int
    tickers_written: int
    def __init__(self, backend: _Optional[str] = ..., server_version: _Optional[str] = ..., schema_version: _Optional[int] = ..., trades_written: _Optional[int] = ..., events_dead_lettered: _Optional[int] = ..., agg_trades_written: _Optional[int] = ..., klines_written: _Optional[int] = ..., book_tickers_written: _Optional[int] = ..., tickers_written: _Optional[int] = ...) -> None: ...
