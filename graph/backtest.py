"""Backtests: GraphQL over BacktestService's gRPC RPCs (``strategies``, ``runBacktest``,
``backtest``)."""

from __future__ import annotations

import base64
import enum
import json
from datetime import UTC, datetime
from typing import Annotated, Any, cast

import grpc
import strawberry
from google.protobuf import json_format
from strawberry.scalars import JSON
from strawberry.types import Info

from graph.arguments import symbol_argument, venue_argument
from graph.candles import _epoch_ms
from graph.context import Context
from graph.errors import TypedError, from_rpc_error
from graph.scalars import Int64
from quantflow.backtest.v1 import backtest_service_pb2 as pb
from quantflow.backtest.v1 import backtest_service_pb2_grpc
from services.common import names

# A backtest fetches its candles and simulates while the caller waits.
_RUN_TIMEOUT_S = 300.0
_RPC_TIMEOUT_S = 15.0
_MAX_PAGE = 1_000
_DEFAULT_POINTS = 1_000
_MAX_POINTS = 10_000
_CURSOR_PREFIX = "trade:"


@strawberry.enum(
    description="Where a signal fills: the next bar's open (no look-ahead) or the "
    "signal bar's close."
)
class Fill(enum.Enum):
    NEXT_OPEN = "NEXT_OPEN"
    CLOSE = "CLOSE"


@strawberry.enum(
    description="LONG_ONLY: entries open a long, exits close it. LONG_SHORT: "
    "exits go short; each signal reverses the position."
)
class Direction(enum.Enum):
    LONG_ONLY = "LONG_ONLY"
    LONG_SHORT = "LONG_SHORT"


_FILLS = {Fill.NEXT_OPEN: pb.FILL_NEXT_OPEN, Fill.CLOSE: pb.FILL_CLOSE}
_FILLS_BACK = {value: key for key, value in _FILLS.items()}
_DIRECTIONS = {
    Direction.LONG_ONLY: pb.DIRECTION_LONG_ONLY,
    Direction.LONG_SHORT: pb.DIRECTION_LONG_SHORT,
}


@strawberry.type(description="One parameter of a strategy.")
class StrategyParam:
    name: str
    type: str = strawberry.field(description='"int", "float" or "string" (a condition).')
    default: JSON = strawberry.field(description="The value used when none is given.")
    min: float | None = strawberry.field(description="Lowest value of a number.")
    max: float | None = strawberry.field(description="Highest value of a number.")
    description: str


@strawberry.type(description="A strategy a backtest can run, with its parameter schema.")
class Strategy:
    name: str
    description: str
    params: list[StrategyParam]


@strawberry.input(
    description="What to backtest. Candles opening in [from, to) are read from "
    "storage; signals are decided on each bar's close."
)
class BacktestInput:
    symbol: str
    interval: str = strawberry.field(description='A Binance interval: "1m", "1h", "1d" …')
    from_: datetime = strawberry.field(name="from", description="First candle open (included).")
    to: datetime = strawberry.field(description="End of the range (excluded).")
    strategy: str = strawberry.field(description="A name from `strategies`.")
    params: JSON | None = strawberry.field(
        default=None,
        description='The strategy\'s parameters, e.g. {"fast": 10, "slow": 30}; those not '
        'given take their defaults. declarative: {"entry": "rsi(14) < 30", "exit": '
        '"rsi(14) > 70"}.',
    )
    cash: float = 10_000.0
    fee_rate: float = strawberry.field(default=0.001, description="Per fill, 0.001 = 0.1%.")
    slippage_bps: float = 0.0
    fill: Fill = Fill.NEXT_OPEN
    direction: Direction = Direction.LONG_ONLY
    position_size: float = strawberry.field(
        default=1.0, description="Share of equity each entry commits, in (0, 1]."
    )
    stop_loss: float | None = strawberry.field(
        default=None, description="Fraction of the entry price, e.g. 0.02."
    )
    take_profit: float | None = None
    trailing_stop: float | None = None
    venue: str = strawberry.field(
        default=names.VENUE_BINANCE, description='"binance" (spot) or "binance_usdm".'
    )


