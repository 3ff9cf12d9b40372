from google.protobuf import struct_pb2 as _struct_pb2
from quantflow.backtest.v1 import jobs_pb2 as _jobs_pb2
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

class SearchMethod(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SEARCH_METHOD_UNSPECIFIED: _ClassVar[SearchMethod]
    SEARCH_METHOD_GRID: _ClassVar[SearchMethod]
    SEARCH_METHOD_RANDOM: _ClassVar[SearchMethod]

class WalkForwardMode(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    WALK_FORWARD_MODE_UNSPECIFIED: _ClassVar[WalkForwardMode]
    WALK_FORWARD_MODE_ROLLING: _ClassVar[WalkForwardMode]
    WALK_FORWARD_MODE_ANCHORED: _ClassVar[WalkForwardMode]
FILL_UNSPECIFIED: Fill
FILL_NEXT_OPEN: Fill
FILL_CLOSE: Fill
DIRECTION_UNSPECIFIED: Direction
DIRECTION_LONG_ONLY: Direction
DIRECTION_LONG_SHORT: Direction
SEARCH_METHOD_UNSPECIFIED: SearchMethod
SEARCH_METHOD_GRID: SearchMethod
SEARCH_METHOD_RANDOM: SearchMethod
WALK_FORWARD_MODE_UNSPECIFIED: WalkForwardMode
WALK_FORWARD_MODE_ROLLING: WalkForwardMode
WALK_FORWARD_MODE_ANCHORED: WalkForwardMode

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

class MarketKey(_message.Message):
    __slots__ = ("symbol", "venue")
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    VENUE_FIELD_NUMBER: _ClassVar[int]
    symbol: str
    venue: str
    def __init__(self, symbol: _Optional[str] = ..., venue: _Optional[str] = ...) -> None: ...

class ListBacktestsRequest(_message.Message):
    __slots__ = ("markets", "limit", "summary")
    MARKETS_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    SUMMARY_FIELD_NUMBER: _ClassVar[int]
    markets: _containers.RepeatedCompositeFieldContainer[MarketKey]
    limit: int
    summary: bool
    def __init__(self, markets: _Optional[_Iterable[_Union[MarketKey, _Mapping]]] = ..., limit: _Optional[int] = ..., summary: _Optional[bool] = ...) -> None: ...

class MarketBacktests(_message.Message):
    __slots__ = ("market", "results")
    MARKET_FIELD_NUMBER: _ClassVar[int]
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    market: MarketKey
    results: _containers.RepeatedCompositeFieldContainer[BacktestResult]
    def __init__(self, market: _Optional[_Union[MarketKey, _Mapping]] = ..., results: _Optional[_Iterable[_Union[BacktestResult, _Mapping]]] = ...) -> None: ...

class ListBacktestsResponse(_message.Message):
    __slots__ = ("markets",)
    MARKETS_FIELD_NUMBER: _ClassVar[int]
    markets: _containers.RepeatedCompositeFieldContainer[MarketBacktests]
    def __init__(self, markets: _Optional[_Iterable[_Union[MarketBacktests, _Mapping]]] = ...) -> None: ...

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

class SubmitBacktestRequest(_message.Message):
    __slots__ = ("input", "owner")
    INPUT_FIELD_NUMBER: _ClassVar[int]
    OWNER_FIELD_NUMBER: _ClassVar[int]
    input: BacktestInput
    owner: str
    def __init__(self, input: _Optional[_Union[BacktestInput, _Mapping]] = ..., owner: _Optional[str] = ...) -> None: ...

class SubmitBacktestResponse(_message.Message):
    __slots__ = ("job",)
    JOB_FIELD_NUMBER: _ClassVar[int]
    job: Job
    def __init__(self, job: _Optional[_Union[Job, _Mapping]] = ...) -> None: ...

class ParamRange(_message.Message):
    __slots__ = ("name", "start", "stop", "step")
    NAME_FIELD_NUMBER: _ClassVar[int]
    START_FIELD_NUMBER: _ClassVar[int]
    STOP_FIELD_NUMBER: _ClassVar[int]
    STEP_FIELD_NUMBER: _ClassVar[int]
    name: str
    start: float
    stop: float
    step: float
    def __init__(self, name: _Optional[str] = ..., start: _Optional[float] = ..., stop: _Optional[float] = ..., step: _Optional[float] = ...) -> None: ...

class WalkForward(_message.Message):
    __slots__ = ("train_bars", "test_bars", "mode")
    TRAIN_BARS_FIELD_NUMBER: _ClassVar[int]
    TEST_BARS_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    train_bars: int
    test_bars: int
    mode: WalkForwardMode
    def __init__(self, train_bars: _Optional[int] = ..., test_bars: _Optional[int] = ..., mode: _Optional[_Union[WalkForwardMode, str]] = ...) -> None: ...

class OptimizeInput(_message.Message):
    __slots__ = ("backtest", "ranges", "method", "budget", "seed", "constraints", "objective", "walk_forward")
    BACKTEST_FIELD_NUMBER: _ClassVar[int]
    RANGES_FIELD_NUMBER: _ClassVar[int]
    METHOD_FIELD_NUMBER: _ClassVar[int]
    BUDGET_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    CONSTRAINTS_FIELD_NUMBER: _ClassVar[int]
    OBJECTIVE_FIELD_NUMBER: _ClassVar[int]
    WALK_FORWARD_FIELD_NUMBER: _ClassVar[int]
    backtest: BacktestInput
    ranges: _containers.RepeatedCompositeFieldContainer[ParamRange]
    method: SearchMethod
    budget: int
    seed: int
    constraints: _containers.RepeatedScalarFieldContainer[str]
    objective: str
    walk_forward: WalkForward
    def __init__(self, backtest: _Optional[_Union[BacktestInput, _Mapping]] = ..., ranges: _Optional[_Iterable[_Union[ParamRange, _Mapping]]] = ..., method: _Optional[_Union[SearchMethod, str]] = ..., budget: _Optional[int] = ..., seed: _Optional[int] = ..., constraints: _Optional[_Iterable[str]] = ..., objective: _Optional[str] = ..., walk_forward: _Optional[_Union[WalkForward, _Mapping]] = ...) -> None: ...

class OptimizeRequest(_message.Message):
    __slots__ = ("input", "owner")
    INPUT_FIELD_NUMBER: _ClassVar[int]
    OWNER_FIELD_NUMBER: _ClassVar[int]
    input: OptimizeInput
    owner: str
    def __init__(self, input: _Optional[_Union[OptimizeInput, _Mapping]] = ..., owner: _Optional[str] = ...) -> None: ...

class OptimizeResponse(_message.Message):
    __slots__ = ("job",)
    JOB_FIELD_NUMBER: _ClassVar[int]
    job: Job
    def __init__(self, job: _Optional[_Union[Job, _Mapping]] = ...) -> None: ...

class OptimizeRow(_message.Message):
    __slots__ = ("params", "score", "metrics")
    class ParamsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    PARAMS_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    METRICS_FIELD_NUMBER: _ClassVar[int]
    params: _containers.ScalarMap[str, float]
    score: float
    metrics: Metrics
    def __init__(self, params: _Optional[_Mapping[str, float]] = ..., score: _Optional[float] = ..., metrics: _Optional[_Union[Metrics, _Mapping]] = ...) -> None: ...

class WalkForwardFold(_message.Message):
    __slots__ = ("train_from_ms", "train_to_ms", "test_from_ms", "test_to_ms", "in_sample", "out_of_sample", "table")
    TRAIN_FROM_MS_FIELD_NUMBER: _ClassVar[int]
    TRAIN_TO_MS_FIELD_NUMBER: _ClassVar[int]
    TEST_FROM_MS_FIELD_NUMBER: _ClassVar[int]
    TEST_TO_MS_FIELD_NUMBER: _ClassVar[int]
    IN_SAMPLE_FIELD_NUMBER: _ClassVar[int]
    OUT_OF_SAMPLE_FIELD_NUMBER: _ClassVar[int]
    TABLE_FIELD_NUMBER: _ClassVar[int]
    train_from_ms: int
    train_to_ms: int
    test_from_ms: int
    test_to_ms: int
    in_sample: OptimizeRow
    out_of_sample: OptimizeRow
    table: _containers.RepeatedCompositeFieldContainer[OptimizeRow]
    def __init__(self, train_from_ms: _Optional[int] = ..., train_to_ms: _Optional[int] = ..., test_from_ms: _Optional[int] = ..., test_to_ms: _Optional[int] = ..., in_sample: _Optional[_Union[OptimizeRow, _Mapping]] = ..., out_of_sample: _Optional[_Union[OptimizeRow, _Mapping]] = ..., table: _Optional[_Iterable[_Union[OptimizeRow, _Mapping]]] = ...) -> None: ...

class WalkForwardResult(_message.Message):
    __slots__ = ("efficiency", "folds")
    EFFICIENCY_FIELD_NUMBER: _ClassVar[int]
    FOLDS_FIELD_NUMBER: _ClassVar[int]
    efficiency: float
    folds: _containers.RepeatedCompositeFieldContainer[WalkForwardFold]
    def __init__(self, efficiency: _Optional[float] = ..., folds: _Optional[_Iterable[_Union[WalkForwardFold, _Mapping]]] = ...) -> None: ...

class OptimizeResult(_message.Message):
    __slots__ = ("objective", "rows", "best", "skipped", "walk_forward")
    OBJECTIVE_FIELD_NUMBER: _ClassVar[int]
    ROWS_FIELD_NUMBER: _ClassVar[int]
    BEST_FIELD_NUMBER: _ClassVar[int]
    SKIPPED_FIELD_NUMBER: _ClassVar[int]
    WALK_FORWARD_FIELD_NUMBER: _ClassVar[int]
    objective: str
    rows: _containers.RepeatedCompositeFieldContainer[OptimizeRow]
    best: OptimizeRow
    skipped: int
    walk_forward: WalkForwardResult
    def __init__(self, objective: _Optional[str] = ..., rows: _Optional[_Iterable[_Union[OptimizeRow, _Mapping]]] = ..., best: _Optional[_Union[OptimizeRow, _Mapping]] = ..., skipped: _Optional[int] = ..., walk_forward: _Optional[_Union[WalkForwardResult, _Mapping]] = ...) -> None: ...

class Job(_message.Message):
    __slots__ = ("id", "kind", "state", "progress", "message", "error", "attempts", "cancel_requested", "created_ms", "started_ms", "finished_ms", "backtest_input", "optimize_input", "backtest_result", "optimize_result")
    ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    PROGRESS_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    CANCEL_REQUESTED_FIELD_NUMBER: _ClassVar[int]
    CREATED_MS_FIELD_NUMBER: _ClassVar[int]
    STARTED_MS_FIELD_NUMBER: _ClassVar[int]
    FINISHED_MS_FIELD_NUMBER: _ClassVar[int]
    BACKTEST_INPUT_FIELD_NUMBER: _ClassVar[int]
    OPTIMIZE_INPUT_FIELD_NUMBER: _ClassVar[int]
    BACKTEST_RESULT_FIELD_NUMBER: _ClassVar[int]
    OPTIMIZE_RESULT_FIELD_NUMBER: _ClassVar[int]
    id: str
    kind: _jobs_pb2.JobKind
    state: _jobs_pb2.JobState
    progress: float
    message: str
    error: str
    attempts: int
    cancel_requested: bool
    created_ms: int
    started_ms: int
    finished_ms: int
    backtest_input: BacktestInput
    optimize_input: OptimizeInput
    backtest_result: BacktestResult
    optimize_result: OptimizeResult
    def __init__(self, id: _Optional[str] = ..., kind: _Optional[_Union[_jobs_pb2.JobKind, str]] = ..., state: _Optional[_Union[_jobs_pb2.JobState, str]] = ..., progress: _Optional[float] = ..., message: _Optional[str] = ..., error: _Optional[str] = ..., attempts: _Optional[int] = ..., cancel_requested: _Optional[bool] = ..., created_ms: _Optional[int] = ..., started_ms: _Optional[int] = ..., finished_ms: _Optional[int] = ..., backtest_input: _Optional[_Union[BacktestInput, _Mapping]] = ..., optimize_input: _Optional[_Union[OptimizeInput, _Mapping]] = ..., backtest_result: _Optional[_Union[BacktestResult, _Mapping]] = ..., optimize_result: _Optional[_Union[OptimizeResult, _Mapping]] = ...) -> None: ...

class GetJobRequest(_message.Message):
    __slots__ = ("id", "owner")
    ID_FIELD_NUMBER: _ClassVar[int]
    OWNER_FIELD_NUMBER: _ClassVar[int]
    id: str
    owner: str
    def __init__(self, id: _Optional[str] = ..., owner: _Optional[str] = ...) -> None: ...

class GetJobResponse(_message.Message):
    __slots__ = ("job",)
    JOB_FIELD_NUMBER: _ClassVar[int]
    job: Job
    def __init__(self, job: _Optional[_Union[Job, _Mapping]] = ...) -> None: ...

class ListJobsRequest(_message.Message):
    __slots__ = ("first", "after", "owner")
    FIRST_FIELD_NUMBER: _ClassVar[int]
    AFTER_FIELD_NUMBER: _ClassVar[int]
    OWNER_FIELD_NUMBER: _ClassVar[int]
    first: int
    after: str
    owner: str
    def __init__(self, first: _Optional[int] = ..., after: _Optional[str] = ..., owner: _Optional[str] = ...) -> None: ...

class ListJobsResponse(_message.Message):
    __slots__ = ("jobs", "end_cursor", "has_next_page", "cursors")
    JOBS_FIELD_NUMBER: _ClassVar[int]
    END_CURSOR_FIELD_NUMBER: _ClassVar[int]
    HAS_NEXT_PAGE_FIELD_NUMBER: _ClassVar[int]
    CURSORS_FIELD_NUMBER: _ClassVar[int]
    jobs: _containers.RepeatedCompositeFieldContainer[Job]
    end_cursor: str
    has_next_page: bool
    cursors: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, jobs: _Optional[_Iterable[_Union[Job, _Mapping]]] = ..., end_cursor: _Optional[str] = ..., has_next_page: _Optional[bool] = ..., cursors: _Optional[_Iterable[str]] = ...) -> None: ...

class CancelJobRequest(_message.Message):
    __slots__ = ("id", "owner")
    ID_FIELD_NUMBER: _ClassVar[int]
    OWNER_FIELD_NUMBER: _ClassVar[int]
    id: str
    owner: str
    def __init__(self, id: _Optional[str] = ..., owner: _Optional[str] = ...) -> None: ...

class CancelJobResponse(_message.Message):
    __slots__ = ("job",)
    JOB_FIELD_NUMBER: _ClassVar[int]
    job: Job
    def __init__(self, job: _Optional[_Union[Job, _Mapping]] = ...) -> None: ...

class WatchJobRequest(_message.Message):
    __slots__ = ("id", "owner")
    ID_FIELD_NUMBER: _ClassVar[int]
    OWNER_FIELD_NUMBER: _ClassVar[int]
    id: str
    owner: str
    def __init__(self, id: _Optional[str] = ..., owner: _Optional[str] = ...) -> None: ...

class WatchJobResponse(_message.Message):
    __slots__ = ("event",)
    EVENT_FIELD_NUMBER: _ClassVar[int]
    event: _jobs_pb2.JobEvent
    def __init__(self, event: _Optional[_Union[_jobs_pb2.JobEvent, _Mapping]] = ...) -> None: ...
