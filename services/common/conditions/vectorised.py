"""A condition over whole series at once: one truth value per candle or per trade.

Values are three-valued: a comparison that reads an undefined value (an indicator's
warm-up, a cross's first point, ``change(15m)`` before the stream is 15 minutes old) is
unknown; ``not`` keeps it unknown; ``and`` is false when either side is false and ``or`` true
when either side is true, whatever the other. A condition that ends unknown does not hold.
The streaming evaluator (``streaming``) follows the same rules point by point and agrees
with this one exactly.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from services.common.conditions.checker import Condition
from services.common.conditions.indicators import (
    Array,
    Candles,
    Compute,
    Precomputed,
    indicator_columns,
)
from services.common.conditions.nodes import And, Comparator, Compare, Node, Not, Or
from services.common.conditions.operands import (
    Change,
    Constant,
    Driver,
    Field,
    Operand,
    VolumeSpike,
)

Mask = npt.NDArray[np.bool_]
_CANDLE_FIELDS = ("open", "high", "low", "close", "volume")


def evaluate_candles(
    condition: Condition,
    candles: Candles,
    *,
    compute: Compute | None = None,
    precomputed: Precomputed | None = None,
) -> Mask:
    """Whether ``condition`` holds at each candle (closed, oldest first). ``candles`` holds the
    fields the condition reads, as float arrays of one length; indicator outputs come from
    ``precomputed`` or ``compute`` (see ``indicators.indicator_columns``)."""
    condition.require(Driver.CANDLES)
    length = len(candles["close"])
    columns: dict[str, Array] = {
        name: np.asarray(candles[name], dtype=np.float64)
        for name in _CANDLE_FIELDS
        if name in candles
    }
    for name, column in columns.items():
        if column.shape != (length,):
            raise ValueError(f"candles: {name} has {len(column)} values, close {length}")
    columns.update(indicator_columns(condition, candles, compute, precomputed))
    return _holds(condition.tree, columns, length)


def evaluate_trades(
    condition: Condition,
    time_ms: Sequence[int] | npt.NDArray[np.int64],
    price: Sequence[float] | Array,
    qty: Sequence[float] | Array,
) -> Mask:
    """Whether ``condition`` holds at each trade (in order, times never decreasing)."""
    condition.require(Driver.TRADES)
    times = np.asarray(time_ms, dtype=np.int64)
    prices = np.asarray(price, dtype=np.float64)
    quantities = np.asarray(qty, dtype=np.float64)
    if not times.shape == prices.shape == quantities.shape or times.ndim != 1:
        raise ValueError("trades: time_ms, price and qty must be 1-d and of one length")
    if len(times) > 1 and bool(np.any(np.diff(times) < 0)):
        raise ValueError("trades: times must never decrease")
    columns: dict[str, Array] = {"price": prices}
    cumulative: Array | None = None
    for operand in _operands(condition.tree):
        if isinstance(operand, Change):
            columns[operand.text] = change(times, prices, operand.window_ms)
        elif isinstance(operand, VolumeSpike):
            if cumulative is None:
                # Summed one after another, as the streaming evaluator does: the same floats.
                cumulative = np.cumsum(quantities)
            columns[operand.text] = volume_spike(
                times, cumulative, operand.window_ms, operand.count
            )
    return _holds(condition.tree, columns, len(times))


def change(times: npt.NDArray[np.int64], prices: Array, window_ms: int) -> Array:
    """Each price over the price of the last trade at least ``window_ms`` before it, minus 1;
    NaN where no trade is that old."""
    before = np.searchsorted(times, times - window_ms, side="right") - 1
    then = prices[np.maximum(before, 0)]
    defined = (before >= 0) & (then != 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(defined, prices / np.where(defined, then, 1.0) - 1.0, np.nan)


def volume_spike(
    times: npt.NDArray[np.int64], cumulative: Array, window_ms: int, count: int
) -> Array:
    """Quantity in (t − w, t] over the mean per w of (t − (count+1)·w, t − w], from the
    running total of quantities; NaN until a trade is (count+1)·w old or when that base is 0."""
    recent_start = np.searchsorted(times, times - window_ms, side="right") - 1
    base_start = np.searchsorted(times, times - (count + 1) * window_ms, side="right") - 1
    at_recent = cumulative[np.maximum(recent_start, 0)]
    base = at_recent - cumulative[np.maximum(base_start, 0)]
    defined = (base_start >= 0) & (base > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = (cumulative - at_recent) / (np.where(defined, base, 1.0) / count)
    return np.where(defined, ratio, np.nan)


def _operands(node: Node) -> list[Operand]:
    if isinstance(node, Compare):
        return [node.left, node.right]
    if isinstance(node, Not):
        return _operands(node.operand)
    return _operands(node.left) + _operands(node.right)


def _holds(node: Node, columns: dict[str, Array], length: int) -> Mask:
    truth, _known = _evaluate(node, columns, length)
    return truth


def _evaluate(node: Node, columns: dict[str, Array], length: int) -> tuple[Mask, Mask]:
    """(true, known) at every point; ``true`` is false wherever ``known`` is."""
    if isinstance(node, Compare):
        return _compare(node, columns, length)
    if isinstance(node, Not):
        truth, known = _evaluate(node.operand, columns, length)
        return known & ~truth, known
    left_true, left_known = _evaluate(node.left, columns, length)
    right_true, right_known = _evaluate(node.right, columns, length)
    if isinstance(node, And):
        left_false, right_false = left_known & ~left_true, right_known & ~right_true
        return left_true & right_true, (left_known & right_known) | left_false | right_false
    assert isinstance(node, Or)
    truth = left_true | right_true
    return truth, (left_known & right_known) | truth


def _values(operand: Operand, columns: dict[str, Array], length: int) -> Array:
    if isinstance(operand, Constant):
        return np.full(length, operand.value)
    if isinstance(operand, Field):
        return columns[operand.name]
    return columns[operand.text]


_COMPARE = {
    Comparator.LT: np.less,
    Comparator.LE: np.less_equal,
    Comparator.GT: np.greater,
    Comparator.GE: np.greater_equal,
    Comparator.EQ: np.equal,
    Comparator.NE: np.not_equal,
    Comparator.CROSSES_ABOVE: np.greater,
    Comparator.CROSSES_BELOW: np.less,
}
# A cross's previous point: not yet across (a ≤ b before a > b, a ≥ b before a < b).
_BEFORE_CROSS = {
    Comparator.CROSSES_ABOVE: np.less_equal,
    Comparator.CROSSES_BELOW: np.greater_equal,
}


def _compare(node: Compare, columns: dict[str, Array], length: int) -> tuple[Mask, Mask]:
    left = _values(node.left, columns, length)
    right = _values(node.right, columns, length)
    known = ~np.isnan(left) & ~np.isnan(right)
    truth = _COMPARE[node.comparator](left, right) & known
    if node.comparator.crosses:
        before = np.zeros(length, dtype=np.bool_)
        before[1:] = _BEFORE_CROSS[node.comparator](left[:-1], right[:-1])
        known_before = np.zeros(length, dtype=np.bool_)
        known_before[1:] = known[:-1]
        known = known & known_before
        truth = truth & before & known
    return truth, known
