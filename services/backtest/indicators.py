"""The indicators the built-in strategies use, in numpy, with the semantics of the ``ta`` package.

Pure (numpy only). Each function takes float64 arrays and returns float64 arrays of the same
length, NaN where ``ta`` (with ``fillna=False``) gives NaN: the warm-up bars. Values agree with
``ta`` to about 1e-12 relative (tests/unit/backtest/test_backtest_indicators.py).

Note for the merge: storage grows its own fast numpy indicators on another branch; when both
are in, one module should own them and this one should import from it.

Why not loops: a Python loop over a million bars costs ~0.3 s. Rolling sums come from a
cumulative sum (of values re-centred on the first one, which keeps its rounding small);
exponential averages from a blocked closed form (below); rolling extremes from the
van Herk/Gil-Werman prefix/suffix trick.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

Array = npt.NDArray[np.float64]

# Inside one block of the exponential average, weights grow up to this factor; kept far
# from float64's limits so the block sums lose no precision worth mentioning.
_MAX_BLOCK_GROWTH = 1e12


def _nan_head(values: Array, count: int) -> Array:
    values[: min(count, len(values))] = np.nan
    return values


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


def ewm(values: Array, alpha: float, min_periods: int) -> Array:
    """pandas' ``ewm(alpha=alpha, adjust=False, min_periods=...).mean()`` over ``values``.

    Leading NaNs are skipped (the average starts at the first number, as pandas does);
    NaNs after that are not expected (none of our inputs has them).
    y[s] = x[s] at the first number s, then y[t] = (1 − α)·y[t−1] + α·x[t].

    Blocked closed form: inside a block of B bars, y[j] = β^j·(c + α·Σ_{k≤j} β^−k·x[k]) with
    β = 1 − α and c the carry from the block before — one cumulative sum over a (blocks × B)
    matrix, then a loop over blocks (not bars) to pass the carries along.
    """
    n = len(values)
    out = np.full(n, np.nan)
    finite = np.flatnonzero(~np.isnan(values))
    if len(finite) == 0:
        return out
    start = int(finite[0])
    x = values[start:]
    beta = 1.0 - alpha
    if beta <= 0.0:
        out[start:] = x
        return _nan_head(out, start + min_periods - 1)
    block = max(1, min(len(x), int(math.log(_MAX_BLOCK_GROWTH) / -math.log(beta))))
    blocks = -(-len(x) // block)
    padded = np.zeros(blocks * block)
    padded[: len(x)] = x
    matrix = padded.reshape(blocks, block)
    powers = beta ** np.arange(block, dtype=np.float64)
    # Partial averages that start each block from zero: z[j] = α·Σ_{k≤j} β^(j−k)·x[k].
    partial = np.cumsum(matrix / powers, axis=1) * powers * alpha
    # The carry into block b is y at the end of block b−1; y[−1] = x[0] makes y[0] = x[0].
    carries = np.empty(blocks)
    carry = float(x[0])
    decay = beta**block
    last = partial[:, -1].tolist()
    for index in range(blocks):
        carries[index] = carry
        carry = last[index] + decay * carry
    partial += carries[:, None] * (powers * beta)
    out[start:] = partial.reshape(-1)[: len(x)]
    return _nan_head(out, start + min_periods - 1)


def ema(values: Array, window: int) -> Array:
    """Exponential moving average with span ``window`` (``ta.trend.ema_indicator``:
    α = 2 / (window + 1), not adjusted, NaN for the first window − 1 bars)."""
    _check_window(window)
    return ewm(values, 2.0 / (window + 1.0), window)


def rsi(close: Array, window: int) -> Array:
    """Wilder's relative strength index, 0..100 (``ta.momentum.rsi``): averages of up and
    down moves with α = 1 / window; 100 where the average down move is 0."""
    _check_window(window)
    diff = np.diff(close, prepend=close[:1])
    # ta: diff.where(diff > 0, 0.0) — the first bar (no previous close) counts as 0.
    up = np.where(diff > 0, diff, 0.0)
    down = np.where(diff < 0, -diff, 0.0)
    average_up = ewm(up, 1.0 / window, window)
    average_down = ewm(down, 1.0 / window, window)
    with np.errstate(divide="ignore", invalid="ignore"):
        strength = 100.0 - 100.0 / (1.0 + average_up / average_down)
    return np.where(average_down == 0.0, 100.0, strength)


def macd(close: Array, fast: int, slow: int, signal: int) -> tuple[Array, Array]:
    """MACD line and its signal line (``ta.trend.MACD``): ema(fast) − ema(slow), and the
    ``signal``-span average of that line, which starts where the line does."""
    line = ema(close, fast) - ema(close, slow)
    _check_window(signal)
    return line, ewm(line, 2.0 / (signal + 1.0), signal)


def rolling_std(values: Array, window: int) -> Array:
    """Population (ddof = 0) standard deviation over ``window`` bars, two-pass per window
    (a variance from running sums of squares cancels badly at price levels)."""
    _check_window(window)
    n = len(values)
    out = np.full(n, np.nan)
    if n < window:
        return out
    windows = np.lib.stride_tricks.sliding_window_view(values, window)
    # In chunks, so a million bars never hold a (bars × window) temporary.
    chunk = max(1, 2_000_000 // window)
    for begin in range(0, len(windows), chunk):
        part = windows[begin : begin + chunk]
        out[window - 1 + begin : window - 1 + begin + len(part)] = part.std(axis=1)
    return out


def bollinger(close: Array, window: int, deviations: float) -> tuple[Array, Array, Array]:
    """Lower band, middle (the SMA) and upper band (``ta.volatility.BollingerBands``:
    middle ± deviations × population standard deviation)."""
    middle = sma(close, window)
    spread = deviations * rolling_std(close, window)
    return middle - spread, middle, middle + spread


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
