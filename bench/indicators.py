"""Indicators on a million candles: our numpy versions beside the `ta` library's own.

RSI(14), EMA(20), MACD(12,26,9), Bollinger(20,2) and ATR(14), together and each, over the
same synthetic candles (a seeded random walk: speed does not depend on the prices). Each
side is timed as the best of three runs, or of as many as fit in a second once the first
has run (`ta`'s ATR is a Python loop of seconds). The results are checked against `ta`
too: a run whose values disagree fails.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
import pandas as pd
import ta

from bench.report import Result
from services.common.indicators import fast

Array = fast.Array
Outputs = dict[str, Array]


def candles(size: int, seed: int = 7) -> dict[str, Array]:
    rng = np.random.default_rng(seed)
    close = 30_000 * np.exp(np.cumsum(rng.normal(0, 0.0008, size)))
    opened = np.concatenate(([close[0]], close[:-1]))
    return {
        "close": close,
        "high": np.maximum(opened, close) + rng.random(size) * 5,
        "low": np.minimum(opened, close) - rng.random(size) * 5,
    }


def _ours(c: dict[str, Array]) -> dict[str, Callable[[], Outputs]]:
    return {
        "RSI(14)": lambda: {"rsi": fast.rsi(c["close"], 14)},
        "EMA(20)": lambda: {"ema": fast.ema(c["close"], 20)},
        "MACD(12,26,9)": lambda: fast.macd(c["close"], 26, 12, 9),
        "Bollinger(20,2)": lambda: fast.bollinger(c["close"], 20, 2),
        "ATR(14)": lambda: {"atr": fast.atr(c["high"], c["low"], c["close"], 14)},
    }


def _theirs(c: dict[str, Array]) -> dict[str, Callable[[], Outputs]]:
    close, high, low = (pd.Series(c[k]) for k in ("close", "high", "low"))

    def macd() -> Outputs:
        indicator = ta.trend.MACD(close, 26, 12, 9)
        return {
            "macd": indicator.macd().to_numpy(),
            "macd_signal": indicator.macd_signal().to_numpy(),
            "macd_diff": indicator.macd_diff().to_numpy(),
        }

    def bollinger() -> Outputs:
        bands = ta.volatility.BollingerBands(close, 20, 2)
        return {name: getattr(bands, name)().to_numpy() for name in fast.BOLLINGER_OUTPUTS}

    return {
        "RSI(14)": lambda: {"rsi": ta.momentum.RSIIndicator(close, 14).rsi().to_numpy()},
        "EMA(20)": lambda: {"ema": ta.trend.EMAIndicator(close, 20).ema_indicator().to_numpy()},
        "MACD(12,26,9)": macd,
        "Bollinger(20,2)": bollinger,
        "ATR(14)": lambda: {
            "atr": ta.volatility.AverageTrueRange(high, low, close, 14)
            .average_true_range()
            .to_numpy()
        },
    }


def _best(run: Callable[[], object], repeats: int = 3, budget_s: float = 1.0) -> float:
    times: list[float] = []
    while len(times) < repeats and (not times or sum(times) < budget_s):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return min(times)


# Bollinger width and %b are left out of the check: pandas' running variance drifts over a
# million candles (1e-6 relative in the width), ours does not (tests/unit/test_indicators.py).
_CHECKED_BOLLINGER = ("bollinger_mavg", "bollinger_hband", "bollinger_lband")


def _disagreement(ours: Outputs, theirs: Outputs, level: float) -> float:
    """The largest difference after the warm-up, relative to the value (or to a thousandth
    of the price level, for values near 0 such as MACD's)."""
    worst = 0.0
    for name, expected in theirs.items():
        if name.startswith("bollinger") and name not in _CHECKED_BOLLINGER:
            continue
        got = ours[name]
        both = ~np.isnan(got) & ~np.isnan(expected) & (expected != 0)
        scale = np.maximum(np.abs(expected[both]), 1e-3 * level)
        if both.any():
            worst = max(worst, float(np.max(np.abs(got[both] - expected[both]) / scale)))
    return worst


def run(size: int) -> list[Result]:
    c = candles(size)
    ours, theirs = _ours(c), _theirs(c)
    level = float(np.mean(c["close"]))
    results: list[Result] = []
    for name in ours:
        theirs_s = _best(theirs[name])
        ours_s = _best(ours[name])
        worst = _disagreement(ours[name](), theirs[name](), level)
        if worst > 1e-9:
            raise RuntimeError(f"{name}: ours and ta differ by {worst:.1e} relative")
        results.append(Result("indicators", f"ta {name}", size, theirs_s))
        results.append(
            Result(
                "indicators",
                f"quantflow {name}",
                size,
                ours_s,
                f"{theirs_s / ours_s:.1f}x ta; max diff {worst:.0e}",
            )
        )
    theirs_s = _best(lambda: [f() for f in theirs.values()])
    ours_s = _best(lambda: [f() for f in ours.values()])
    results.append(Result("indicators", "ta all five together", size, theirs_s))
    results.append(
        Result(
            "indicators",
            "quantflow all five together",
            size,
            ours_s,
            f"{theirs_s / ours_s:.1f}x ta (target >= 40x)",
        )
    )
    return results
