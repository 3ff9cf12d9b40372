"""One backtest, start to finish: a request and its candles in, a result out.

Pure (numpy only; the declarative strategy's indicators come from `ta`). The service calls
:func:`run_backtest` for ``RunBacktest``, job workers for submitted backtests; neither does
anything to the numbers but store and send them.

A request names its strategy: a built-in, one from the ``quantflow.strategies`` entry
points, or ``declarative`` with the string parameters ``entry`` and ``exit`` (conditions of
the condition language, e.g. ``rsi(14) < 30``). Bad names and values are InvalidArgument
naming them.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import numpy.typing as npt

from services.backtest import declarative, engine, metrics, strategies
from services.backtest.bars import Array, Bars, Indicators
from services.backtest.engine import Direction, ExitReason, Fill
from services.common.errors import InvalidArgument
from services.common.intervals import MONTH, NoFixedStep, kline_step_ms

DECLARATIVE = "declarative"
# The equity curve a result keeps: evenly spaced bars, the first and the last among them.
MAX_EQUITY_POINTS = 10_000
_MONTH_SECONDS = 30.436875 * 86_400  # a mean Gregorian month, for annualising 1M candles


@dataclass(frozen=True)
class ParamInfo:
    """One parameter as ``strategies`` lists it: numbers have bounds, strings do not."""

    name: str
    type: Literal["int", "float", "string"]
    default: int | float | str
    min: float | None
    max: float | None
    description: str


@dataclass(frozen=True)
class StrategyInfo:
    name: str
    description: str
    params: tuple[ParamInfo, ...]


_DECLARATIVE_INFO = StrategyInfo(
    DECLARATIVE,
    "Long when the entry condition holds at a bar's close, out when the exit condition "
    "holds: conditions over prices and indicators such as `rsi(14) < 30`, "
    "`close crosses_above sma(50)`, combined with and/or/not.",
    (
        ParamInfo("entry", "string", "rsi(14) < 30", None, None, "entry condition"),
        ParamInfo("exit", "string", "rsi(14) > 70", None, None, "exit condition"),
    ),
)


def catalogue(known: Mapping[str, strategies.Strategy] | None = None) -> list[StrategyInfo]:
    """Every strategy with its parameter schema, by name."""
    known = strategies.registry() if known is None else known
    listed = [
        StrategyInfo(
            s.name,
            s.description,
            tuple(
                ParamInfo(p.name, p.type, p.default, p.min, p.max, p.description) for p in s.params
            ),
        )
        for s in known.values()
    ]
    listed.append(_DECLARATIVE_INFO)
    return sorted(listed, key=lambda info: info.name)


@dataclass(frozen=True)
class BacktestRequest:
    """What to backtest: GraphQL's ``BacktestInput``, times in epoch milliseconds."""

    symbol: str
    interval: str
    from_ms: int
    to_ms: int
    strategy: str
    params: Mapping[str, object] = field(default_factory=dict)
    settings: engine.Settings = field(default_factory=engine.Settings)
    venue: str = "binance"


@dataclass(frozen=True)
class DataQuality:
    bars: int
    holes: int
    source: str = ""


@dataclass(frozen=True)
class TradeRow:
    direction: Literal["LONG", "SHORT"]
    entry_time_ms: int
    exit_time_ms: int
    entry_price: float
    exit_price: float
    size: float
    pnl: float
    trade_return: float
    exit_reason: str


@dataclass(frozen=True, eq=False)
class BacktestResult:
    """A run's outcome. ``params`` are the strategy's parameters resolved (defaults filled
    in); ``equity_time``/``equity_value`` at most :data:`MAX_EQUITY_POINTS` bars."""

    params: dict[str, int | float | str]
    fill: Fill
    metrics: metrics.Metrics
    final_equity: float
    equity_time: list[int]
    equity_value: list[float]
    trades: list[TradeRow]
    data_quality: DataQuality


def interval_seconds(interval: str) -> float:
    """The candle length metrics annualise by (1M: a mean month)."""
    if interval == MONTH:
        return _MONTH_SECONDS
    try:
        return kline_step_ms(interval) / 1000
    except NoFixedStep:  # pragma: no cover - 1M is handled above
        return _MONTH_SECONDS
    except ValueError as error:
        raise InvalidArgument(str(error)) from None


