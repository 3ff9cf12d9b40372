"""Strategies: a parameter schema and a vectorised rule that turns bars into entry and exit
signals, decided on each bar's close.

Pure (numpy only). The built-ins cross one line over another, strictly, as
``backtesting.lib.crossover``: ``a`` crosses above ``b`` at bar t when a[t−1] < b[t−1] and
a[t] > b[t] (a NaN on either bar is no cross). Users add strategies as classes registered in the
``quantflow.strategies`` entry-point group (see :func:`registry`); the engine only ever sees
boolean arrays, so a strategy can compute anything it likes.
"""

from __future__ import annotations

import importlib.metadata
import logging
import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Literal, NamedTuple, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from services.backtest.bars import Array, Indicators
from services.common.errors import InvalidArgument

ENTRY_POINT_GROUP = "quantflow.strategies"

Bools = npt.NDArray[np.bool_]
ParamValue = int | float
Params = Mapping[str, ParamValue]

log = logging.getLogger(__name__)


class Signals(NamedTuple):
    """Entries and exits, one boolean a bar, each decided on that bar's close."""

    entries: Bools
    exits: Bools


@dataclass(frozen=True)
class Param:
    """One parameter of a strategy: what the GraphQL ``params`` list shows."""

    name: str
    type: Literal["int", "float"]
    default: ParamValue
    min: ParamValue
    max: ParamValue
    description: str


@runtime_checkable
class Strategy(Protocol):
    """What a strategy is. A user strategy is any class with these attributes (instantiated
    without arguments when loaded from the entry point)."""

    @property
    def name(self) -> str: ...

    @property
    def description(self) -> str: ...

    @property
    def params(self) -> tuple[Param, ...]: ...

    def signals(self, indicators: Indicators, params: Params) -> Signals:
        """Entries and exits over ``indicators.bars``, given checked ``params``."""
        ...


# "fast < slow": a relation between two parameters that every parameter set must satisfy.
Requirement = tuple[str, str, str]
RELATIONS: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "!=": operator.ne,
    "==": operator.eq,
}


@dataclass(frozen=True)
class BuiltinStrategy:
    """A built-in: its schema, the relations its parameters must keep, and its rule."""

    name: str
    description: str
    params: tuple[Param, ...]
    rule: Callable[[Indicators, Params], Signals]
    requires: tuple[Requirement, ...] = ()

    def signals(self, indicators: Indicators, params: Params) -> Signals:
        return self.rule(indicators, params)


def resolve_params(strategy: Strategy, given: Mapping[str, object] | None) -> dict[str, ParamValue]:
    """``given`` checked against the schema, defaults filled in: InvalidArgument naming the
    parameter for an unknown name, a wrong type, a value out of range or a broken relation."""
    given = dict(given or {})
    schema = {param.name: param for param in strategy.params}
    unknown = sorted(set(given) - set(schema))
    if unknown:
        raise InvalidArgument(
            f"strategy {strategy.name} has no parameter {', '.join(unknown)}; "
            f"its parameters are {', '.join(schema) or 'none'}"
        )
    resolved: dict[str, ParamValue] = {}
    for name, param in schema.items():
        value = given.get(name, param.default)
        resolved[name] = _checked_value(strategy.name, param, value)
    for left, relation, right in getattr(strategy, "requires", ()):
        if not RELATIONS[relation](resolved[left], resolved[right]):
            raise InvalidArgument(
                f"strategy {strategy.name} needs {left} {relation} {right}, "
                f"got {left}={resolved[left]} and {right}={resolved[right]}"
            )
    return resolved


def _checked_value(strategy: str, param: Param, value: object) -> ParamValue:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidArgument(
            f"{strategy} parameter {param.name} must be a number ({param.type}), got {value!r}"
        )
    if param.type == "int":
        if float(value) != int(value):
            raise InvalidArgument(
                f"{strategy} parameter {param.name} must be a whole number, got {value}"
            )
        value = int(value)
    else:
        value = float(value)
    if not param.min <= value <= param.max:
        raise InvalidArgument(
            f"{strategy} parameter {param.name} must lie in [{param.min}, {param.max}], got {value}"
        )
    return value