@strawberry.type(
    description="Ratios are fractions (0.1 is 10%), money is in the quote asset; null means "
    "no finite value (e.g. the profit factor of a strategy that never lost)."
)
class BacktestMetrics:
    total_return: float = strawberry.field(description="Final equity / initial cash − 1.")
    cagr: float | None
    volatility: float
    sharpe: float | None
    sortino: float | None
    calmar: float | None
    max_drawdown: float
    max_drawdown_duration: int = strawberry.field(description="In bars.")
    win_rate: float
    profit_factor: float | None
    expectancy: float = strawberry.field(description="Mean pnl of a closed trade, in cash.")
    average_trade: float = strawberry.field(description="Mean return of a closed trade.")
    trades: int = strawberry.field(description="Closed trades.")
    entries: int = strawberry.field(description="Trades opened, one still open included.")
    exposure: float = strawberry.field(description="Share of bars closing in a position.")
    buy_and_hold_return: float
    final_equity: float


@strawberry.type(description="Equity at a bar's close.")
class EquityPoint:
    time: Int64 = strawberry.field(description="The bar's open time, epoch milliseconds.")
    value: float


@strawberry.type(description="One trade. Prices are fills, slippage included.")
class BacktestTrade:
    direction: str = strawberry.field(description='"LONG" or "SHORT".')
    entry_time: Int64 = strawberry.field(description="Entry bar open time, epoch ms.")
    exit_time: Int64 = strawberry.field(description="Exit bar open time, epoch ms.")
    entry_price: float
    exit_price: float
    size: float
    pnl: float = strawberry.field(description="In cash, fees included.")
    return_: float = strawberry.field(name="return", description="pnl / equity committed.")
    exit_reason: str = strawberry.field(
        description='"SIGNAL", "STOP_LOSS", "TAKE_PROFIT", "TRAILING_STOP" or "OPEN" (still '
        "open at the end, marked at the last close)."
    )


@strawberry.type
class BacktestTradeEdge:
    cursor: str
    node: BacktestTrade


@strawberry.type
class BacktestTradePageInfo:
    has_next_page: bool
    end_cursor: str | None


@strawberry.type(description="A page of a backtest's trades, oldest first.")
class BacktestTradeConnection:
    total_count: int
    edges: list[BacktestTradeEdge]
    page_info: BacktestTradePageInfo


@strawberry.type(description="What the backtest ran on.")
class DataQuality:
    bars: int = strawberry.field(description="Candles in the range.")
    holes: int = strawberry.field(
        description="Buckets missing between the first and the last candle (not filled)."
    )
    source: str = strawberry.field(description='What the candles were built from: "kline_1m" …')


def _cursor(index: int) -> str:
    return base64.b64encode(f"{_CURSOR_PREFIX}{index}".encode()).decode()


def _after(cursor: str) -> int:
    try:
        text = base64.b64decode(cursor, validate=True).decode()
        if not text.startswith(_CURSOR_PREFIX):
            raise ValueError(text)
        return int(text.removeprefix(_CURSOR_PREFIX))
    except ValueError:
        raise TypedError("INVALID_ARGUMENT", f"after: {cursor!r} is not a trade cursor") from None


