"""The indicators the built-in strategies use, in numpy, with the semantics of the ``ta`` package.

Pure (numpy only). Each function takes float64 arrays and returns float64 arrays of the same
length, NaN where ``ta`` (with ``fillna=False``) gives NaN: the warm-up bars. Values agree with
``ta`` to about 1e-12 relative (tests/unit/backtest/test_backtest_indicators.py).

The exponential averages, RSI, MACD and Bollinger bands are the indicator catalogue's own
(:mod:`services.common.indicators.fast`), so a backtest, a chart and an alert compute them
the same way; this module adds what only strategies need: SMAs that share one running sum
across a parameter grid, and rolling extremes (Donchian), from the van Herk/Gil-Werman
prefix/suffix trick rather than a loop over bars.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from services.common.indicators import fast

Array = npt.NDArray[np.float64]


def sma(values: Array, window: int) -> Array:
    """Simple moving average over ``window`` bars (``ta.trend.sma_indicator``)."""
    return sma_from_sums(running_sums(values), float(values[0]) if len(values) else 0.0, window)


def running_sums(values: Array) -> Array:
    """Cumulative sums of the values re-centred on the first one (smaller sums, smaller
    rounding): what every SMA of ``values`` is computed from, so several share one pass."""
    if len(values) == 0:
        return np.empty(0)
    sums = np.subtract(values, values[0])
    return np.cumsum(sums, out=sums)


def sma_from_sums(sums: Array, first: float, window: int) -> Array:
    """The ``window``-bar SMA from :func:`running_sums` of values whose first is ``first``."""
    _check_window(window)
    n = len(sums)
    out = np.empty(n)
    out[: window - 1] = np.nan
    if n < window:
        out[:] = np.nan
        return out
    out[window - 1] = sums[window - 1]
    np.subtract(sums[window:], sums[:-window], out=out[window:])
    tail = out[window - 1 :]
    tail /= window
    tail += first
    return out


def ema(values: Array, window: int) -> Array:
    """Exponential moving average with span ``window`` (``ta.trend.ema_indicator``:
    α = 2 / (window + 1), not adjusted, NaN for the first window − 1 bars)."""
    _check_window(window)
    return fast.ema(values, window)


def rsi(close: Array, window: int) -> Array:
    """Wilder's relative strength index, 0..100 (``ta.momentum.rsi``)."""
    _check_window(window)
    return fast.rsi(close, window)


def macd(close: Array, fast_window: int, slow: int, signal: int) -> tuple[Array, Array]:
    """MACD line and its signal line (``ta.trend.MACD``): ema(fast) − ema(slow), and the
    ``signal``-span average of that line, which starts where the line does."""
    for window in (fast_window, slow, signal):
        _check_window(window)
    lines = fast.macd(close, slow, fast_window, signal)
    return lines["macd"], lines["macd_signal"]


def bollinger(close: Array, window: int, deviations: float) -> tuple[Array, Array, Array]:
    """Lower band, middle (the SMA) and upper band (``ta.volatility.BollingerBands``:
    middle ± deviations × population standard deviation)."""
    _check_window(window)
    bands = fast.bollinger(close, window, deviations)
    return bands["bollinger_lband"], bands["bollinger_mavg"], bands["bollinger_hband"]


def rolling_max(values: Array, window: int) -> Array:
    """Highest value over the last ``window`` bars, this one included (pandas
    ``rolling(window).max()``; ``ta``'s Donchian upper band on highs)."""
    return _rolling_extreme(values, window, np.maximum)


def rolling_min(values: Array, window: int) -> Array:
    """Lowest value over the last ``window`` bars, this one included."""
    return _rolling_extreme(values, window, np.minimum)


def donchian(high: Array, low: Array, window: int) -> tuple[Array, Array]:
    """Donchian channel lower and upper bands (``ta.volatility.DonchianChannel``, offset 0):
    the lowest low and highest high of the last ``window`` bars, this one included."""
    return rolling_min(low, window), rolling_max(high, window)


def _rolling_extreme(values: Array, window: int, pick: np.ufunc) -> Array:
    _check_window(window)
    n = len(values)
    out = np.full(n, np.nan)
    if n < window:
        return out
    blocks = -(-n // window)
    padded = np.full(blocks * window, values[-1])
    padded[:n] = values
    matrix = padded.reshape(blocks, window)
    prefix = pick.accumulate(matrix, axis=1).reshape(-1)
    suffix = pick.accumulate(matrix[:, ::-1], axis=1)[:, ::-1].reshape(-1)
    # The window ending at t spans [t − w + 1, t]: the suffix of its first block meets the
    # prefix of its last one.
    ends = np.arange(window - 1, n)
    out[window - 1 :] = pick(suffix[ends - window + 1], prefix[ends])
    return out


def _check_window(window: int) -> None:
    if window < 1:
        raise ValueError(f"an indicator window must be at least 1 bar, got {window}")