# --- the crossing rule every built-in uses -------------------------------------------------


def crosses_above(a: Array, b: Array | float) -> Bools:
    """a[t−1] < b[t−1] and a[t] > b[t] (backtesting.lib.crossover); False on the first bar."""
    return _crossing(a, b, np.less, np.greater)


def crosses_below(a: Array, b: Array | float) -> Bools:
    """a[t−1] > b[t−1] and a[t] < b[t]."""
    return _crossing(a, b, np.greater, np.less)


def _crossing(a: Array, b: Array | float, before: np.ufunc, now: np.ufunc) -> Bools:
    out = np.zeros(len(a), dtype=np.bool_)
    if len(a) < 2:
        return out
    b_all = np.broadcast_to(b, a.shape)
    with np.errstate(invalid="ignore"):
        side = now(a, b_all)  # a > b now (for a cross above), a < b (below)
        was = before(a[:-1], b_all[:-1])
    np.logical_and(was, side[1:], out=out[1:])
    return out


def _shifted(values: Array) -> Array:
    """values[t−1] at t (NaN at the first bar): the channel of the bars before this one."""
    out = np.empty_like(values)
    out[:1] = np.nan
    out[1:] = values[:-1]
    return out


# --- the built-ins ------------------------------------------------------------------------


def _int(name: str, default: int, low: int, high: int, description: str) -> Param:
    return Param(name, "int", default, low, high, description)


def _float(name: str, default: float, low: float, high: float, description: str) -> Param:
    return Param(name, "float", default, low, high, description)


def _window(params: Params, name: str) -> int:
    return int(params[name])


def _sma_cross(ind: Indicators, params: Params) -> Signals:
    fast, slow = ind.sma(_window(params, "fast")), ind.sma(_window(params, "slow"))
    return Signals(crosses_above(fast, slow), crosses_below(fast, slow))


def _ema_cross(ind: Indicators, params: Params) -> Signals:
    fast, slow = ind.ema(_window(params, "fast")), ind.ema(_window(params, "slow"))
    return Signals(crosses_above(fast, slow), crosses_below(fast, slow))


def _rsi_reversion(ind: Indicators, params: Params) -> Signals:
    strength = ind.rsi(_window(params, "period"))
    return Signals(
        crosses_above(strength, float(params["lower"])),
        crosses_below(strength, float(params["upper"])),
    )


def _macd_cross(ind: Indicators, params: Params) -> Signals:
    line, signal = ind.macd(
        _window(params, "fast"), _window(params, "slow"), _window(params, "signal")
    )
    return Signals(crosses_above(line, signal), crosses_below(line, signal))


def _bollinger_reversion(ind: Indicators, params: Params) -> Signals:
    lower, middle, _ = ind.bollinger(_window(params, "period"), float(params["std"]))
    close = ind.bars.close
    return Signals(crosses_below(close, lower), crosses_above(close, middle))


def _bollinger_breakout(ind: Indicators, params: Params) -> Signals:
    _, middle, upper = ind.bollinger(_window(params, "period"), float(params["std"]))
    close = ind.bars.close
    return Signals(crosses_above(close, upper), crosses_below(close, middle))


def _donchian_breakout(ind: Indicators, params: Params) -> Signals:
    _, upper = ind.donchian(_window(params, "entry_period"))
    lower, _ = ind.donchian(_window(params, "exit_period"))
    close = ind.bars.close
    return Signals(crosses_above(close, _shifted(upper)), crosses_below(close, _shifted(lower)))


_PERIOD_MAX = 10_000

