from quantflow.market.v1 import book_ticker_pb2 as _book_ticker_pb2
from quantflow.market.v1 import ticker_pb2 as _ticker_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

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
