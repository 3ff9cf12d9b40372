"""Numpy versions of the hot indicators, with the `ta` library's exact semantics.

Each agrees with `ta` (0.11) to 1e-9 relative once warmed up, and is null (NaN) during the
warm-up, where `ta` sometimes says 0 (ATR) instead:

- EMA: pandas ``ewm(span=n, adjust=False, min_periods=n)``: y0 = x0, then
  y_t = (1 - a) y_{t-1} + a x_t with a = 2 / (n + 1); leading NaNs are skipped.
- RSI: ``ewm(alpha=1/n, adjust=False, min_periods=n)`` of the gains and losses, whose first
  value is 0 (the first difference is NaN, and ``where`` turns it into 0), and 100 where the
  average loss is 0.
- ATR: the mean of the first n true ranges, then (atr (n - 1) + tr) / n: an EMA with
  a = 1/n; the first true range is high - low (no previous close).
- SMA and Bollinger: rolling mean and population standard deviation (ddof=0).

The recursive EMA runs as blocks solved at once by a scaled cumulative sum, the blocks then
chained by one carry each: numpy speed, no compiled extension.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

Array = npt.NDArray[np.float64]

# beta^-L up to 1e200: products with prices stay far from float64's 1e308.
_EXPONENT_LIMIT = 200 * math.log(10)
# Rolling variance: windows sharing one anchor value (see _rolling_mean_std).
_ANCHOR_EVERY = 256


def _linear_recurrence(u: Array, beta: float, start: float) -> Array:
    """y_t = beta y_{t-1} + u_t with y_{-1} = ``start``, for 0 <= beta < 1.

    In a block of L steps y_j = beta^j (beta start' + sum_{k<=j} u_k beta^-k): one cumulative
    sum. L is as long as beta^-L stays far from overflowing, and the blocks are chained
    through their last values (a short Python loop: a few hundred blocks a million steps).
    """
    n = len(u)
    if n == 0 or beta == 0.0:
        return u.copy()
    length = max(1, min(n, int(_EXPONENT_LIMIT / -math.log(beta))))
    blocks = -(-n // length)
    work = np.zeros(blocks * length)
    work[:n] = u
    grid = work.reshape(blocks, length)
    steps = np.arange(length, dtype=np.float64)
    decay = beta**steps
    grid *= beta**-steps
    np.cumsum(grid, axis=1, out=grid)
    ends = (grid[:, -1] * decay[-1]).tolist()
    carry_factor = beta**length
    carries = np.empty(blocks)
    carry = start
    for block in range(blocks):
        carries[block] = carry
        carry = ends[block] + carry_factor * carry
    grid += (beta * carries)[:, None]
    grid *= decay
    return work[:n]


def _ewm_from_first(x: Array, alpha: float) -> Array:
    """y0 = x0, y_t = (1 - alpha) y_{t-1} + alpha x_t, for x without NaN."""
    if len(x) == 0:
        return x.copy()
    return _linear_recurrence(alpha * x, 1.0 - alpha, float(x[0]))


def ewm(x: Array, alpha: float, min_periods: int) -> Array:
    """pandas ``x.ewm(alpha=alpha, adjust=False, min_periods=min_periods).mean()`` for a
    series whose only NaNs lead it."""
    first = 0
    if len(x) and math.isnan(x[0]):
        present = np.flatnonzero(~np.isnan(x))
        if len(present) == 0:
            return np.full(len(x), np.nan)
        first = int(present[0])
    out = np.empty(len(x))
    out[first:] = _ewm_from_first(x[first:], alpha)
    out[: first + max(min_periods, 1) - 1] = np.nan
    return out


def ema(close: Array, window: int) -> Array:
    """`ta.trend.EMAIndicator(close, window).ema_indicator()`."""
    return ewm(close, 2.0 / (window + 1), window)


def sma(close: Array, window: int) -> Array:
    """`ta.trend.SMAIndicator(close, window).sma_indicator()`."""
    out = np.full(len(close), np.nan)
    if len(close) < window:
        return out
    # Sums of differences from the first value keep the running total small, so window
    # sums taken as differences of it lose no digits that matter.
    running = np.concatenate(([0.0], np.cumsum(close - close[0])))
    out[window - 1 :] = (running[window:] - running[:-window]) / window + close[0]
    return out


def rsi(close: Array, window: int) -> Array:
    """`ta.momentum.RSIIndicator(close, window).rsi()`."""
    diff = np.empty(len(close))
    diff[:1] = 0.0
    np.subtract(close[1:], close[:-1], out=diff[1:])
    average_up = ewm(np.maximum(diff, 0.0), 1.0 / window, window)
    average_down = ewm(np.maximum(-diff, 0.0), 1.0 / window, window)
    with np.errstate(divide="ignore", invalid="ignore"):
        values: Array = 100.0 - 100.0 / (1.0 + average_up / average_down)
    values[average_down == 0] = 100.0
    return values


def macd(close: Array, window_slow: int, window_fast: int, window_sign: int) -> dict[str, Array]:
    """`ta.trend.MACD`: ``macd``, ``macd_signal`` and ``macd_diff``."""
    line = ema(close, window_fast) - ema(close, window_slow)
    signal = ewm(line, 2.0 / (window_sign + 1), window_sign)
    return {"macd": line, "macd_signal": signal, "macd_diff": line - signal}


def _rolling_mean_std(x: Array, window: int) -> tuple[Array, Array]:
    """Rolling mean and population standard deviation, NaN before the window fills.

    Window sums of x and x^2 come from cumulative sums of differences from an anchor that
    moves every 256 windows (the first value of their span), so they stay small and the
    variance keeps its digits: within 1e-10 of exact arithmetic on real candles, where
    pandas' running update drifts by up to 1e-9 over a day. A window of equal values has a
    deviation of exactly 0, as in pandas."""
    n = len(x)
    mean = np.full(n, np.nan)
    std = np.full(n, np.nan)
    if n < window:
        return mean, std
    count = n - window + 1
    chunks = -(-count // _ANCHOR_EVERY)
    span = _ANCHOR_EVERY + window - 1
    padded = np.empty(chunks * _ANCHOR_EVERY + window - 1)
    padded[:n] = x
    padded[n:] = x[-1]
    rows = np.lib.stride_tricks.sliding_window_view(padded, span)[::_ANCHOR_EVERY]
    deviations = rows - rows[:, :1]
    sums = np.zeros((chunks, span + 1))
    squares = np.zeros((chunks, span + 1))
    np.cumsum(deviations, axis=1, out=sums[:, 1:])
    np.cumsum(deviations * deviations, axis=1, out=squares[:, 1:])
    first = (sums[:, window:] - sums[:, :-window]) / window
    second = (squares[:, window:] - squares[:, :-window]) / window
    variance = np.maximum(second - first * first, 0.0).ravel()[:count]
    first += rows[:, :1]
    mean[window - 1 :] = first.ravel()[:count]
    spread = std[window - 1 :]
    np.sqrt(variance, out=spread)
    # A window of equal values has a variance of a few ulps of its anchor's distance at
    # most; no real window of prices moves by less than 1e-9 of its level.
    suspects = np.flatnonzero(spread <= 1e-9 * np.abs(mean[window - 1 :]))
    if len(suspects):
        windows = np.lib.stride_tricks.sliding_window_view(x, window)[suspects]
        spread[suspects[(windows == windows[:, :1]).all(axis=1)]] = 0.0
    return mean, std


def bollinger(close: Array, window: int, window_dev: float) -> dict[str, Array]:
    """`ta.volatility.BollingerBands`: every output; the two crossing flags are null while
    the bands are (`ta` says 0)."""
    mavg, mstd = _rolling_mean_std(close, window)
    hband = mavg + window_dev * mstd
    lband = mavg - window_dev * mstd
    width = hband - lband
    warm_up = slice(0, min(window - 1, len(close)))
    with np.errstate(divide="ignore", invalid="ignore"):
        pband = (close - lband) / width
        pband[width == 0] = np.nan
        wband = np.divide(width, mavg)
        wband *= 100
    above = (close > hband).astype(np.float64)
    below = (close < lband).astype(np.float64)
    above[warm_up] = np.nan
    below[warm_up] = np.nan
    return {
        "bollinger_mavg": mavg,
        "bollinger_hband": hband,
        "bollinger_lband": lband,
        "bollinger_wband": wband,
        "bollinger_pband": pband,
        "bollinger_hband_indicator": above,
        "bollinger_lband_indicator": below,
    }


def true_range(high: Array, low: Array, close: Array) -> Array:
    """max(high - low, |high - previous close|, |low - previous close|); the first is
    high - low."""
    ranges = high - low
    previous = close[:-1]
    ranges[1:] = np.maximum(
        ranges[1:], np.maximum(np.abs(high[1:] - previous), np.abs(low[1:] - previous))
    )
    return ranges


def atr(high: Array, low: Array, close: Array, window: int) -> Array:
    """`ta.volatility.AverageTrueRange(high, low, close, window).average_true_range()`,
    null (not 0) before the first full window."""
    out = np.full(len(close), np.nan)
    if len(close) < window:
        return out
    ranges = true_range(high, low, close)
    seeded = ranges[window - 1 :].copy()
    seeded[0] = ranges[:window].mean()
    out[window - 1 :] = _ewm_from_first(seeded, 1.0 / window)
    return out
