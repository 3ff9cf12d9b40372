"""A parsed tree → a :class:`Condition` that can be evaluated, or the reason it cannot.

Rules over the whole condition, beyond the grammar:

- A comparison reads at least one value that moves: ``30 < 40`` is refused.
- A percent (``-5%``) compares only with ``change(…)``; ``change`` and ``volume_spike``
  compare only with numbers (they are ratios, not prices).
- A condition is driven either by trades (it reads ``price``, ``change``, ``volume_spike``)
  or by closed candles (``open``, ``high``, ``low``, ``close``, ``volume``, indicators), never
  both: a trade's price has no candle value to sit beside (write ``close`` for a candle's).
"""

from __future__ import annotations

from dataclasses import dataclass

from services.common.conditions.errors import ConditionError
from services.common.conditions.nodes import Compare, Node, comparisons
from services.common.conditions.operands import (
    Change,
    Constant,
    Driver,
    Indicator,
    Operand,
    VolumeSpike,
)
from services.common.conditions.parser import parse_tree


@dataclass(frozen=True)
class Condition:
    """A checked condition.

    ``driver``: what it is evaluated on. ``indicators``: every indicator output it reads
    (distinct, in order of appearance); ``specs``: the indicator specs to compute for them.
    ``warmup``: how many candles come before the first at which every value it reads is
    defined (an indicator's warm-up, plus one for a cross, which reads the previous candle).
    ``lookback_ms``: for a trade condition, how far back before a trade it reads
    (``change(15m)``: 15 minutes; ``volume_spike(1m,20)``: 21 minutes).
    """

    text: str
    tree: Node
    driver: Driver
    indicators: tuple[Indicator, ...]
    warmup: int
    lookback_ms: int

    @property
    def specs(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(indicator.spec for indicator in self.indicators))

    def require(self, driver: Driver) -> None:
        """ValueError unless this condition is evaluated on ``driver``."""
        if self.driver is not driver:
            raise ValueError(
                f"{self.text!r} is evaluated on {self.driver.value}, not {driver.value}"
            )


def parse_condition(text: str) -> Condition:
    """Parse and check ``text``; :class:`ConditionError` naming the problem and its column."""
    tree = parse_tree(text)
    found = comparisons(tree)
    for compare in found:
        _check(compare)
    operands = [operand for compare in found for operand in (compare.left, compare.right)]
    driven = [operand for operand in operands if operand.driver is not None]
    driver = driven[0].driver
    assert driver is not None
    for operand in driven:
        if operand.driver is not driver:
            raise ConditionError(_mixed(driven[0], operand), operand.column)
    indicators = _distinct([operand for operand in operands if isinstance(operand, Indicator)])
    return Condition(
        text=text,
        tree=tree,
        driver=driver,
        indicators=indicators,
        warmup=max(_warmup(compare) for compare in found),
        lookback_ms=max(_lookback_ms(operand) for operand in operands),
    )


def _check(compare: Compare) -> None:
    left, right = compare.left, compare.right
    if isinstance(left, Constant) and isinstance(right, Constant):
        raise ConditionError(
            f"{left.text} {compare.comparator.value} {right.text} compares two numbers",
            left.column,
        )
    for this, other in ((left, right), (right, left)):
        if isinstance(this, Constant) and this.percent and not isinstance(other, Change):
            raise ConditionError(
                f"a percent ({this.text}) compares only with change(…), not {other.text}",
                this.column,
            )
        if isinstance(this, Change | VolumeSpike) and not isinstance(other, Constant):
            raise ConditionError(
                f"{this.text} is a ratio and compares only with a number, not {other.text}",
                other.column,
            )


def _mixed(first: Operand, other: Operand) -> str:
    trade, candle = (first, other) if first.driver is Driver.TRADES else (other, first)
    return (
        f"{trade.text} is evaluated on every trade and {candle.text} on closed candles; "
        f"a condition reads one or the other (close is a candle's price)"
    )


def _distinct(indicators: list[Indicator]) -> tuple[Indicator, ...]:
    """One per text: ``rsi(14)`` twice is read once (columns differ, values do not)."""
    by_text: dict[str, Indicator] = {}
    for indicator in indicators:
        by_text.setdefault(indicator.text, indicator)
    return tuple(by_text.values())


def _warmup(compare: Compare) -> int:
    own = max(
        (o.warmup for o in (compare.left, compare.right) if isinstance(o, Indicator)), default=0
    )
    return own + (1 if compare.comparator.crosses else 0)


def _lookback_ms(operand: Operand) -> int:
    if isinstance(operand, Change):
        return operand.window_ms
    if isinstance(operand, VolumeSpike):
        return (operand.count + 1) * operand.window_ms
    return 0
