from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Fill(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    FILL_UNSPECIFIED: _ClassVar[Fill]
    FILL_NEXT_OPEN: _ClassVar[Fill]
    FILL_CLOSE: _ClassVar[Fill]

class Direction(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DIRECTION_UNSPECIFIED: _ClassVar[Direction]
    DIRECTION_LONG_ONLY: _ClassVar[Direction]
    DIRECTION_LONG_SHORT: _ClassVar[Direction]
FILL_UNSPECIFIED: Fill
FILL_NEXT_OPEN: Fill
FILL_CLOSE: Fill
DIRECTION_UNSPECIFIED: Direction
DIRECTION_LONG_ONLY: Direction
DIRECTION_LONG_SHORT: Direction

class ListStrategiesRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListStrategiesResponse(_message.Message):
    __slots__ = ("strategies",)
    STRATEGIES_FIELD_NUMBER: _ClassVar[int]
    strategies: _containers.RepeatedCompositeFieldContainer[Strategy]
    def __init__(self, strategies: _Optional[_Iterable[_Union[Strategy, _Mapping]]] = ...) -> None: ...

class Strategy(_message.Message):
    __slots__ = ("name", "description", "params")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    PARAMS_FIELD_NUMBER: _ClassVar[int]
    name: str
    description: str
    params: _containers.RepeatedCompositeFieldContainer[StrategyParam]
    def __init__(self, name: _Optional[str] = ..., description: _Optional[str] = ..., params: _Optional[_Iterable[_Union[StrategyParam, _Mapping]]] = ...) -> None: ...

class StrategyParam(_message.Message):
    __slots__ = ("name", "type", "default_json", "min", "max", "description")
    NAME_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    DEFAULT_JSON_FIELD_NUMBER: _ClassVar[int]
    MIN_FIELD_NUMBER: _ClassVar[int]
    MAX_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    name: str
    type: str
    default_json: str
    min: float
    max: float
    description: str
    def __init__(self, name: _Optional[str] = ..., type: _Optional[str] = ..., default_json: _Optional[str] = ..., min: _Optional[float] = ..., max: _Optional[float] = ..., description: _Optional[str] = ...) -> None: ...

class BacktestInput(_message.Message):
    __slots__ = ("symbol", "venue", "interval", "from_ms", "to_ms", "strategy", "params", "cash", "fee_rate", "slippage_bps", "fill", "direction", "position_size", "stop_loss", "take_profit", "trailing_stop")
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    VENUE_FIELD_NUMBER: _ClassVar[int]
    INTERVAL_FIELD_NUMBER: _ClassVar[int]
    FROM_MS_FIELD_NUMBER: _ClassVar[int]
    TO_MS_FIELD_NUMBER: _ClassVar[int]
    STRATEGY_FIELD_NUMBER: _ClassVar[int]
    PARAMS_FIELD_NUMBER: _ClassVar[int]
    CASH_FIELD_NUMBER: _ClassVar[int]
    FEE_RATE_FIELD_NUMBER: _ClassVar[int]
    SLIPPAGE_BPS_FIELD_NUMBER: _ClassVar[int]
    FILL_FIELD_NUMBER: _ClassVar[int]
    DIRECTION_FIELD_NUMBER: _ClassVar[int]
    POSITION_SIZE_FIELD_NUMBER: _ClassVar[int]
    STOP_LOSS_FIELD_NUMBER: _ClassVar[int]
    TAKE_PROFIT_FIELD_NUMBER: _ClassVar[int]
    TRAILING_STOP_FIELD_NUMBER: _ClassVar[int]
    symbol: str
    venue: str
    interval: str
    from_ms: int
    to_ms: int
    strategy: str
    params: _struct_pb2.Struct
    cash: float
    fee_rate: float
    slippage_bps: float
    fill: Fill
    direction: Direction
    position_size: float
    stop_loss: float
    take_profit: float
    trailing_stop: float
    def __init__(self, symbol: _Optional[str] = ..., venue: _Optional[str] = ..., interval: _Optional[str] = ..., from_ms: _Optional[int] = ..., to_ms: _Optional[int] = ..., strategy: _Optional[str] = ..., params: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., cash: _Optional[float] = ..., fee_rate: _Optional[float] = ..., slippage_bps: _Optional[float] = ..., fill: _Optional[_Union[Fill, str]] = ..., direction: _Optional[_Union[Direction, str]] = ..., position_size: _Optional[float] = ..., stop_loss: _Optional[float] = ..., take_profit: _Optional[float] = ..., trailing_stop: _Optional[float] = ...) -> None: ...

class RunBacktestRequest(_message.Message):
    __slots__ = ("input",)
    INPUT_FIELD_NUMBER: _ClassVar[int]
    input: BacktestInput
    def __init__(self, input: _Optional[_Union[BacktestInput, _Mapping]] = ...) -> None: ...

class RunBacktestResponse(_message.Message):
    __slots__ = ("result",)
    RESULT_FIELD_NUMBER: _ClassVar[int]
    result: BacktestResult
    def __init__(self, result: _Optional[_Union[BacktestResult, _Mapping]] = ...) -> None: ...

class GetBacktestRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class GetBacktestResponse(_message.Message):
    __slots__ = ("result",)
    RESULT_FIELD_NUMBER: _ClassVar[int]
    result: BacktestResult
    def __init__(self, result: _Optional[_Union[BacktestResult, _Mapping]] = ...) -> None: ...

class BacktestResult(_message.Message):
    __slots__ = ("id", "input", "fill", "metrics", "equity_time", "equity_value", "trades", "data_quality", "created_ms")
    ID_FIELD_NUMBER: _ClassVar[int]
    INPUT_FIELD_NUMBER: _ClassVar[int]
    FILL_FIELD_NUMBER: _ClassVar[int]
    METRICS_FIELD_NUMBER: _ClassVar[int]
    EQUITY_TIME_FIELD_NUMBER: _ClassVar[int]
    EQUITY_VALUE_FIELD_NUMBER: _ClassVar[int]
    TRADES_FIELD_NUMBER: _ClassVar[int]
    DATA_QUALITY_FIELD_NUMBER: _ClassVar[int]
    CREATED_MS_FIELD_NUMBER: _ClassVar[int]
    id: str
    input: BacktestInput
    fill: Fill
    metrics: Metrics
    equity_time: _containers.RepeatedScalarFieldContainer[int]
    equity_value: _containers.RepeatedScalarFieldContainer[float]
    trades: _containers.RepeatedCompositeFieldContainer[Trade]
    data_quality: DataQuality
    created_ms: int
    def __init__(self, id: _Optional[str] = ..., input: _Optional[_Union[BacktestInput, _Mapping]] = ..., fill: _Optional[_Union[Fill, str]] = ..., metrics: _Optional[_Union[Metrics, _Mapping]] = ..., equity_time: _Optional[_Iterable[int]] = ..., equity_value: _Optional[_Iterable[float]] = ..., trades: _Optional[_Iterable[_Union[Trade, _Mapping]]] = ..., data_quality: _Optional[_Union[DataQuality, _Mapping]] = ..., created_ms: _Optional[int] = ...) -> None: ...

class Metrics(_message.Message):
    __slots__ = ("total_return", "cagr", "volatility", "sharpe", "sortino", "calmar", "max_drawdown", "max_drawdown_duration", "win_rate", "profit_factor", "expectancy", "average_trade", "trades", "entries", "exposure", "buy_and_hold_return", "final_equity")
    TOTAL_RETURN_FIELD_NUMBER: _ClassVar[int]
    CAGR_FIELD_NUMBER: _ClassVar[int]
    VOLATILITY_FIELD_NUMBER: _ClassVar[int]
    SHARPE_FIELD_NUMBER: _ClassVar[int]
    SORTINO_FIELD_NUMBER: _ClassVar[int]
    CALMAR_FIELD_NUMBER: _ClassVar[int]
    MAX_DRAWDOWN_FIELD_NUMBER: _ClassVar[int]
    MAX_DRAWDOWN_DURATION_FIELD_NUMBER: _ClassVar[int]
    WIN_RATE_FIELD_NUMBER: _ClassVar[int]
    PROFIT_FACTOR_FIELD_NUMBER: _ClassVar[int]
    EXPECTANCY_FIELD_NUMBER: _ClassVar[int]
    AVERAGE_TRADE_FIELD_NUMBER: _ClassVar[int]
    TRADES_FIELD_NUMBER: _ClassVar[int]
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    EXPOSURE_FIELD_NUMBER: _ClassVar[int]
    BUY_AND_HOLD_RETURN_FIELD_NUMBER: _ClassVar[int]
    FINAL_EQUITY_FIELD_NUMBER: _ClassVar[int]
    total_return: float
    cagr: float
    volatility: float
    sharpe: float
    sortino: float
    calmar: float
    max_drawdown: float
    max_drawdown_duration: int
    win_rate: float
    profit_factor: float
    expectancy: float
    average_trade: float
    trades: int
    entries: int
    exposure: float
    buy_and_hold_return: float
    final_equity: float
    def __init__(self, total_return: _Optional[float] = ..., cagr: _Optional[float] = ..., volatility: _Optional[float] = ..., sharpe: _Optional[float] = ..., sortino: _Optional[float] = ..., calmar: _Optional[float] = ..., max_drawdown: _Optional[float] = ..., max_drawdown_duration: _Optional[int] = ..., win_rate: _Optional[float] = ..., profit_factor: _Optional[float] = ..., expectancy: _Optional[float] = ..., average_trade: _Optional[float] = ..., trades: _Optional[int] = ..., entries: _Optional[int] = ..., exposure: _Optional[float] = ..., buy_and_hold_return: _Optional[float] = ..., final_equity: _Optional[float] = ...) -> None: ...

class Trade(_message.Message):
    __slots__ = ("direction", "entry_time_ms", "exit_time_ms", "entry_price", "exit_price", "size", "pnl", "trade_return", "exit_reason")
    DIRECTION_FIELD_NUMBER: _ClassVar[int]
    ENTRY_TIME_MS_FIELD_NUMBER: _ClassVar[int]
    EXIT_TIME_MS_FIELD_NUMBER: _ClassVar[int]
    ENTRY_PRICE_FIELD_NUMBER: _ClassVar[int]
    EXIT_PRICE_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    PNL_FIELD_NUMBER: _ClassVar[int]
    TRADE_RETURN_FIELD_NUMBER: _ClassVar[int]
    EXIT_REASON_FIELD_NUMBER: _ClassVar[int]
    direction: str
    entry_time_ms: int
    exit_time_ms: int
    entry_price: float
    exit_price: float
    size: float
    pnl: float
    trade_return: float
    exit_reason: str
    def __init__(self, direction: _Optional[str] = ..., entry_time_ms: _Optional[int] = ..., exit_time_ms: _Optional[int] = ..., entry_price: _Optional[float] = ..., exit_price: _Optional[float] = ..., size: _Optional[float] = ..., pnl: _Optional[float] = ..., trade_return: _Optional[float] = ..., exit_reason: _Optional[str] = ...) -> None: ...

class DataQuality(_message.Message):
    __slots__ = ("bars", "holes", "source")
    BARS_FIELD_NUMBER: _ClassVar[int]
    HOLES_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    bars: int
    holes: int
    source: str
    def __init__(self, bars: _Optional[int] = ..., holes: _Optional[int] = ..., source: _Optional[str] = ...) -> None: ...