def _time(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


@strawberry.type(description="A stored backtest result.")
class BacktestResult:
    id: strawberry.ID
    fill: Fill = strawberry.field(description="The fill rule the result used.")
    metrics: BacktestMetrics
    data_quality: DataQuality
    symbol: str
    venue: str
    interval: str
    strategy: str
    params: JSON = strawberry.field(description="The strategy's parameters, defaults filled in.")
    created_at: datetime
    _result: strawberry.Private[pb.BacktestResult]

    @strawberry.field(name="from", description="First candle open asked for.")
    def from_(self) -> datetime:
        return _time(self._result.input.from_ms)

    @strawberry.field(description="End of the range asked for (excluded).")
    def to(self) -> datetime:
        return _time(self._result.input.to_ms)

    @strawberry.field(
        description=f"Equity at bar closes, at most `points` of them evenly spaced, first and "
        f"last bar included (default {_DEFAULT_POINTS:,}, at most {_MAX_POINTS:,})."
    )
    def equity(self, points: int | None = None) -> list[EquityPoint]:
        wanted = _DEFAULT_POINTS if points is None else points
        if not 1 <= wanted <= _MAX_POINTS:
            raise TypedError("INVALID_ARGUMENT", f"points: {wanted} is not in 1…{_MAX_POINTS}")
        times, values = self._result.equity_time, self._result.equity_value
        count = len(times)
        if count <= wanted:
            picked: list[int] = list(range(count))
        elif wanted == 1:
            picked = [count - 1]
        else:
            picked = sorted({round(i * (count - 1) / (wanted - 1)) for i in range(wanted)})
        return [EquityPoint(time=Int64(times[i]), value=values[i]) for i in picked]

    @strawberry.field(name="tradeList", description="The trades, a page at a time.")
    def trade_list(self, first: int = 100, after: str | None = None) -> BacktestTradeConnection:
        if not 0 <= first <= _MAX_PAGE:
            raise TypedError("INVALID_ARGUMENT", f"first: {first} is not in 0…{_MAX_PAGE}")
        trades = self._result.trades
        start = 0 if after is None else _after(after) + 1
        stop = min(start + first, len(trades))
        edges = [
            BacktestTradeEdge(cursor=_cursor(i), node=_trade(trades[i])) for i in range(start, stop)
        ]
        return BacktestTradeConnection(
            total_count=len(trades),
            edges=edges,
            page_info=BacktestTradePageInfo(
                has_next_page=stop < len(trades),
                end_cursor=edges[-1].cursor if edges else None,
            ),
        )


def _trade(trade: pb.Trade) -> BacktestTrade:
    return BacktestTrade(
        direction=trade.direction,
        entry_time=Int64(trade.entry_time_ms),
        exit_time=Int64(trade.exit_time_ms),
        entry_price=trade.entry_price,
        exit_price=trade.exit_price,
        size=trade.size,
        pnl=trade.pnl,
        return_=trade.trade_return,
        exit_reason=trade.exit_reason,
    )


def _optional(message: Any, name: str) -> float | None:
    return float(getattr(message, name)) if message.HasField(name) else None


def result_from_pb(result: pb.BacktestResult) -> BacktestResult:
    m = result.metrics
    return BacktestResult(
        id=strawberry.ID(result.id),
        fill=_FILLS_BACK.get(result.fill, Fill.NEXT_OPEN),
        metrics=BacktestMetrics(
            total_return=m.total_return,
            cagr=_optional(m, "cagr"),
            volatility=m.volatility,
            sharpe=_optional(m, "sharpe"),
            sortino=_optional(m, "sortino"),
            calmar=_optional(m, "calmar"),
            max_drawdown=m.max_drawdown,
            max_drawdown_duration=m.max_drawdown_duration,
            win_rate=m.win_rate,
            profit_factor=_optional(m, "profit_factor"),
            expectancy=m.expectancy,
            average_trade=m.average_trade,
            trades=m.trades,
            entries=m.entries,
            exposure=m.exposure,
            buy_and_hold_return=m.buy_and_hold_return,
            final_equity=m.final_equity,
        ),
        data_quality=DataQuality(
            bars=result.data_quality.bars,
            holes=result.data_quality.holes,
            source=result.data_quality.source,
        ),
        symbol=result.input.symbol,
        venue=result.input.venue,
        interval=result.input.interval,
        strategy=result.input.strategy,
        params=json_format.MessageToDict(result.input.params),
        created_at=_time(result.created_ms),
        _result=result,
    )


def input_to_pb(given: BacktestInput) -> pb.BacktestInput:
    """The request BacktestService takes; the symbol and venue checked here, everything else
    by the service, whose INVALID_ARGUMENT names the bad value."""
    params: object = given.params if given.params is not None else {}
    if not isinstance(params, dict):
        raise TypedError(
            "INVALID_ARGUMENT", f"params: give an object of parameters, not {json.dumps(params)}"
        )
    message = pb.BacktestInput(
        symbol=symbol_argument(given.symbol),
        venue=venue_argument(given.venue),
        interval=given.interval,
        from_ms=_epoch_ms(given.from_),
        to_ms=_epoch_ms(given.to),
        strategy=given.strategy,
        cash=given.cash,
        fee_rate=given.fee_rate,
        slippage_bps=given.slippage_bps,
        fill=_FILLS[given.fill],
        direction=_DIRECTIONS[given.direction],
        position_size=given.position_size,
    )
    message.params.update(params)
    for name in ("stop_loss", "take_profit", "trailing_stop"):
        value = getattr(given, name)
        if value is not None:
            setattr(message, name, value)
    return message


def _backtests(info: Info[Context, None]) -> backtest_service_pb2_grpc.BacktestServiceStub:
    stub = info.context.backends.backtest
    if stub is None:
        raise TypedError("UNAVAILABLE", "this gateway is not connected to the backtest service")
    return stub


def _param(param: pb.StrategyParam) -> StrategyParam:
    return StrategyParam(
        name=param.name,
        type=param.type,
        default=cast(JSON, json.loads(param.default_json or "null")),
        min=_optional(param, "min"),
        max=_optional(param, "max"),
        description=param.description,
    )


async def strategies(info: Info[Context, None]) -> list[Strategy]:
    try:
        reply = await _backtests(info).ListStrategies(
            pb.ListStrategiesRequest(), timeout=_RPC_TIMEOUT_S
        )
    except grpc.aio.AioRpcError as error:
        raise from_rpc_error(error, "strategies") from error
    return [
        Strategy(name=s.name, description=s.description, params=[_param(p) for p in s.params])
        for s in reply.strategies
    ]


async def backtest(info: Info[Context, None], id: strawberry.ID) -> BacktestResult:
    try:
        reply = await _backtests(info).GetBacktest(
            pb.GetBacktestRequest(id=str(id)), timeout=_RPC_TIMEOUT_S
        )
    except grpc.aio.AioRpcError as error:
        raise from_rpc_error(error, "backtest") from error
    return result_from_pb(reply.result)


async def run_backtest(
    info: Info[Context, None], input: Annotated[BacktestInput, strawberry.argument()]
) -> BacktestResult:
    request = pb.RunBacktestRequest(input=input_to_pb(input))
    try:
        reply = await _backtests(info).RunBacktest(request, timeout=_RUN_TIMEOUT_S)
    except grpc.aio.AioRpcError as error:
        raise from_rpc_error(error, "runBacktest") from error
    return result_from_pb(reply.result)


@strawberry.type
class BacktestQueries:
    strategies: list[Strategy] = strawberry.field(
        resolver=strategies,
        description="Every strategy a backtest can run, with its parameter schema.",
    )
    backtest: BacktestResult = strawberry.field(
        resolver=backtest, description="A stored backtest result by id (NOT_FOUND if none)."
    )


@strawberry.type
class BacktestMutations:
    run_backtest: BacktestResult = strawberry.field(
        resolver=run_backtest,
        description="Run a backtest now over stored candles and store its result (hence its "
        "id). NOT_FOUND names symbol, interval and range when no candle is stored there; "
        "INVALID_ARGUMENT names an unknown strategy or a bad parameter.",
    )
