"""A condition evaluated one event at a time, for live alerts: feed each trade (or each closed
candle) as it comes and read whether the condition holds now.

The rules are ``vectorised``'s, point by point: the same three-valued logic, the same windows
and the same floating-point operations in the same order, so feeding a series one event at a
time gives exactly the vectorised result at every step. State is what the next event needs:
the previous values (for crosses), the trades inside the windows of ``change`` and
``volume_spike``, and, for candle conditions, the candles the indicators are computed over.
"""

from __future__ import annotations

import math
import operator
from collections import deque
from collections.abc import Callable

import numpy as np

from services.common.conditions.checker import Condition
from services.common.conditions.indicators import Compute, indicator_columns
from services.common.conditions.nodes import And, Comparator, Compare, Node, Not, Or, comparisons
from services.common.conditions.operands import (
    Change,
    Constant,
    Driver,
    Field,
    Operand,
    VolumeSpike,
)

Values = dict[str, float]  # every non-constant operand's value at one point, by its text


class TradeStream:
    """A trade condition (``price crosses_above 2680``, ``change(15m) < -5%``) fed trade by
    trade, in order (times never decreasing)."""

    def __init__(self, condition: Condition) -> None:
        condition.require(Driver.TRADES)
        self.condition = condition
        self._measures: dict[str, _ChangeWindow | _VolumeWindows] = {}
        for compare in comparisons(condition.tree):
            for operand in (compare.left, compare.right):
                if isinstance(operand, Change):
                    self._measures[operand.text] = _ChangeWindow(operand.window_ms)
                elif isinstance(operand, VolumeSpike):
                    self._measures[operand.text] = _VolumeWindows(operand.window_ms, operand.count)
        self._point = _Point(condition.tree)
        self._last_time: int | None = None
        self._total_qty = 0.0

    def on_trade(self, time_ms: int, price: float, qty: float) -> bool:
        """Whether the condition holds at this trade."""
        if self._last_time is not None and time_ms < self._last_time:
            raise ValueError(f"trade at {time_ms} comes before the last one, at {self._last_time}")
        self._last_time = time_ms
        # Summed one after another, as numpy's cumsum does in the vectorised evaluator.
        self._total_qty += float(qty)
        values: Values = {"price": float(price)}
        for text, measure in self._measures.items():
            values[text] = measure.update(time_ms, float(price), self._total_qty)
        return self._point.holds(values)


class CandleStream:
    """A candle condition (``rsi(14) < 30``, ``close crosses_above sma(50)``) fed closed
    candle by closed candle.

    Indicators are computed by ``compute`` (default: by `ta`) over the candles kept: all of
    them by default (``history=None``), so every value is what the vectorised evaluator finds
    over the same series, provided ``compute`` is causal bit for bit (a value depends only on
    the candles up to it; `ta` is). ``history=N`` keeps the last N candles and computes over
    those: bounded memory and time for a long-lived rule, at the price of recursive
    indicators (EMA, RSI, MACD) starting from a later candle than a full-history computation
    does (keep N well above the condition's ``warmup``).
    """

    def __init__(
        self, condition: Condition, compute: Compute | None = None, history: int | None = None
    ) -> None:
        condition.require(Driver.CANDLES)
        if history is not None and history < 1:
            raise ValueError(f"history must keep at least 1 candle, not {history}")
        self.condition = condition
        self._compute = compute
        self._candles: dict[str, deque[float]] = {
            name: deque(maxlen=history) for name in ("open", "high", "low", "close", "volume")
        }
        self._point = _Point(condition.tree)

    def on_candle(self, open: float, high: float, low: float, close: float, volume: float) -> bool:
        """Whether the condition holds at this closed candle."""
        fields = {"open": open, "high": high, "low": low, "close": close, "volume": volume}
        values: Values = {}
        for name, value in fields.items():
            self._candles[name].append(float(value))
            values[name] = float(value)
        if self.condition.indicators:
            candles = {name: np.fromiter(kept, np.float64) for name, kept in self._candles.items()}
            columns = indicator_columns(self.condition, candles, self._compute)
            values.update((text, float(column[-1])) for text, column in columns.items())
        return self._point.holds(values)


