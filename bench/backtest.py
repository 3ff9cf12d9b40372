"""Backtests: our engine beside a plain numpy reference, vectorbt and backtesting.py.

All cases run ``sma_cross`` 10/30, long-only, all-in, 0.1% fee, fills at the next open, over
the same seeded random-walk minute bars, and check that their final equities agree before a
figure counts. vectorbt and backtesting.py come from the ``compare`` extra; a missing one is
left out with a note. backtesting.py is ~100× slower: it runs a slice, and its rate is that
slice's (it is linear in bars).
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import time
import tracemalloc
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from bench.report import Result
from services.backtest import metrics
from services.backtest.bars import Bars, Indicators
from services.backtest.engine import Settings, simulate
from services.backtest.optimize import Constraint, ParamRange, grid, search
from services.backtest.strategies import get
from services.common.indicators.fast import ewm

FEE = 0.001
CASH = 10_000.0
FAST, SLOW = 10, 30
GRID = [ParamRange("fast", 5, 50, 5), ParamRange("slow", 20, 200, 20)]
REPEATS = 3


def random_walk(bars: int, seed: int = 42) -> Bars:
    """Minute-like bars whose log returns are AR(1) with φ = 0.7 (trends, so a moving-average
    cross is not ground down to nothing by 0.1% fees over ~17,000 round trips: vectorbt
    stops trading once the cash is nearly gone, which would void the agreement check)."""
    rng = np.random.default_rng(seed)
    momentum = 0.7
    shocks = rng.normal(0.0, 0.0005, bars) / (1 - momentum)
    close = 30_000 * np.exp(np.cumsum(ewm(shocks, 1 - momentum, 1)))
    open_ = np.concatenate(([30_000.0], close[:-1])) * np.exp(rng.normal(0.0, 0.0002, bars))
    return Bars.from_columns(
        np.arange(bars) * 60_000,
        open_,
        np.maximum(open_, close),
        np.minimum(open_, close),
        close,
        interval_seconds=60,
    )


def _best_of(run: Callable[[], Any], repeats: int = REPEATS) -> tuple[float, Any]:
    """The fastest of ``repeats`` runs (the machine is shared) and the last run's value."""
    best, value = float("inf"), None
    for _ in range(repeats):
        started = time.perf_counter()
        value = run()
        best = min(best, time.perf_counter() - started)
    return best, value


def _check(name: str, equity: float, expected: float) -> None:
    if abs(equity / expected - 1) > 1e-9:
        raise AssertionError(f"{name}: final equity {equity!r}, ours {expected!r}")


# --- the four engines, one run each ---------------------------------------------------------


def _ours(bars: Bars, curve: bool = True) -> tuple[float, int]:
    strategy = get("sma_cross")
    signals = strategy.signals(Indicators(bars), {"fast": FAST, "slow": SLOW})
    result = simulate(bars, *signals, Settings(cash=CASH, fee_rate=FEE), curve=curve)
    if curve:
        metrics.compute(result, bars)
    return result.final_equity, result.entries


def _numpy_reference(bars: Bars, fast: int = FAST, slow: int = SLOW) -> float:
    """What one writes by hand: cumsum SMAs, crossings, a loop over them, the final equity."""
    close = bars.close

    def sma(window: int) -> np.ndarray:
        sums = np.cumsum(np.concatenate(([0.0], close)))
        out = np.full(len(close), np.nan)
        out[window - 1 :] = (sums[window:] - sums[:-window]) / window
        return out

    f, s = sma(fast), sma(slow)
    up = np.flatnonzero((f[:-1] < s[:-1]) & (f[1:] > s[1:])) + 1
    down = np.flatnonzero((f[:-1] > s[:-1]) & (f[1:] < s[1:])) + 1
    events = sorted([(i, 1) for i in up] + [(i, -1) for i in down])
    cash, units = CASH, 0.0
    last = len(close) - 1
    for bar, kind in events:
        if bar >= last:
            break
        price = bars.open[bar + 1]
        if kind == 1 and units == 0.0:
            units, cash = cash / (price * (1 + FEE)), 0.0
        elif kind == -1 and units:
            cash, units = units * price * (1 - FEE), 0.0
    return float(cash + units * close[-1])


def _vectorbt(bars: Bars, vbt: Any) -> tuple[float, int]:
    import pandas as pd

    close = pd.Series(bars.close)
    fast, slow = vbt.MA.run(close, FAST).ma, vbt.MA.run(close, SLOW).ma
    entries = (fast.shift(1) < slow.shift(1)) & (fast > slow)
    exits = (fast.shift(1) > slow.shift(1)) & (fast < slow)
    portfolio = vbt.Portfolio.from_signals(
        close,
        entries.shift(1, fill_value=False),
        exits.shift(1, fill_value=False),
        price=pd.Series(bars.open),
        fees=FEE,
        init_cash=CASH,
    )
    return float(portfolio.final_value()), int((portfolio.orders.values["side"] == 0).sum())


