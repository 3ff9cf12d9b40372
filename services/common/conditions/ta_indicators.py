"""The default ``compute`` of the condition language: indicator specs by the `ta` library.

Specs as the language writes them (``rsi(14)``, ``macd(12,26,9)``, ``bbands(20,2)``), outputs
named as `ta`'s methods. The fast numpy catalogue can replace it: any function with the
same signature fits.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

import numpy as np
import pandas as pd
import ta

from services.common.conditions.indicators import Array, Candles

_SPEC = re.compile(r"^([a-z_]+)\((.*)\)$")


def ta_compute(spec: str, candles: Candles) -> dict[str, Array]:
    """Every output of ``spec`` (as the condition language writes it) by the `ta` library."""
    match = _SPEC.match(spec)
    if match is None or match.group(1) not in _BY_TA:
        raise ValueError(f"no `ta` implementation for indicator spec {spec!r}")
    by_ta, outputs = _BY_TA[match.group(1)]
    parameters = [float(value) for value in match.group(2).split(",")]
    series = {name: pd.Series(values, dtype="float64") for name, values in candles.items()}
    try:
        return {
            name: np.asarray(found, dtype=np.float64)
            for name, found in by_ta(series, parameters).items()
        }
    except (IndexError, KeyError, ValueError, ZeroDivisionError):
        # `ta` fails on series shorter than a window: no value anywhere, as in a warm-up.
        return {output: np.full(len(candles["close"]), np.nan) for output in outputs}


_Series = Mapping[str, pd.Series]
_ByTa = Callable[[_Series, list[float]], dict[str, pd.Series]]


def _macd(s: _Series, v: list[float]) -> dict[str, pd.Series]:
    macd = ta.trend.MACD(
        s["close"], window_slow=int(v[1]), window_fast=int(v[0]), window_sign=int(v[2])
    )
    return {"macd": macd.macd(), "macd_signal": macd.macd_signal(), "macd_diff": macd.macd_diff()}


def _bbands(s: _Series, v: list[float]) -> dict[str, pd.Series]:
    bands = ta.volatility.BollingerBands(s["close"], int(v[0]), v[1])
    return {
        "bollinger_hband": bands.bollinger_hband(),
        "bollinger_mavg": bands.bollinger_mavg(),
        "bollinger_lband": bands.bollinger_lband(),
    }


# spec name → (its outputs by `ta`, their names)
_BY_TA: dict[str, tuple[_ByTa, tuple[str, ...]]] = {
    "rsi": (lambda s, v: {"rsi": ta.momentum.RSIIndicator(s["close"], int(v[0])).rsi()}, ("rsi",)),
    "sma": (
        lambda s, v: {
            "sma_indicator": ta.trend.SMAIndicator(s["close"], int(v[0])).sma_indicator()
        },
        ("sma_indicator",),
    ),
    "ema": (
        lambda s, v: {
            "ema_indicator": ta.trend.EMAIndicator(s["close"], int(v[0])).ema_indicator()
        },
        ("ema_indicator",),
    ),
    "atr": (
        lambda s, v: {
            "average_true_range": ta.volatility.AverageTrueRange(
                s["high"], s["low"], s["close"], int(v[0])
            ).average_true_range()
        },
        ("average_true_range",),
    ),
    "macd": (_macd, ("macd", "macd_signal", "macd_diff")),
    "bbands": (_bbands, ("bollinger_hband", "bollinger_mavg", "bollinger_lband")),
}