class _Point:
    """Three-valued evaluation of a tree at one point, remembering the point before."""

    def __init__(self, tree: Node) -> None:
        self._tree = tree
        self._before: Values | None = None

    def holds(self, values: Values) -> bool:
        truth = _evaluate(self._tree, values, self._before)
        self._before = values
        return truth is True


_COMPARE: dict[Comparator, Callable[[float, float], bool]] = {
    Comparator.LT: operator.lt,
    Comparator.LE: operator.le,
    Comparator.GT: operator.gt,
    Comparator.GE: operator.ge,
    Comparator.EQ: operator.eq,
    Comparator.NE: operator.ne,
    Comparator.CROSSES_ABOVE: operator.gt,
    Comparator.CROSSES_BELOW: operator.lt,
}
_BEFORE_CROSS = {Comparator.CROSSES_ABOVE: operator.le, Comparator.CROSSES_BELOW: operator.ge}


def _evaluate(node: Node, now: Values, before: Values | None) -> bool | None:
    """True, False, or None (unknown)."""
    if isinstance(node, Compare):
        return _compare(node, now, before)
    if isinstance(node, Not):
        inner = _evaluate(node.operand, now, before)
        return None if inner is None else not inner
    left = _evaluate(node.left, now, before)
    right = _evaluate(node.right, now, before)
    if isinstance(node, And):
        if left is False or right is False:
            return False
        return None if left is None or right is None else True
    assert isinstance(node, Or)
    if left is True or right is True:
        return True
    return None if left is None or right is None else False


def _compare(node: Compare, now: Values, before: Values | None) -> bool | None:
    left, right = _value(node.left, now), _value(node.right, now)
    if math.isnan(left) or math.isnan(right):
        return None
    truth = _COMPARE[node.comparator](left, right)
    if not node.comparator.crosses:
        return truth
    if before is None:
        return None
    left_before, right_before = _value(node.left, before), _value(node.right, before)
    if math.isnan(left_before) or math.isnan(right_before):
        return None
    return truth and _BEFORE_CROSS[node.comparator](left_before, right_before)


def _value(operand: Operand, values: Values) -> float:
    if isinstance(operand, Constant):
        return operand.value
    if isinstance(operand, Field):
        return values[operand.name]
    return values[operand.text]


class _ChangeWindow:
    """``change(w)``: the trades back to the last one at least w before the newest."""

    def __init__(self, window_ms: int) -> None:
        self._window_ms = window_ms
        self._trades: deque[tuple[int, float]] = deque()  # (time, price)

    def update(self, time_ms: int, price: float, total_qty: float) -> float:
        cutoff = time_ms - self._window_ms
        trades = self._trades
        while len(trades) >= 2 and trades[1][0] <= cutoff:
            trades.popleft()
        value = math.nan
        if trades and trades[0][0] <= cutoff and trades[0][1] != 0:
            value = price / trades[0][1] - 1.0
        trades.append((time_ms, price))
        return value


class _VolumeWindows:
    """``volume_spike(w, n)``: running quantity totals at each trade of the last (n+1)·w.

    ``recent`` holds the trades newer than t − w; ``older`` the trades from the last one at
    or before t − (n+1)·w up to the last one at or before t − w, whose totals bound the base.
    """

    def __init__(self, window_ms: int, count: int) -> None:
        self._window_ms = window_ms
        self._count = count
        self._recent: deque[tuple[int, float]] = deque()  # (time, running total)
        self._older: deque[tuple[int, float]] = deque()

    def update(self, time_ms: int, price: float, total_qty: float) -> float:
        recent_cutoff = time_ms - self._window_ms
        base_cutoff = time_ms - (self._count + 1) * self._window_ms
        while self._recent and self._recent[0][0] <= recent_cutoff:
            self._older.append(self._recent.popleft())
        older = self._older
        while len(older) >= 2 and older[1][0] <= base_cutoff:
            older.popleft()
        value = math.nan
        if older and older[0][0] <= base_cutoff:
            at_recent = older[-1][1]
            base = at_recent - older[0][1]
            if base > 0:
                value = (total_qty - at_recent) / (base / self._count)
        self._recent.append((time_ms, total_qty))
        return value