def _backtesting_py(bars: Bars, backtesting: Any, fast: int = FAST, slow: int = SLOW) -> float:
    import pandas as pd
    from backtesting.lib import crossover

    frame = pd.DataFrame(
        {
            "Open": bars.open,
            "High": bars.high,
            "Low": bars.low,
            "Close": bars.close,
            "Volume": bars.volume,
        },
        index=pd.to_datetime(bars.time, unit="ms"),
    )

    def sma(values: Any, window: int) -> Any:
        return pd.Series(values).rolling(window).mean().to_numpy()

    base: Any = backtesting.Strategy

    class SmaCross(base):  # type: ignore[misc]
        def init(self) -> None:
            self.fast = self.I(sma, self.data.Close, fast)
            self.slow = self.I(sma, self.data.Close, slow)

        def next(self) -> None:
            if crossover(self.fast, self.slow) and not self.position:
                self.buy()
            elif crossover(self.slow, self.fast) and self.position:
                self.position.close()

    # Whole units only: 1e14 × the cash makes its rounding ~1e-13 (results scale with cash).
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        stats = backtesting.Backtest(frame, SmaCross, cash=CASH * 1e14, commission=FEE).run()
    return float(stats["Equity Final [$]"]) / 1e14


# --- the cases -----------------------------------------------------------------------------


def _optional(name: str) -> Any:
    if importlib.util.find_spec(name) is None:
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return __import__(name)


def _single(size: int, quick: bool) -> list[Result]:
    bars = random_walk(size)
    results = []
    seconds, (equity, entries) = _best_of(lambda: _ours(bars))
    results.append(
        Result(
            "backtest",
            f"ours: sma_cross, {size:,} bars (+ metrics)",
            size,
            seconds,
            f"{entries} entries; indicators, signals, curve, metrics",
        )
    )
    seconds, bare = _best_of(lambda: _ours(bars, curve=False))
    _check("ours, final equity only", bare[0], equity)
    results.append(
        Result(
            "backtest",
            "ours: the same, final equity only",
            size,
            seconds,
            "no equity curve, no metrics",
        )
    )
    seconds, reference = _best_of(lambda: _numpy_reference(bars))
    _check("numpy reference", reference, equity)
    results.append(
        Result(
            "backtest",
            "plain numpy reference (final equity only)",
            size,
            seconds,
            "cumsum SMAs + loop over crossings",
        )
    )
    vbt = None if quick else _optional("vectorbt")
    if vbt is None:
        results.append(
            Result(
                "backtest",
                "vectorbt",
                0,
                0.0,
                "skipped: --quick" if quick else "not installed (compare extra)",
            )
        )
    else:
        compile_started = time.perf_counter()
        _vectorbt(bars, vbt)
        compiled = time.perf_counter() - compile_started
        seconds, (vbt_equity, vbt_entries) = _best_of(lambda: _vectorbt(bars, vbt))
        _check("vectorbt", vbt_equity, equity)
        assert vbt_entries == entries, (vbt_entries, entries)
        results.append(
            Result(
                "backtest",
                "vectorbt from_signals (warm)",
                size,
                seconds,
                f"first call {compiled:.1f} s (numba)",
            )
        )
    backtesting = _optional("backtesting")
    if backtesting is None:
        results.append(Result("backtest", "backtesting.py", 0, 0.0, "not installed"))
    else:
        piece = min(size, 20_000 if quick else 100_000)
        part = bars.slice(0, piece)
        started = time.perf_counter()
        bt_equity = _backtesting_py(part, backtesting)
        seconds = time.perf_counter() - started
        _check("backtesting.py", bt_equity, _ours(part)[0])
        results.append(
            Result(
                "backtest",
                f"backtesting.py on the first {piece:,} bars",
                piece,
                seconds,
                f"rate is linear: ×{size / piece:.0f} for {size:,}",
            )
        )
    return results


