from quantflow.market.v1 import book_ticker_pb2 as _book_ticker_pb2
from quantflow.market.v1 import ticker_pb2 as _ticker_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class HoleCause(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    HOLE_CAUSE_UNSPECIFIED: _ClassVar[HoleCause]
    HOLE_CAUSE_MISSING: _ClassVar[HoleCause]
    HOLE_CAUSE_EXCHANGE: _ClassVar[HoleCause]
HOLE_CAUSE_UNSPECIFIED: HoleCause
HOLE_CAUSE_MISSING: HoleCause
HOLE_CAUSE_EXCHANGE: HoleCause

class ListBookTickersRequest(_message.Message):
    __slots__ = ("symbols", "venue")
    SYMBOLS_FIELD_NUMBER: _ClassVar[int]
    VENUE_FIELD_NUMBER: _ClassVar[int]
    symbols: _containers.RepeatedScalarFieldContainer[str]
    venue: str
    def __init__(self, symbols: _Optional[_Iterable[str]] = ..., venue: _Optional[str] = ...) -> None: ...

class ListBookTickersResponse(_message.Message):
    __slots__ = ("book_tickers",)
    BOOK_TICKERS_FIELD_NUMBER: _ClassVar[int]
    book_tickers: _containers.RepeatedCompositeFieldContainer[_book_ticker_pb2.BookTicker]
    def __init__(self, book_tickers: _Optional[_Iterable[_Union[_book_ticker_pb2.BookTicker, _Mapping]]] = ...) -> None: ...

class ListTickersRequest(_message.Message):
    __slots__ = ("symbols", "venue")
    SYMBOLS_FIELD_NUMBER: _ClassVar[int]
    VENUE_FIELD_NUMBER: _ClassVar[int]
    symbols: _containers.RepeatedScalarFieldContainer[str]
    venue: str
    def __init__(self, symbols: _Optional[_Iterable[str]] = ..., venue: _Optional[str] = ...) -> None: ...

class ListTickersResponse(_message.Message):
    __slots__ = ("tickers",)
    TICKERS_FIELD_NUMBER: _ClassVar[int]
    tickers: _containers.RepeatedCompositeFieldContainer[_ticker_pb2.Ticker]
    def __init__(self, tickers: _Optional[_Iterable[_Union[_ticker_pb2.Ticker, _Mapping]]] = ...) -> None: ...

class StreamTradesRequest(_message.Message):
    __slots__ = ("symbol", "venue", "from_ms", "to_ms", "after_trade_id", "limit")
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    VENUE_FIELD_NUMBER: _ClassVar[int]
    FROM_MS_FIELD_NUMBER: _ClassVar[int]
    TO_MS_FIELD_NUMBER: _ClassVar[int]
    AFTER_TRADE_ID_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    symbol: str
    venue: str
    from_ms: int
    to_ms: int
    after_trade_id: int
    limit: int
    def __init__(self, symbol: _Optional[str] = ..., venue: _Optional[str] = ..., from_ms: _Optional[int] = ..., to_ms: _Optional[int] = ..., after_trade_id: _Optional[int] = ..., limit: _Optional[int] = ...) -> None: ...

class StreamTradesResponse(_message.Message):
    __slots__ = ("trades",)
    TRADES_FIELD_NUMBER: _ClassVar[int]
    trades: _containers.RepeatedCompositeFieldContainer[StoredTrade]
    def __init__(self, trades: _Optional[_Iterable[_Union[StoredTrade, _Mapping]]] = ...) -> None: ...

class StoredTrade(_message.Message):
    __slots__ = ("venue", "symbol", "trade_id", "price", "quantity", "trade_time_ms", "buyer_is_maker")
    VENUE_FIELD_NUMBER: _ClassVar[int]
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    TRADE_ID_FIELD_NUMBER: _ClassVar[int]
    PRICE_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_FIELD_NUMBER: _ClassVar[int]
    TRADE_TIME_MS_FIELD_NUMBER: _ClassVar[int]
    BUYER_IS_MAKER_FIELD_NUMBER: _ClassVar[int]
    venue: str
    symbol: str
    trade_id: int
    price: str
    quantity: str
    trade_time_ms: int
    buyer_is_maker: bool
    def __init__(self, venue: _Optional[str] = ..., symbol: _Optional[str] = ..., trade_id: _Optional[int] = ..., price: _Optional[str] = ..., quantity: _Optional[str] = ..., trade_time_ms: _Optional[int] = ..., buyer_is_maker: _Optional[bool] = ...) -> None: ...

class GetCoverageRequest(_message.Message):
    __slots__ = ("symbol", "venue", "kind", "from_ms", "to_ms")
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    VENUE_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    FROM_MS_FIELD_NUMBER: _ClassVar[int]
    TO_MS_FIELD_NUMBER: _ClassVar[int]
    symbol: str
    venue: str
    kind: str
    from_ms: int
    to_ms: int
    def __init__(self, symbol: _Optional[str] = ..., venue: _Optional[str] = ..., kind: _Optional[str] = ..., from_ms: _Optional[int] = ..., to_ms: _Optional[int] = ...) -> None: ...

class GetCoverageResponse(_message.Message):
    __slots__ = ("ranges", "holes", "stored_count", "missing_count", "exchange_missing_count", "truncated")
    RANGES_FIELD_NUMBER: _ClassVar[int]
    HOLES_FIELD_NUMBER: _ClassVar[int]
    STORED_COUNT_FIELD_NUMBER: _ClassVar[int]
    MISSING_COUNT_FIELD_NUMBER: _ClassVar[int]
    EXCHANGE_MISSING_COUNT_FIELD_NUMBER: _ClassVar[int]
    TRUNCATED_FIELD_NUMBER: _ClassVar[int]
    ranges: _containers.RepeatedCompositeFieldContainer[CoveredRange]
    holes: _containers.RepeatedCompositeFieldContainer[CoverageHole]
    stored_count: int
    missing_count: int
    exchange_missing_count: int
    truncated: bool
    def __init__(self, ranges: _Optional[_Iterable[_Union[CoveredRange, _Mapping]]] = ..., holes: _Optional[_Iterable[_Union[CoverageHole, _Mapping]]] = ..., stored_count: _Optional[int] = ..., missing_count: _Optional[int] = ..., exchange_missing_count: _Optional[int] = ..., truncated: _Optional[bool] = ...) -> None: ...

class CoveredRange(_message.Message):
    __slots__ = ("first_id", "last_id", "count")
    FIRST_ID_FIELD_NUMBER: _ClassVar[int]
    LAST_ID_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    first_id: int
    last_id: int
    count: int
    def __init__(self, first_id: _Optional[int] = ..., last_id: _Optional[int] = ..., count: _Optional[int] = ...) -> None: ...

class CoverageHole(_message.Message):
    __slots__ = ("first_id", "last_id", "missing", "cause")
    FIRST_ID_FIELD_NUMBER: _ClassVar[int]
    LAST_ID_FIELD_NUMBER: _ClassVar[int]
    MISSING_FIELD_NUMBER: _ClassVar[int]
    CAUSE_FIELD_NUMBER: _ClassVar[int]
    first_id: int
    last_id: int
    missing: int
    cause: HoleCause
    def __init__(self, first_id: _Optional[int] = ..., last_id: _Optional[int] = ..., missing: _Optional[int] = ..., cause: _Optional[_Union[HoleCause, str]] = ...) -> None: ...

class ListSeriesRequest(_message.Message):
    __slots__ = ("symbol", "venue")
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    VENUE_FIELD_NUMBER: _ClassVar[int]
    symbol: str
    venue: str
    def __init__(self, symbol: _Optional[str] = ..., venue: _Optional[str] = ...) -> None: ...

class ListSeriesResponse(_message.Message):
    __slots__ = ("kinds",)
    KINDS_FIELD_NUMBER: _ClassVar[int]
    kinds: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, kinds: _Optional[_Iterable[str]] = ...) -> None: ...

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
    __slots__ = ("backend", "server_version", "schema_version", "trades_written", "events_dead_lettered", "agg_trades_written", "klines_written", "book_tickers_written", "tickers_written", "retention_mode", "retention", "rows_expired")
    class RowsExpiredEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    BACKEND_FIELD_NUMBER: _ClassVar[int]
    SERVER_VERSION_FIELD_NUMBER: _ClassVar[int]
    SCHEMA_VERSION_FIELD_NUMBER: _ClassVar[int]
    TRADES_WRITTEN_FIELD_NUMBER: _ClassVar[int]
    EVENTS_DEAD_LETTERED_FIELD_NUMBER: _ClassVar[int]
    AGG_TRADES_WRITTEN_FIELD_NUMBER: _ClassVar[int]
    KLINES_WRITTEN_FIELD_NUMBER: _ClassVar[int]
    BOOK_TICKERS_WRITTEN_FIELD_NUMBER: _ClassVar[int]
    TICKERS_WRITTEN_FIELD_NUMBER: _ClassVar[int]
    RETENTION_MODE_FIELD_NUMBER: _ClassVar[int]
    RETENTION_FIELD_NUMBER: _ClassVar[int]
    ROWS_EXPIRED_FIELD_NUMBER: _ClassVar[int]
    backend: str
    server_version: str
    schema_version: int
    trades_written: int
    events_dead_lettered: int
    agg_trades_written: int
    klines_written: int
    book_tickers_written: int
    tickers_written: int
    retention_mode: str
    retention: str
    rows_expired: _containers.ScalarMap[str, int]
    def __init__(self, backend: _Optional[str] = ..., server_version: _Optional[str] = ..., schema_version: _Optional[int] = ..., trades_written: _Optional[int] = ..., events_dead_lettered: _Optional[int] = ..., agg_trades_written: _Optional[int] = ..., klines_written: _Optional[int] = ..., book_tickers_written: _Optional[int] = ..., tickers_written: _Optional[int] = ..., retention_mode: _Optional[str] = ..., retention: _Optional[str] = ..., rows_expired: _Optional[_Mapping[str, int]] = ...) -> None: ...

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
