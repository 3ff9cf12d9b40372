"""No look-ahead: changing the bars after t never changes a signal, a fill or the equity at or
before t — for every built-in, both fill rules, both directions, with and without stops."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from services.backtest.bars import Bars, Indicators
from services.backtest.engine import Direction, Fill, Settings, simulate
from services.backtest.strategies import BUILTINS, BuiltinStrategy, resolve_params
from tests.unit.backtest.market import random_walk

SMALL: dict[str, dict[str, float]] = {
    "sma_cross": {"fast": 3, "slow": 8},
    "ema_cross": {"fast": 3, "slow": 8},
    "rsi_reversion": {"period": 5, "lower": 40, "upper": 60},
    "macd_cross": {"fast": 3, "slow": 8, "signal": 4},
    "bollinger_reversion": {"period": 6, "std": 1.0},
    "bollinger_breakout": {"period": 6, "std": 1.0},
    "donchian_breakout": {"entry_period": 5, "exit_period": 3},
}


def _altered_after(bars: Bars, t: int, seed: int) -> Bars:
    other = random_walk(len(bars), seed, step=0.02)
    columns = []
    for mine, theirs in (
        (bars.open, other.open),
        (bars.high, other.high),
        (bars.low, other.low),
        (bars.close, other.close),
    ):
        column = mine.copy()
        column[t + 1 :] = theirs[t + 1 :]
        columns.append(column)
    return Bars.from_columns(bars.time, *columns, interval_seconds=bars.interval_seconds)


@settings(max_examples=150, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    size=st.integers(20, 400),
    cut=st.floats(0.0, 1.0),
    strategy=st.sampled_from(BUILTINS),
    fill=st.sampled_from(list(Fill)),
    direction=st.sampled_from(list(Direction)),
    stops=st.sampled_from([{}, {"stop_loss": 0.01}, {"take_profit": 0.01, "trailing_stop": 0.005}]),
)
def test_changing_bars_after_t_changes_nothing_up_to_t(
    seed: int,
    size: int,
    cut: float,
    strategy: BuiltinStrategy,
    fill: Fill,
    direction: Direction,
    stops: dict[str, float],
) -> None:
    bars = random_walk(size, seed, step=0.01)
    t = min(size - 1, int(cut * size))
    altered = _altered_after(bars, t, seed + 1)
    trading = Settings(fill=fill, direction=direction, **stops)
    params = resolve_params(strategy, SMALL[strategy.name])
    runs = []
    for version in (bars, altered):
        entries, exits = strategy.signals(Indicators(version), params)
        runs.append((entries, exits, simulate(version, entries, exits, trading)))
    (entries_a, exits_a, a), (entries_b, exits_b, b) = runs
    assert np.array_equal(entries_a[: t + 1], entries_b[: t + 1])
    assert np.array_equal(exits_a[: t + 1], exits_b[: t + 1])
    assert np.array_equal(a.equity[: t + 1], b.equity[: t + 1])
    assert np.array_equal(a.units[: t + 1], b.units[: t + 1])
    filled_a = a.trades.entry_bar <= t
    filled_b = b.trades.entry_bar <= t
    assert np.array_equal(a.trades.entry_bar[filled_a], b.trades.entry_bar[filled_b])
    assert np.array_equal(a.trades.entry_price[filled_a], b.trades.entry_price[filled_b])
