"""Our numpy indicators equal the ``ta`` package's (fillna=False) on real and random bars."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from services.backtest import indicators
from services.backtest.bars import Bars
from tests.unit.backtest.market import random_walk, real_bars

pd = pytest.importorskip("pandas", reason="pandas comes with the test extra (backtesting)")
ta = pytest.importorskip("ta", reason="install the test extra: pip install -e '.[test]'")

Pair = tuple[Callable[[Bars], Any], Callable[[Any, Any, Any], Any]]
PAIRS: dict[str, Pair] = {
    "sma 30": (
        lambda b: indicators.sma(b.close, 30),
        lambda c, hi, lo: ta.trend.sma_indicator(c, 30),
    ),
    "ema 12": (
        lambda b: indicators.ema(b.close, 12),
        lambda c, hi, lo: ta.trend.ema_indicator(c, 12),
    ),
    "ema 200": (
        lambda b: indicators.ema(b.close, 200),
        lambda c, hi, lo: ta.trend.ema_indicator(c, 200),
    ),
    "rsi 14": (lambda b: indicators.rsi(b.close, 14), lambda c, hi, lo: ta.momentum.rsi(c, 14)),
    "macd": (
        lambda b: indicators.macd(b.close, 12, 26, 9)[0],
        lambda c, hi, lo: ta.trend.macd(c, 26, 12),
    ),
    "macd signal": (
        lambda b: indicators.macd(b.close, 12, 26, 9)[1],
        lambda c, hi, lo: ta.trend.macd_signal(c, 26, 12, 9),
    ),
    "bollinger low": (
        lambda b: indicators.bollinger(b.close, 20, 2.0)[0],
        lambda c, hi, lo: ta.volatility.bollinger_lband(c, 20, 2),
    ),
    "bollinger high": (
        lambda b: indicators.bollinger(b.close, 20, 2.0)[2],
        lambda c, hi, lo: ta.volatility.bollinger_hband(c, 20, 2),
    ),
    "donchian high": (
        lambda b: indicators.donchian(b.high, b.low, 20)[1],
        lambda c, hi, lo: ta.volatility.donchian_channel_hband(hi, lo, c, 20),
    ),
    "donchian low": (
        lambda b: indicators.donchian(b.high, b.low, 7)[0],
        lambda c, hi, lo: ta.volatility.donchian_channel_lband(hi, lo, c, 7),
    ),
}


@pytest.mark.parametrize("source", ["BTCUSDT-5m-2022-04", "random"])
@pytest.mark.parametrize("name", list(PAIRS))
def test_indicator_equals_ta(name: str, source: str) -> None:
    bars = random_walk(20_000, 9) if source == "random" else real_bars(source)
    ours, theirs = PAIRS[name]
    expected = np.asarray(
        theirs(*(pd.Series(x) for x in (bars.close, bars.high, bars.low))), dtype=np.float64
    )
    got = ours(bars)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(expected))
    # MACD is a difference of two close EMAs: compare it at the scale of the prices.
    scale = np.abs(bars.close).max() if name.startswith("macd") else None
    np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-12 * scale if scale else 0)


def test_short_inputs_are_all_nan() -> None:
    assert np.isnan(indicators.sma(np.arange(3.0), 5)).all()
    assert np.isnan(indicators.rolling_max(np.arange(3.0), 5)).all()
    assert np.isnan(indicators.ema(np.arange(3.0), 5)).all()


def test_a_window_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 1 bar"):
        indicators.sma(np.arange(3.0), 0)
