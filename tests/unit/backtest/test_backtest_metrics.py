"""Metrics against values computed by hand on small series, and the degenerate cases."""

from __future__ import annotations

import math

import numpy as np
import pytest

from services.backtest import metrics
from services.backtest.engine import Fill, Settings, simulate
from tests.unit.backtest.market import bars_from_closes

DAYS = 365.0  # daily bars: P = 365


def _measure(
    closes: list[float], entries: list[int], exits: list[int], times: list[int] | None = None
) -> metrics.Metrics:
    bars = bars_from_closes(closes)
    if times is not None:
        bars = type(bars)(
            np.asarray(times, dtype=np.int64),
            bars.open,
            bars.high,
            bars.low,
            bars.close,
            bars.volume,
            bars.interval_seconds,
        )
    n = len(closes)
    flags = [np.zeros(n, dtype=np.bool_) for _ in range(2)]
    flags[0][entries], flags[1][exits] = True, True
    result = simulate(
        bars, flags[0], flags[1], Settings(cash=1000.0, fee_rate=0.0, fill=Fill.CLOSE)
    )
    return metrics.compute(result, bars)


def test_a_held_position_by_hand() -> None:
    # Bought at 100 on bar 0, never sold: equity 1000, 1100, 990, 1210, 1210.
    measured = _measure([100, 110, 99, 121, 121], [0], [])
    returns = [0.0, 0.1, -0.1, 1210 / 990 - 1, 0.0]
    mean = sum(returns) / 5
    std = math.sqrt(sum((r - mean) ** 2 for r in returns) / 4)
    downside = math.sqrt((0.1**2) / 5)
    assert measured.total_return == pytest.approx(0.21)
    assert measured.cagr == pytest.approx(1.21 ** (DAYS / 5) - 1)
    assert measured.volatility == pytest.approx(std * math.sqrt(DAYS))
    assert measured.sharpe == pytest.approx(mean / std * math.sqrt(DAYS))
    assert measured.sortino == pytest.approx(mean / downside * math.sqrt(DAYS))
    assert measured.max_drawdown == pytest.approx(0.1)
    assert measured.max_drawdown_duration == 1
    assert measured.calmar == pytest.approx((1.21 ** (DAYS / 5) - 1) / 0.1)
    assert measured.trades == 0
    assert measured.entries == 1
    assert measured.exposure == 1.0
    assert measured.buy_and_hold_return == pytest.approx(0.21)


def test_trade_statistics_by_hand() -> None:
    # 100 → 110: +100 (equity 1100); 100 → 90: −110 (equity 990).
    measured = _measure([100, 110, 100, 100, 90], [0, 2], [1, 4])
    assert measured.trades == 2
    assert measured.win_rate == 0.5
    assert measured.profit_factor == pytest.approx(100 / 110)
    assert measured.expectancy == pytest.approx((100 - 110) / 2)
    assert measured.average_trade == pytest.approx((0.1 - 0.1) / 2)
    assert measured.total_return == pytest.approx(-0.01)
    assert measured.exposure == pytest.approx(3 / 5)  # long at the close of bars 0, 2, 3


def test_the_drawdown_duration_counts_an_unrecovered_fall_to_the_end() -> None:
    depth, duration = metrics.max_drawdown(np.array([100.0, 120, 90, 100, 130, 125, 125]), 100)
    assert depth == pytest.approx(0.25)
    assert duration == 2
    depth, duration = metrics.max_drawdown(np.array([100.0, 120, 110, 110, 110]), 100)
    assert duration == 3


def _all_defined(measured: metrics.Metrics) -> None:
    for name, value in measured.as_dict().items():
        assert value is None or math.isfinite(value), name


def test_no_trades_give_zeros() -> None:
    measured = _measure([100, 105, 95, 120], [], [])
    _all_defined(measured)
    assert measured.total_return == 0
    assert measured.sharpe == 0
    assert measured.sortino == 0
    assert measured.calmar == 0
    assert measured.profit_factor == 0
    assert (measured.trades, measured.entries, measured.win_rate, measured.exposure) == (0, 0, 0, 0)
    assert measured.buy_and_hold_return == pytest.approx(0.2)


def test_one_bar_is_defined() -> None:
    measured = _measure([100], [], [])
    _all_defined(measured)
    assert (measured.total_return, measured.volatility, measured.sharpe) == (0, 0, 0)
    assert measured.max_drawdown_duration == 0


def test_flat_prices_are_defined() -> None:
    measured = _measure([100] * 10, [0], [5])
    _all_defined(measured)
    assert measured.trades == 1
    assert measured.win_rate == 0
    assert measured.sharpe == 0
    assert measured.profit_factor == 0


def test_a_strategy_that_never_exits_has_no_closed_trades() -> None:
    measured = _measure([100, 101, 102, 103], [1], [])
    _all_defined(measured)
    assert (measured.trades, measured.entries) == (0, 1)
    assert measured.total_return == pytest.approx(103 / 101 - 1)


def test_a_hole_in_the_data_changes_nothing_but_is_defined() -> None:
    day = 86_400_000
    measured = _measure([100, 110, 99, 121], [0], [], times=[0, day, 5 * day, 6 * day])
    _all_defined(measured)
    assert measured.total_return == pytest.approx(0.21)


def test_ratios_without_a_finite_value_are_none() -> None:
    # Only winners and no losing bar: profit factor and sortino have no finite value.
    measured = _measure([100, 110, 120, 130], [0], [2])
    assert measured.profit_factor is None
    assert measured.sortino is None
    assert measured.calmar is None  # no drawdown


def test_cagr_of_a_one_bar_gain_at_minute_bars_overflows_to_none() -> None:
    assert metrics.cagr(1.5, 1, 525_600) is None
    assert metrics.cagr(0.0, 10, 365) == -1.0
