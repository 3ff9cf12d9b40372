"""Indicator series over candles: the hot ones in numpy (``fast``), the rest by `ta`."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import ta

from services.common.indicators import fast
from services.common.indicators.catalogue import Request, parse

Array = fast.Array
Candles = Mapping[str, Array]  # "high", "low", "close", "volume": float64, oldest first

_Fast = Callable[[Candles, Mapping[str, Any]], dict[str, Array]]

_FAST: dict[type, _Fast] = {
    ta.trend.SMAIndicator: lambda c, a: {"sma_indicator": fast.sma(c["close"], a["window"])},
    ta.trend.EMAIndicator: lambda c, a: {"ema_indicator": fast.ema(c["close"], a["window"])},
    ta.momentum.RSIIndicator: lambda c, a: {"rsi": fast.rsi(c["close"], a["window"])},
    ta.trend.MACD: lambda c, a: fast.macd(
        c["close"], a["window_slow"], a["window_fast"], a["window_sign"]
    ),
    ta.volatility.BollingerBands: lambda c, a: fast.bollinger(
        c["close"], a["window"], a["window_dev"]
    ),
    ta.volatility.AverageTrueRange: lambda c, a: {
        "average_true_range": fast.atr(c["high"], c["low"], c["close"], a["window"])
    },
}


@dataclass(frozen=True)
class Series:
    """One output of one requested indicator: NaN where it has no value (warm-up)."""

    spec: str
    name: str
    values: Array


def _by_ta(request: Request, candles: Candles) -> dict[str, Array]:
    indicator = request.indicator
    inputs = {name: pd.Series(candles[name], copy=False) for name in indicator.inputs}
    empty = {output: np.full(len(candles["close"]), np.nan) for output in indicator.outputs}
    try:
        instance = indicator.cls(**inputs, **request.arguments, fillna=False)
        found = {
            output: getattr(instance, output)().to_numpy(dtype=np.float64, copy=True)
            for output in indicator.outputs
        }
    except (IndexError, KeyError, ValueError, ZeroDivisionError):
        # `ta` fails on series shorter than a window: no value anywhere, as in a warm-up.
        return empty
    for values in found.values():
        values[np.isinf(values)] = np.nan
    return found


def compute(requests: Sequence[Request], candles: Candles) -> list[Series]:
    """Every output of every request, in request order then the indicator's output order."""
    results: list[Series] = []
    for request in requests:
        hot = _FAST.get(request.indicator.cls)
        outputs = hot(candles, request.arguments) if hot else _by_ta(request, candles)
        results += [Series(request.spec, name, outputs[name]) for name in request.indicator.outputs]
    return results


def outputs(spec: str, candles: Candles) -> dict[str, Array]:
    """Every output of one spec by name (``macd(12,26,9)`` → ``macd``, ``macd_diff``,
    ``macd_signal``): the ``compute`` the condition language takes. BadSpec (a ValueError)
    for a spec that names no indicator or a bad parameter."""
    return {series.name: series.values for series in compute([parse(spec)], candles)}
