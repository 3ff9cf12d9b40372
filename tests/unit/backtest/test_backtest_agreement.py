"""Final equity agrees with backtesting.py and vectorbt to 1e-9 relative, with the same number
of entries, on real Binance klines and seeded random walks, for both fill rules.

The references compute their own indicators (``ta`` over pandas) and their own crossings
(``backtesting.lib.crossover``; shifted pandas comparisons for vectorbt), so indicators,
signals and the simulation are all checked, not the engine alone.

backtesting.py trades whole units: it gets 1e14 times the cash (our result scales linearly
with cash), which makes its rounding down to a unit ~1e-13 relative. It never fills an order
placed on the last bar; under ``fill=CLOSE`` ours fills a last-bar signal at that close, so
backtesting.py gets one more bar, a copy of the last close, to fill it on. vectorbt (heavy:
~2.5 min to install) is in the ``compare`` extra only: its tests skip when it is absent.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from services.backtest.bars import Bars, Indicators
from services.backtest.engine import Direction, Fill, Settings, simulate
from services.backtest.strategies import get
from tests.unit.backtest.market import REAL_KLINES, random_walk, real_bars

pd = pytest.importorskip("pandas", reason="pandas comes with the test extra (backtesting)")
ta = pytest.importorskip("ta", reason="install the test extra: pip install -e '.[test]'")

FEE = 0.001
CASH = 10_000.0
BT_CASH_SCALE = 1e14
TOLERANCE = 1e-9

# name, params, and the reference: (close, high, low) pandas Series -> {name: indicator}
# plus the entry and exit as (a, b) pairs of those names (or numbers): "a crosses above b".
Reference = Callable[[Any, Any, Any], dict[str, Any]]
CASES: dict[str, tuple[dict[str, float], Reference, tuple[str, str], tuple[str, str]]] = {
    "sma_cross": (
        {"fast": 10, "slow": 30},
        lambda c, hi, lo: {
            "fast": ta.trend.sma_indicator(c, 10),
            "slow": ta.trend.sma_indicator(c, 30),
        },
        ("fast", "slow"),
        ("slow", "fast"),
    ),
    "ema_cross": (
        {"fast": 12, "slow": 26},
        lambda c, hi, lo: {
            "fast": ta.trend.ema_indicator(c, 12),
            "slow": ta.trend.ema_indicator(c, 26),
        },
        ("fast", "slow"),
        ("slow", "fast"),
    ),
    "rsi_reversion": (
        {"period": 14, "lower": 30, "upper": 70},
        lambda c, hi, lo: {"rsi": ta.momentum.rsi(c, 14), "lower": 30.0, "upper": 70.0},
        ("rsi", "lower"),
        ("upper", "rsi"),
    ),
    "macd_cross": (
        {"fast": 12, "slow": 26, "signal": 9},
        lambda c, hi, lo: {
            "macd": ta.trend.macd(c, 26, 12),
            "signal": ta.trend.macd_signal(c, 26, 12, 9),
        },
        ("macd", "signal"),
        ("signal", "macd"),
    ),
    "bollinger_reversion": (
        {"period": 20, "std": 2.0},
        lambda c, hi, lo: {
            "close": c,
            "lower": ta.volatility.bollinger_lband(c, 20, 2),
            "middle": ta.volatility.bollinger_mavg(c, 20),
        },
        ("lower", "close"),
        ("close", "middle"),
    ),
    "bollinger_breakout": (
        {"period": 20, "std": 2.0},
        lambda c, hi, lo: {
            "close": c,
            "upper": ta.volatility.bollinger_hband(c, 20, 2),
            "middle": ta.volatility.bollinger_mavg(c, 20),
        },
        ("close", "upper"),
        ("middle", "close"),
    ),
    "donchian_breakout": (
        {"entry_period": 20, "exit_period": 10},
        lambda c, hi, lo: {
            "close": c,
            "upper": ta.volatility.donchian_channel_hband(hi, lo, c, 20).shift(1),
            "lower": ta.volatility.donchian_channel_lband(hi, lo, c, 10).shift(1),
        },
        ("close", "upper"),
        ("lower", "close"),
    ),
}

DATASETS = [*REAL_KLINES, "random-walk-seed-1", "random-walk-seed-2"]


def _bars(dataset: str) -> Bars:
    if dataset.startswith("random-walk"):
        return random_walk(5_000, int(dataset.rsplit("-", 1)[1]))
    return real_bars(dataset)


def _ours(bars: Bars, strategy: str, fill: Fill) -> tuple[float, int]:
    params = CASES[strategy][0]
    signals = get(strategy).signals(Indicators(bars), params)
    result = simulate(bars, *signals, Settings(cash=CASH, fee_rate=FEE, fill=fill))
    return result.final_equity, result.entries


def _frame(bars: Bars) -> Any:
    index = pd.to_datetime(bars.time, unit="ms")
    return pd.DataFrame(
        {
            "Open": bars.open,
            "High": bars.high,
            "Low": bars.low,
            "Close": bars.close,
            "Volume": bars.volume,
        },
        index=index,
    )


def _backtesting_py(bars: Bars, strategy: str, fill: Fill) -> tuple[float, int]:
    backtesting = pytest.importorskip("backtesting")
    from backtesting.lib import crossover

    frame = _frame(bars)
    if fill is Fill.CLOSE:
        # One more bar, flat at the last close, for an order placed on the last bar to fill.
        extra = frame.iloc[[-1]].copy()
        extra.index = extra.index + (frame.index[-1] - frame.index[-2])
        last = float(frame["Close"].iloc[-1])
        extra[["Open", "High", "Low", "Close"]] = last
        frame = pd.concat([frame, extra])
    _, reference, entry_pair, exit_pair = CASES[strategy]

    base: Any = backtesting.Strategy

    class Reference(base):  # type: ignore[misc]
        entered = 0

        def init(self) -> None:
            c, hi, lo = (
                pd.Series(self.data[k], index=self.data.index) for k in ("Close", "High", "Low")
            )
            # Attributes, not a dict: backtesting.py slices the indicators it finds there.
            for name, values in reference(c, hi, lo).items():
                setattr(
                    self,
                    f"line_{name}",
                    values
                    if isinstance(values, float)
                    else self.I(lambda v=values: np.asarray(v), name=name),
                )
            self.was_long = False

        def next(self) -> None:
            if self.position.size > 0 and not self.was_long:
                type(self).entered += 1
            self.was_long = self.position.size > 0
            entry = crossover(*(getattr(self, f"line_{name}") for name in entry_pair))
            exit_ = crossover(*(getattr(self, f"line_{name}") for name in exit_pair))
            if entry and not exit_ and not self.position:
                self.buy()
            elif exit_ and not entry and self.position:
                self.position.close()

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        test = backtesting.Backtest(
            frame,
            Reference,
            cash=CASH * BT_CASH_SCALE,
            commission=FEE,
            trade_on_close=fill is Fill.CLOSE,
        )
        stats = test.run()
    return float(stats["Equity Final [$]"]) / BT_CASH_SCALE, Reference.entered


def _cross(lines: dict[str, Any], pair: tuple[str, str]) -> Any:
    a, b = (lines[name] for name in pair)
    a_before, b_before = (x if isinstance(x, float) else x.shift(1) for x in (a, b))
    return np.asarray((a_before < b_before) & (a > b))


def _vectorbt(bars: Bars, strategy: str, fill: Fill) -> tuple[float, int]:
    vbt = pytest.importorskip(
        "vectorbt", reason="vectorbt is in the compare extra only (pip install -e '.[compare]')"
    )
    _, reference, entry_pair, exit_pair = CASES[strategy]
    close = pd.Series(bars.close)
    lines = reference(close, pd.Series(bars.high), pd.Series(bars.low))
    entries, exits = _cross(lines, entry_pair), _cross(lines, exit_pair)
    price = bars.close
    if fill is Fill.NEXT_OPEN:
        entries, exits = np.roll(entries, 1), np.roll(exits, 1)
        entries[0] = exits[0] = False
        price = bars.open
    portfolio = vbt.Portfolio.from_signals(
        close, entries, exits, price=pd.Series(price), fees=FEE, init_cash=CASH
    )
    buys = int((portfolio.orders.values["side"] == 0).sum())
    return float(portfolio.final_value()), buys


@pytest.mark.parametrize("fill", list(Fill))
@pytest.mark.parametrize("strategy", list(CASES))
@pytest.mark.parametrize("dataset", DATASETS)
def test_final_equity_and_entries_agree_with_backtesting_py(
    dataset: str, strategy: str, fill: Fill
) -> None:
    bars = _bars(dataset)
    equity, entries = _ours(bars, strategy, fill)
    reference_equity, reference_entries = _backtesting_py(bars, strategy, fill)
    assert entries == reference_entries
    assert entries > 0, "a comparison without trades would prove nothing"
    assert equity == pytest.approx(reference_equity, rel=TOLERANCE, abs=0)


@pytest.mark.parametrize("fill", list(Fill))
@pytest.mark.parametrize("strategy", list(CASES))
@pytest.mark.parametrize("dataset", DATASETS)
def test_final_equity_and_entries_agree_with_vectorbt(
    dataset: str, strategy: str, fill: Fill
) -> None:
    bars = _bars(dataset)
    equity, entries = _ours(bars, strategy, fill)
    reference_equity, reference_entries = _vectorbt(bars, strategy, fill)
    assert entries == reference_entries
    assert entries > 0, "a comparison without trades would prove nothing"
    assert equity == pytest.approx(reference_equity, rel=TOLERANCE, abs=0)


VARIANTS: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    # our Settings fields, vectorbt's from_signals arguments
    "slippage 5 bps": ({"slippage_bps": 5.0}, {"slippage": 5e-4}),
    "half the equity": ({"position_size": 0.5}, {"size": 0.5, "size_type": "percent"}),
    "long and short": ({"direction": Direction.LONG_SHORT}, {"direction": "both"}),
    "long and short, slippage": (
        {"direction": Direction.LONG_SHORT, "slippage_bps": 5.0},
        {"direction": "both", "slippage": 5e-4},
    ),
}


@pytest.mark.parametrize("fill", list(Fill))
@pytest.mark.parametrize("variant", list(VARIANTS))
@pytest.mark.parametrize("dataset", ["BTCUSDT-5m-2022-04", "random-walk-seed-1"])
def test_slippage_position_size_and_long_short_agree_with_vectorbt(
    dataset: str, variant: str, fill: Fill
) -> None:
    vbt = pytest.importorskip(
        "vectorbt", reason="vectorbt is in the compare extra only (pip install -e '.[compare]')"
    )
    ours, theirs = VARIANTS[variant]
    bars = _bars(dataset)
    entries, exits = get("sma_cross").signals(Indicators(bars), CASES["sma_cross"][0])
    result = simulate(bars, entries, exits, Settings(cash=CASH, fee_rate=FEE, fill=fill, **ours))
    price = bars.close
    if fill is Fill.NEXT_OPEN:
        entries, exits = np.roll(entries, 1), np.roll(exits, 1)
        entries[0] = exits[0] = False
        price = bars.open
    portfolio = vbt.Portfolio.from_signals(
        pd.Series(bars.close),
        entries,
        exits,
        price=pd.Series(price),
        fees=FEE,
        init_cash=CASH,
        **theirs,
    )
    assert result.final_equity == pytest.approx(float(portfolio.final_value()), rel=TOLERANCE)
    np.testing.assert_allclose(result.equity, portfolio.value().to_numpy(), rtol=TOLERANCE)