def count_holes(open_times: npt.NDArray[np.int64], interval: str) -> int:
    """Buckets of ``interval`` missing between the first and the last candle."""
    if len(open_times) < 2:
        return 0
    if interval == MONTH:
        first, last = int(open_times[0]), int(open_times[-1])
        months = _month(last) - _month(first) + 1
        return months - len(open_times)
    step = kline_step_ms(interval)
    return int((int(open_times[-1]) - int(open_times[0])) // step + 1 - len(open_times))


def _month(epoch_ms: int) -> int:
    from datetime import UTC, datetime

    moment = datetime.fromtimestamp(epoch_ms / 1000, tz=UTC)
    return moment.year * 12 + moment.month - 1


def resolve(
    request: BacktestRequest, known: Mapping[str, strategies.Strategy] | None = None
) -> dict[str, int | float | str]:
    """The request's parameters checked against its strategy, defaults filled in."""
    if request.strategy == DECLARATIVE:
        return _declarative_params(request.params)
    return dict(strategies.resolve_params(_strategy(request.strategy, known), request.params))


def _strategy(name: str, known: Mapping[str, strategies.Strategy] | None) -> strategies.Strategy:
    """The strategy called ``name``: InvalidArgument listing every name, declarative too."""
    known = strategies.registry() if known is None else known
    if name not in known:
        names = ", ".join(sorted([*known, DECLARATIVE]))
        raise InvalidArgument(f"no strategy {name!r}; known: {names}")
    return known[name]


def _declarative_params(given: Mapping[str, object]) -> dict[str, int | float | str]:
    unknown = sorted(set(given) - {"entry", "exit"})
    if unknown:
        raise InvalidArgument(
            f"strategy {DECLARATIVE} has no parameter {', '.join(unknown)}; "
            "its parameters are entry, exit"
        )
    resolved: dict[str, int | float | str] = {}
    for param in _DECLARATIVE_INFO.params:
        value = given.get(param.name)
        if value is None:
            raise InvalidArgument(
                f"strategy {DECLARATIVE} needs {param.name}, a condition such as "
                f"{json.dumps(param.default)}"
            )
        if not isinstance(value, str):
            raise InvalidArgument(
                f"{DECLARATIVE} parameter {param.name} must be a condition (a string), "
                f"got {value!r}"
            )
        resolved[param.name] = value
    declarative.declarative_strategy(str(resolved["entry"]), str(resolved["exit"]))
    return resolved


def signals(
    request: BacktestRequest,
    params: Mapping[str, int | float | str],
    bars: Bars,
    known: Mapping[str, strategies.Strategy] | None = None,
) -> strategies.Signals:
    """Entries and exits of the request's strategy over ``bars``."""
    if request.strategy == DECLARATIVE:
        candles = {
            "open": bars.open,
            "high": bars.high,
            "low": bars.low,
            "close": bars.close,
            "volume": bars.volume,
        }
        entries, exits = declarative.signals(str(params["entry"]), str(params["exit"]), candles)
        return strategies.Signals(
            np.asarray(entries, dtype=np.bool_), np.asarray(exits, dtype=np.bool_)
        )
    strategy = _strategy(request.strategy, known)
    numbers = {k: v for k, v in params.items() if not isinstance(v, str)}
    return strategy.signals(Indicators(bars), numbers)


def run_backtest(
    request: BacktestRequest,
    bars: Bars,
    *,
    source: str = "",
    known: Mapping[str, strategies.Strategy] | None = None,
) -> BacktestResult:
    """Simulate the request's strategy over ``bars`` (the request's candles, oldest first)."""
    params = resolve(request, known)
    if len(bars) == 0:
        raise InvalidArgument("a backtest needs at least one bar")
    entries, exits = signals(request, params, bars, known)
    simulation = engine.simulate(bars, entries, exits, request.settings)
    figures = metrics.compute(simulation, bars)
    picked = equity_sample(len(bars), MAX_EQUITY_POINTS)
    return BacktestResult(
        params=params,
        fill=request.settings.fill,
        metrics=figures,
        final_equity=simulation.final_equity,
        equity_time=bars.time[picked].tolist(),
        equity_value=simulation.equity[picked].tolist(),
        trades=trade_rows(simulation.trades, bars),
        data_quality=DataQuality(len(bars), count_holes(bars.time, request.interval), source),
    )


def equity_sample(length: int, points: int) -> npt.NDArray[np.int64]:
    """At most ``points`` indices of ``range(length)``, evenly spaced, first and last kept."""
    if length <= points:
        return np.arange(length, dtype=np.int64)
    if points <= 1:
        return np.array([length - 1], dtype=np.int64)
    picked: npt.NDArray[np.int64] = np.unique(
        np.rint(np.linspace(0, length - 1, points)).astype(np.int64)
    )
    return picked


_REASONS = {reason.value: reason.name for reason in ExitReason}


def trade_rows(trades: engine.Trades, bars: Bars) -> list[TradeRow]:
    entry_times = bars.time[trades.entry_bar].tolist()
    exit_times = bars.time[trades.exit_bar].tolist()
    return [
        TradeRow(
            "LONG" if direction > 0 else "SHORT",
            entry_time,
            exit_time,
            _finite(entry_price),
            _finite(exit_price),
            _finite(size),
            _finite(pnl),
            _finite(trade_return),
            _REASONS[reason],
        )
        for direction, entry_time, exit_time, entry_price, exit_price, size, pnl, trade_return, reason in zip(  # noqa: E501
            trades.direction.tolist(),
            entry_times,
            exit_times,
            trades.entry_price.tolist(),
            trades.exit_price.tolist(),
            trades.size.tolist(),
            trades.pnl.tolist(),
            trades.returns.tolist(),
            trades.exit_reason.tolist(),
            strict=True,
        )
    ]


def _finite(value: float) -> float:
    return value if math.isfinite(value) else 0.0


def bars_from_columns(
    time: list[int] | npt.NDArray[np.int64],
    open_: list[str] | Array,
    high: list[str] | Array,
    low: list[str] | Array,
    close: list[str] | Array,
    volume: list[str] | Array,
    interval: str,
) -> Bars:
    """Bars from GetOhlc's columns (decimal strings parsed as float64)."""
    return Bars.from_columns(
        np.asarray(time, dtype=np.int64),
        np.asarray(open_, dtype=np.float64),
        np.asarray(high, dtype=np.float64),
        np.asarray(low, dtype=np.float64),
        np.asarray(close, dtype=np.float64),
        np.asarray(volume, dtype=np.float64),
        interval_seconds=interval_seconds(interval),
    )


__all__ = [
    "DECLARATIVE",
    "BacktestRequest",
    "BacktestResult",
    "DataQuality",
    "Direction",
    "Fill",
    "ParamInfo",
    "StrategyInfo",
    "TradeRow",
    "bars_from_columns",
    "catalogue",
    "count_holes",
    "equity_sample",
    "run_backtest",
]