BUILTINS: tuple[BuiltinStrategy, ...] = (
    BuiltinStrategy(
        "sma_cross",
        "Long when the fast simple moving average of closes crosses above the slow one; "
        "out when it crosses back below.",
        (
            _int("fast", 10, 1, _PERIOD_MAX, "bars in the fast SMA"),
            _int("slow", 30, 2, _PERIOD_MAX, "bars in the slow SMA"),
        ),
        _sma_cross,
        (("fast", "<", "slow"),),
    ),
    BuiltinStrategy(
        "ema_cross",
        "Long when the fast exponential moving average crosses above the slow one; out when "
        "it crosses back below.",
        (
            _int("fast", 12, 1, _PERIOD_MAX, "span of the fast EMA, in bars"),
            _int("slow", 26, 2, _PERIOD_MAX, "span of the slow EMA, in bars"),
        ),
        _ema_cross,
        (("fast", "<", "slow"),),
    ),
    BuiltinStrategy(
        "rsi_reversion",
        "Long when the RSI climbs back above the oversold level; out when it falls back "
        "below the overbought level.",
        (
            _int("period", 14, 2, _PERIOD_MAX, "RSI window, in bars"),
            _float("lower", 30.0, 0.0, 100.0, "oversold level"),
            _float("upper", 70.0, 0.0, 100.0, "overbought level"),
        ),
        _rsi_reversion,
        (("lower", "<", "upper"),),
    ),
    BuiltinStrategy(
        "macd_cross",
        "Long when the MACD line crosses above its signal line; out when it crosses back below.",
        (
            _int("fast", 12, 1, _PERIOD_MAX, "span of the fast EMA"),
            _int("slow", 26, 2, _PERIOD_MAX, "span of the slow EMA"),
            _int("signal", 9, 1, _PERIOD_MAX, "span of the signal line"),
        ),
        _macd_cross,
        (("fast", "<", "slow"),),
    ),
    BuiltinStrategy(
        "bollinger_reversion",
        "Long when the close crosses below the lower Bollinger band; out when it crosses "
        "back above the middle band.",
        (
            _int("period", 20, 2, _PERIOD_MAX, "bars in the moving average and deviation"),
            _float("std", 2.0, 0.0, 10.0, "band width in standard deviations"),
        ),
        _bollinger_reversion,
    ),
    BuiltinStrategy(
        "bollinger_breakout",
        "Long when the close crosses above the upper Bollinger band; out when it crosses "
        "back below the middle band.",
        (
            _int("period", 20, 2, _PERIOD_MAX, "bars in the moving average and deviation"),
            _float("std", 2.0, 0.0, 10.0, "band width in standard deviations"),
        ),
        _bollinger_breakout,
    ),
    BuiltinStrategy(
        "donchian_breakout",
        "Long when the close crosses above the highest high of the entry_period bars "
        "before it; out when it crosses below the lowest low of the exit_period bars before.",
        (
            _int("entry_period", 20, 1, _PERIOD_MAX, "bars in the breakout channel"),
            _int("exit_period", 10, 1, _PERIOD_MAX, "bars in the exit channel"),
        ),
        _donchian_breakout,
    ),
)


def builtins() -> dict[str, Strategy]:
    return {strategy.name: strategy for strategy in BUILTINS}


def registry() -> dict[str, Strategy]:
    """Every strategy by name: the built-ins, then those of the ``quantflow.strategies``
    entry-point group, in name order.

    An entry point names a class (instantiated without arguments) or an instance. One that
    fails to load, is not a :class:`Strategy`, or takes a name already taken is skipped with
    a warning naming it — one broken plug-in must not hide the others.
    """
    strategies = builtins()
    for entry_point in sorted(
        importlib.metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda point: point.name
    ):
        try:
            loaded = entry_point.load()
            strategy = loaded() if isinstance(loaded, type) else loaded
        except Exception:
            log.warning("strategy entry point %s failed to load", entry_point.value, exc_info=True)
            continue
        if not isinstance(strategy, Strategy):
            log.warning(
                "strategy entry point %s is not a strategy (needs name, description, "
                "params and signals)",
                entry_point.value,
            )
            continue
        if strategy.name in strategies:
            log.warning(
                "strategy entry point %s: the name %s is taken; skipped",
                entry_point.value,
                strategy.name,
            )
            continue
        strategies[strategy.name] = strategy
    return strategies


def get(name: str, strategies: Mapping[str, Strategy] | None = None) -> Strategy:
    """The strategy called ``name``: InvalidArgument listing the known names otherwise."""
    known = registry() if strategies is None else strategies
    try:
        return known[name]
    except KeyError:
        raise InvalidArgument(f"no strategy {name!r}; known: {', '.join(sorted(known))}") from None
