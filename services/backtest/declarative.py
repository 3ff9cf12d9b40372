"""The declarative strategy: entry and exit conditions in the condition language, e.g.
entry ``rsi(14) < 30``, exit ``rsi(14) > 70`` or ``close crosses_below sma(50)``.

Signals are decided on each bar's close: ``entries[t]`` is whether the entry condition holds
at bar t's close (the engine fills at that close or at the next open). Both conditions are
candle conditions; a trade condition (``price``, ``change``, ``volume_spike``) is refused,
since a backtest sees candles, not trades.
"""

from __future__ import annotations

from dataclasses import dataclass

from services.common.conditions import (
    Candles,
    Compute,
    Condition,
    ConditionError,
    Driver,
    Precomputed,
    evaluate_candles,
    parse_condition,
)
from services.common.conditions.nodes import comparisons
from services.common.conditions.vectorised import Mask


@dataclass(frozen=True)
class DeclarativeStrategy:
    """Checked entry and exit conditions."""

    entry: Condition
    exit: Condition

    @property
    def warmup(self) -> int:
        """Bars before the first at which both conditions can be known."""
        return max(self.entry.warmup, self.exit.warmup)

    @property
    def specs(self) -> tuple[str, ...]:
        """Indicator specs the two conditions read, each once."""
        return tuple(dict.fromkeys((*self.entry.specs, *self.exit.specs)))


def declarative_strategy(entry: str, exit: str) -> DeclarativeStrategy:
    """Check both conditions; :class:`ConditionError` whose message starts with ``entry:`` or
    ``exit:`` and names the problem and its column."""
    return DeclarativeStrategy(_candle_condition("entry", entry), _candle_condition("exit", exit))


def signals(
    entry: str | Condition,
    exit: str | Condition,
    candles: Candles,
    *,
    compute: Compute | None = None,
    precomputed: Precomputed | None = None,
) -> tuple[Mask, Mask]:
    """(entries, exits): whether each condition holds at each bar's close."""
    strategy = DeclarativeStrategy(
        entry if isinstance(entry, Condition) else _candle_condition("entry", entry),
        exit if isinstance(exit, Condition) else _candle_condition("exit", exit),
    )
    return (
        evaluate_candles(strategy.entry, candles, compute=compute, precomputed=precomputed),
        evaluate_candles(strategy.exit, candles, compute=compute, precomputed=precomputed),
    )


def _candle_condition(role: str, text: str) -> Condition:
    try:
        condition = parse_condition(text)
    except ConditionError as error:
        raise ConditionError(f"{role}: {error.problem}", error.column) from None
    if condition.driver is not Driver.CANDLES:
        trade = next(
            operand
            for compare in comparisons(condition.tree)
            for operand in (compare.left, compare.right)
            if operand.driver is Driver.TRADES
        )
        raise ConditionError(
            f"{role}: a backtest runs on candles, and {trade.text} is a trade's "
            f"(write close for a candle's price)",
            trade.column,
        )
    return condition
