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
BOLLINGER_OUTPUTS = (
    "bollinger_mavg",
    "bollinger_hband",
    "bollinger_lband",
    "bollinger_wband",
    "bollinger_pband",
    "bollinger_hband_indicator",
    "bollinger_lband_indicator",
)


def _ewm_into(x: Array, alpha: float, lead: int) -> Array:
    """An array of ``lead`` unset values, then y0 = x0, y_t = (1 - alpha) y_{t-1} + alpha x_t
    for x without NaN.

    With beta = 1 - alpha, in a block of L steps y_j = beta^j (beta c + sum_{k<=j} alpha x_k
    beta^-k), c the value before the block: one cumulative sum. L is as long as beta^-L stays
    far from overflowing, and the blocks are chained through their last values (a short
    Python loop: a few hundred blocks a million steps). Computed in place: large temporary
    arrays cost page faults that show at a million candles.
    """
    n = len(x)
    beta = 1.0 - alpha
    if n == 0 or beta <= 0.0:
        out = np.empty(lead + n)
        out[lead:] = x
        return out
    length = max(1, min(n, int(_EXPONENT_LIMIT / -math.log(beta))))
    blocks = -(-n // length)
    work = np.empty(lead + blocks * length)
    grid = work[lead:].reshape(blocks, length)
    steps = np.arange(length, dtype=np.float64)
    decay = beta**steps
    weights = alpha * beta**-steps
    full = n // length
    np.multiply(x[: full * length].reshape(full, length), weights, out=grid[:full])
    if full < blocks:
        tail = n - full * length
        np.multiply(x[full * length :], weights[:tail], out=grid[full, :tail])
        grid[full, tail:] = 0.0
    np.cumsum(grid, axis=1, out=grid)
    ends = (grid[:, -1] * decay[-1]).tolist()
    carry_factor = beta**length
    carries = np.empty(blocks)
    carry = float(x[0])
    for block in range(blocks):
        carries[block] = carry
        carry = ends[block] + carry_factor * carry
    carries *= beta
    grid += carries[:, None]
    grid *= decay
    return work[: lead + n]


def _first_present(x: Array) -> int | None:
    """The index of the first value that is not NaN (None if none is): looked for in
    growing slices, as NaNs only lead a series here (MACD's warm-up) and are few."""
    start, size = 0, 64
    while start < len(x):
        missing = np.isnan(x[start : start + size])
        if not missing.all():
            return start + int(np.argmin(missing))
        start, size = start + size, size * 2
    return None


def ewm(x: Array, alpha: float, min_periods: int) -> Array:
    """pandas ``x.ewm(alpha=alpha, adjust=False, min_periods=min_periods).mean()`` for a
    series whose only NaNs lead it."""
    first = _first_present(x)
    if first is None:
        return np.full(len(x), np.nan)
    out = _ewm_into(x[first:], alpha, first)
    out[: first + max(min_periods, 1) - 1] = np.nan
    return out


def ema(close: Array, window: int) -> Array:
    """`ta.trend.EMAIndicator(close, window).ema_indicator()`."""
    return ewm(close, 2.0 / (window + 1), window)


def sma(close: Array, window: int) -> Array:
    """`ta.trend.SMAIndicator(close, window).sma_indicator()`."""
    n = len(close)
    out = np.empty(n)
    out[: window - 1] = np.nan
    if n < window:
        return out
    # Sums of differences from the first value keep the running total small, so window
    # sums taken as differences of it lose no digits that matter.
    running = np.empty(n + 1)
    running[0] = 0.0
    np.subtract(close, close[0], out=running[1:])
    np.cumsum(running[1:], out=running[1:])
    sums = out[window - 1 :]
    np.subtract(running[window:], running[:-window], out=sums)
    sums /= window
    sums += close[0]
    return out


def rsi(close: Array, window: int) -> Array:
    """`ta.momentum.RSIIndicator(close, window).rsi()`."""
    diff = np.empty(len(close))
    diff[:1] = 0.0
    np.subtract(close[1:], close[:-1], out=diff[1:])
    gains = np.maximum(diff, 0.0)
    losses = np.subtract(gains, diff, out=diff)  # max(-diff, 0), exactly
    average_up = ewm(gains, 1.0 / window, window)
    average_down = ewm(losses, 1.0 / window, window)
    # 100 - 100 / (1 + up / down), in place; 100 where the average loss is 0.
    values = average_up
    with np.errstate(divide="ignore", invalid="ignore"):
        np.divide(average_up, average_down, out=values)
        values += 1.0
        np.divide(100.0, values, out=values)
        np.subtract(100.0, values, out=values)
    values[average_down == 0] = 100.0
    return values


def macd(close: Array, window_slow: int, window_fast: int, window_sign: int) -> dict[str, Array]:
    """`ta.trend.MACD`: ``macd``, ``macd_signal`` and ``macd_diff``."""
    line = ema(close, window_fast)
    line -= ema(close, window_slow)
    signal = ewm(line, 2.0 / (window_sign + 1), window_sign)
    return {"macd": line, "macd_signal": signal, "macd_diff": line - signal}


def _rolling_mean_std(x: Array, window: int) -> tuple[Array, Array, Array]:
    """Rolling mean and population standard deviation, NaN before the window fills, and
    the indices of windows whose values are all equal (their deviation is exactly 0, as in
    pandas).

    Window sums of x and x^2 come from cumulative sums of differences from an anchor that
    moves every 256 windows (the first value of their span), so they stay small and the
    variance keeps its digits: within 1e-10 of exact arithmetic on real candles, where
    pandas' running update drifts by up to 1e-9 over a day."""
    n = len(x)
    if n < window:
        return np.full(n, np.nan), np.full(n, np.nan), np.empty(0, dtype=np.intp)
    count = n - window + 1
    chunks = -(-count // _ANCHOR_EVERY)
    span = _ANCHOR_EVERY + window - 1
    padded = np.empty(chunks * _ANCHOR_EVERY + window - 1)
    padded[:n] = x
    padded[n:] = x[-1]
    rows = np.lib.stride_tricks.sliding_window_view(padded, span)[::_ANCHOR_EVERY]
    anchors = rows[:, :1].copy()
    deviations = rows - anchors
    sums = np.empty((chunks, span + 1))
    sums[:, 0] = 0.0
    # Each window's mean (less its anchor) and variance, laid out as the series: window w
    # ends at w + window - 1.
    mean = np.empty(window - 1 + chunks * _ANCHOR_EVERY)
    std = np.empty(window - 1 + chunks * _ANCHOR_EVERY)
    mean[: window - 1] = std[: window - 1] = np.nan
    first = mean[window - 1 :].reshape(chunks, _ANCHOR_EVERY)
    variance = std[window - 1 :].reshape(chunks, _ANCHOR_EVERY)
    np.cumsum(deviations, axis=1, out=sums[:, 1:])
    np.subtract(sums[:, window:], sums[:, :-window], out=first)
    first /= window
    np.multiply(deviations, deviations, out=deviations)
    np.cumsum(deviations, axis=1, out=sums[:, 1:])  # now of the squares
    np.subtract(sums[:, window:], sums[:, :-window], out=variance)
    variance /= window
    variance -= np.multiply(first, first, out=sums[:, :_ANCHOR_EVERY])
    np.maximum(variance, 0.0, out=variance)
    # A window of equal values has a variance of a few ulps of its anchor's distance at
    # most; no real window of prices moves by less than 1e-9 of its level.
    suspects = np.flatnonzero(variance <= (1e-9 * anchors) ** 2)
    suspects = suspects[suspects < count]
    np.sqrt(variance, out=variance)
    first += anchors
    mean, std = mean[:n], std[:n]
    windows = np.lib.stride_tricks.sliding_window_view(x, window)[suspects]
    flat = suspects[(windows == windows[:, :1]).all(axis=1)]
    std[window - 1 :][flat] = 0.0
    return mean, std, flat


def bollinger(close: Array, window: int, window_dev: float) -> dict[str, Array]:
    """`ta.volatility.BollingerBands`: every output; the two crossing flags are null while
    the bands are (`ta` says 0)."""
    mavg, mstd, flat = _rolling_mean_std(close, window)
    hband = mstd * window_dev
    hband += mavg
    lband = mstd * window_dev
    np.subtract(mavg, lband, out=lband)
    width = hband - lband
    warm_up = slice(0, min(window - 1, len(close)))
    with np.errstate(divide="ignore", invalid="ignore"):
        pband = close - lband
        pband /= width
        pband[flat + window - 1] = np.nan  # no band: `ta` says NaN, not 0/0
        wband = np.divide(width, mavg, out=width)
        wband *= 100
    above = np.empty(len(close))
    below = np.empty(len(close))
    np.greater(close, hband, out=above, casting="unsafe")
    np.less(close, lband, out=below, casting="unsafe")
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
    later = ranges[1:]
    gap = np.subtract(high[1:], close[:-1])
    np.abs(gap, out=gap)
    np.maximum(later, gap, out=later)
    np.subtract(low[1:], close[:-1], out=gap)
    np.abs(gap, out=gap)
    np.maximum(later, gap, out=later)
    return ranges


def atr(high: Array, low: Array, close: Array, window: int) -> Array:
    """`ta.volatility.AverageTrueRange(high, low, close, window).average_true_range()`,
    null (not 0) before the first full window."""
    if len(close) < window:
        return np.full(len(close), np.nan)
    ranges = true_range(high, low, close)
    ranges[window - 1] = ranges[:window].mean()
    out = _ewm_into(ranges[window - 1 :], 1.0 / window, window - 1)
    out[: window - 1] = np.nan
    return out