def _grid(size: int, quick: bool) -> list[Result]:
    bars = random_walk(size, seed=7)
    constraint = [Constraint.parse("fast < slow")]
    pairs = [(int(p["fast"]), int(p["slow"])) for p in grid(GRID) if p["fast"] < p["slow"]]
    results = []
    seconds, table = _best_of(
        lambda: search(
            bars,
            get("sma_cross"),
            Settings(cash=CASH, fee_rate=FEE),
            grid(GRID),
            objective="sharpe",
            constraints=constraint,
        )
    )
    assert len(table.rows) == len(pairs) == 90
    results.append(
        Result(
            "backtest",
            f"ours: grid of 90 sets, {size:,} bars (+ metrics)",
            90,
            seconds,
            "each SMA computed once",
        )
    )
    by_params = {(int(r.params["fast"]), int(r.params["slow"])): r.final_equity for r in table.rows}
    seconds, equities = _best_of(lambda: [_numpy_reference(bars, f, s) for f, s in pairs])
    for pair, value in zip(pairs, equities, strict=True):
        _check(f"numpy reference {pair}", value, by_params[pair])
    results.append(
        Result("backtest", "plain numpy reference, grid", 90, seconds, "SMAs recomputed per set")
    )
    vbt = None if quick else _optional("vectorbt")
    if vbt is not None:
        seconds, equities = _best_of(lambda: _vectorbt_grid(bars, vbt, pairs), repeats=2)
        for pair, value in zip(pairs, equities, strict=True):
            _check(f"vectorbt {pair}", value, by_params[pair])
        results.append(
            Result(
                "backtest",
                "vectorbt: 90 columns in one from_signals",
                90,
                seconds,
                "MA.run over the window lists",
            )
        )
    backtesting = _optional("backtesting")
    if backtesting is not None:
        tried = pairs[:2] if quick else pairs[:3]
        started = time.perf_counter()
        for fast, slow in tried:
            _backtesting_py(bars, backtesting, fast, slow)
        results.append(
            Result(
                "backtest",
                f"backtesting.py: {len(tried)} of the sets",
                len(tried),
                time.perf_counter() - started,
                "a few sets; rate per set",
            )
        )
    return results


def _vectorbt_grid(bars: Bars, vbt: Any, pairs: list[tuple[int, int]]) -> list[float]:
    import pandas as pd

    close = pd.Series(bars.close)
    fast = vbt.MA.run(close, [f for f, _ in pairs]).ma.to_numpy()
    slow = vbt.MA.run(close, [s for _, s in pairs]).ma.to_numpy()
    entries = np.zeros_like(fast, dtype=bool)
    exits = np.zeros_like(fast, dtype=bool)
    # Decided on bar t, filled at t + 1's open: shifted down one bar.
    entries[2:] = (fast[:-2] < slow[:-2]) & (fast[1:-1] > slow[1:-1])
    exits[2:] = (fast[:-2] > slow[:-2]) & (fast[1:-1] < slow[1:-1])
    portfolio = vbt.Portfolio.from_signals(
        close,
        pd.DataFrame(entries),
        pd.DataFrame(exits),
        price=pd.Series(bars.open),
        fees=FEE,
        init_cash=CASH,
    )
    return [float(v) for v in portfolio.final_value().to_numpy()]


_COLD = """
import sys, time
started = time.perf_counter()
from services.backtest.bars import Indicators
from services.backtest.engine import Settings, simulate
from services.backtest import indicators, metrics
from services.backtest.strategies import get
from bench.backtest import random_walk
bars = random_walk(int(sys.argv[1]))
made = time.perf_counter()
result = simulate(bars, *get("sma_cross").signals(Indicators(bars), {"fast": 10, "slow": 30}),
                  Settings())
metrics.compute(result, bars)
done = time.perf_counter()
# VmHWM, not ru_maxrss: the latter keeps the high-water mark of the parent forked from.
status = open("/proc/self/status").read().split("VmHWM:")[1].split()[0]
print(done - started - (made - started), status)
"""


def _cold(size: int) -> list[Result]:
    """A fresh interpreter: imports and the first run (random-walk making excluded), and the
    process's peak resident memory (Linux's VmHWM)."""
    output = subprocess.run(
        [sys.executable, "-c", _COLD, str(size)], check=True, capture_output=True, text=True
    ).stdout.split()
    seconds, peak_kb = float(output[0]), int(output[1])
    return [
        Result(
            "backtest",
            f"cold: fresh process, imports + first run, {size:,} bars",
            size,
            seconds,
            f"process peak RSS {peak_kb / 1024:.0f} MB (data included)",
        )
    ]


def _memory(size: int) -> list[Result]:
    bars = random_walk(size)
    tracemalloc.start()
    started = time.perf_counter()
    _ours(bars)
    seconds = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    bars_mb = (
        sum(c.nbytes for c in (bars.time, bars.open, bars.high, bars.low, bars.close, bars.volume))
        / 2**20
    )
    return [
        Result(
            "backtest",
            f"peak memory of one run, {size:,} bars",
            size,
            seconds,
            f"{peak / 2**20:.0f} MB allocated at peak (tracemalloc; bars {bars_mb:.0f} MB more)",
        )
    ]


def run(quick: bool) -> list[Result]:
    single = 100_000 if quick else 1_000_000
    grid_bars = 20_000 if quick else 100_000
    # The cold start first, before this process has loaded any reference engine.
    cold = _cold(single)
    return [*_single(single, quick), *_grid(grid_bars, quick), *cold, *_memory(single)]
