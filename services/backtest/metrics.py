"""Statistics of a simulation: returns, risk, drawdowns, trades.

Pure (numpy only). Every figure is a finite float (or an int) for every input — no trades, one
bar, flat prices, a position never closed — and the rule for each degenerate case is written
beside its definition. Ratios whose denominator is zero are 0.0 when their numerator is zero
too, and ``None`` ("no finite value": GraphQL null) otherwise, e.g. the profit factor of a
strategy that never lost.

Notation: C the initial cash; e[0..n−1] the equity at each bar's close; the per-bar returns
r[t] = e[t] / e[t−1] − 1 with e[−1] = C (so a fee paid on the first bar counts); P the bars a
year (365 days over the candle length: crypto trades every day).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from services.backtest.bars import Array, Bars
from services.backtest.engine import Simulation


@dataclass(frozen=True)
class Metrics:
    """The GraphQL ``metrics`` block (names in camelCase there).

    totalReturn e[n−1] / C − 1; trades the closed trades; entries every trade opened (one
    still open included); winRate the share of closed trades with pnl > 0; expectancy the
    mean pnl of a closed trade, in cash (fees included); averageTrade the mean return of a
    closed trade (pnl over the equity committed at its entry); exposure the share of bars
    closing with a position open. Trade figures are 0 when no trade closed.
    """

    total_return: float
    cagr: float | None
    volatility: float
    sharpe: float | None
    sortino: float | None
    calmar: float | None
    max_drawdown: float
    max_drawdown_duration: int
    win_rate: float
    profit_factor: float | None
    expectancy: float
    average_trade: float
    trades: int
    entries: int
    exposure: float
    buy_and_hold_return: float

    def as_dict(self) -> dict[str, float | int | None]:
        return asdict(self)


def compute(simulation: Simulation, bars: Bars) -> Metrics:
    """The metrics of ``simulation`` (which must carry its equity curve) over ``bars``."""
    equity = simulation.equity
    if len(equity) != len(bars):
        raise ValueError("metrics need the equity curve: simulate(..., curve=True)")
    cash = simulation.settings.cash
    periods = bars.periods_per_year
    returns = bar_returns(equity, cash)
    mean, deviation = moments(returns)
    drawdown, duration = max_drawdown(equity, cash)
    growth = cagr(simulation.final_equity / cash, len(bars), periods)
    trades = simulation.trades
    closed = trades.closed
    pnl = trades.pnl[closed]
    trade_returns = trades.returns[closed]
    return Metrics(
        total_return=simulation.final_equity / cash - 1.0,
        cagr=growth,
        volatility=deviation * math.sqrt(periods),
        sharpe=_ratio(mean * math.sqrt(periods), deviation),
        sortino=sortino(returns, mean, periods),
        calmar=None if growth is None else _ratio(growth, drawdown),
        max_drawdown=drawdown,
        max_drawdown_duration=duration,
        win_rate=float(np.count_nonzero(pnl > 0) / len(pnl)) if len(pnl) else 0.0,
        profit_factor=profit_factor(pnl),
        expectancy=float(pnl.mean()) if len(pnl) else 0.0,
        average_trade=float(trade_returns.mean()) if len(pnl) else 0.0,
        trades=len(pnl),
        entries=simulation.entries,
        exposure=simulation.bars_exposed / len(bars),
        buy_and_hold_return=buy_and_hold_return(bars.close),
    )


def bar_returns(equity: Array, cash: float) -> Array:
    """r[t] = e[t] / e[t−1] − 1, e[−1] = C; 0 where e[t−1] is 0 or less (nothing left)."""
    returns = np.empty_like(equity)
    if len(equity) == 0:
        return returns
    returns[0] = equity[0] / cash
    with np.errstate(divide="ignore", invalid="ignore"):
        np.divide(equity[1:], equity[:-1], out=returns[1:])
    returns -= 1.0
    if len(equity) > 1 and equity[:-1].min() <= 0:
        returns[1:][equity[:-1] <= 0] = 0.0
    return returns


def cagr(growth: float, bars: int, periods_per_year: float) -> float | None:
    """Compound annual growth: (e[n−1] / C)^(P / n) − 1 over n bars; −1 when everything was
    lost; None when the compounding overflows a float (a short run that gained: a 1% gain in
    one minute "annualises" past 1e300)."""
    if growth <= 0:
        return -1.0
    try:
        value = float(growth ** (periods_per_year / bars) - 1.0)
    except OverflowError:
        return None
    return value if math.isfinite(value) else None


def moments(returns: Array) -> tuple[float, float]:
    """Mean and sample standard deviation (ddof = 1) of the bar returns; both 0 for fewer
    than two bars.

    volatility = std·√P. sharpe = mean / std·√P, risk-free rate 0; with no variation it is
    0.0 if the mean is 0 too, else None."""
    if len(returns) < 2:
        return 0.0, 0.0
    mean = float(returns.mean())
    deviations = returns - mean
    return mean, float(np.sqrt(_sum_of_squares(deviations) / (len(returns) - 1)))


def sortino(returns: Array, mean: float, periods_per_year: float) -> float | None:
    """mean(r) / downside deviation·√P, the downside deviation being √mean(min(r, 0)²) over
    all bars (target 0). No losing bar: 0.0 if the mean return is 0, else None."""
    if len(returns) < 2:
        return 0.0
    downside = float(np.sqrt(_sum_of_squares(np.minimum(returns, 0.0)) / len(returns)))
    return _ratio(mean * math.sqrt(periods_per_year), downside)


def max_drawdown(equity: Array, cash: float) -> tuple[float, int]:
    """The deepest fall from a running peak, 1 − e[t] / max(C, e[0..t]) (0 when equity never
    fell), and the longest stretch, in bars, spent below an earlier peak (a stretch not
    recovered by the end counts up to the last bar)."""
    if len(equity) == 0:
        return 0.0, 0
    peak = np.maximum.accumulate(equity)
    if peak[0] < cash:
        np.maximum(peak, cash, out=peak)
    ratio = np.divide(equity, peak, out=peak)
    depth = 1.0 - float(ratio.min())
    # Bars at a peak (e ≥ peak exactly when e / peak ≥ 1: division rounds monotonically);
    # the stretches below lie between them and after the last one.
    at_peak = np.flatnonzero(ratio >= 1.0)
    bounds = np.concatenate(([-1], at_peak, [len(equity)]))
    return max(depth, 0.0), int(np.diff(bounds).max()) - 1


def profit_factor(pnl: Array) -> float | None:
    """Gross profit / gross loss of the closed trades (cash). No trade: 0.0; profits but no
    losing trade: None."""
    profit = float(pnl[pnl > 0].sum())
    loss = float(-pnl[pnl < 0].sum())
    return _ratio(profit, loss)


def buy_and_hold_return(close: Array) -> float:
    """close[n−1] / close[0] − 1, no fees (backtesting.py's "Buy & Hold Return")."""
    if len(close) == 0 or close[0] == 0:
        return 0.0
    return float(close[-1] / close[0] - 1.0)


def _sum_of_squares(values: Array) -> float:
    """Σ x² without a temporary, and without np.dot: waking BLAS threads on a busy machine
    costs more than the sum."""
    return float(np.einsum("i,i->", values, values))


def _ratio(numerator: float, denominator: float) -> float | None:
    if denominator == 0 or not math.isfinite(denominator):
        return 0.0 if numerator == 0 else None
    value = numerator / denominator
    return value if math.isfinite(value) else None
