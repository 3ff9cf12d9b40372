"""The declarative backtest strategy: entry and exit conditions → signals on each bar's close."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
import ta

from services.backtest.declarative import declarative_strategy, signals
from services.common.conditions import ConditionError
from tests.unit.conditions.series import ETH_1M, read_klines


def test_rsi_reversion_signals_are_rsi_below_and_above_its_levels_on_real_klines() -> None:
    candles = read_klines(ETH_1M)
    entries, exits = signals("rsi(14) < 30", "rsi(14) > 70", candles)
    rsi = ta.momentum.RSIIndicator(pd.Series(candles["close"]), 14).rsi().to_numpy()
    with np.errstate(invalid="ignore"):
        assert entries.tolist() == (rsi < 30).tolist()
        assert exits.tolist() == (rsi > 70).tolist()
    assert entries.any() and exits.any()
    assert entries.dtype == np.bool_ and len(entries) == len(candles["close"])


def test_strategy_reports_its_warmup_and_the_specs_to_compute_once() -> None:
    strategy = declarative_strategy(
        "close crosses_above sma(50) and rsi(14) < 60", "close crosses_below sma(50)"
    )
    assert strategy.warmup == 50
    assert strategy.specs == ("sma(50)", "rsi(14)")


@pytest.mark.parametrize(
    ("entry", "exit", "message"),
    [
        ("rsx(14) < 30", "rsi(14) > 70", "entry: unknown indicator 'rsx'"),
        (
            "rsi(14) < 30",
            "rsi(14) >",
            "exit: expected a value, found end of condition at column 10",
        ),
        (
            "price > 2680",
            "rsi(14) > 70",
            "entry: a backtest runs on candles, and price is a trade's",
        ),
        ("rsi(14) < 30", "change(1h) < -5%", "exit: a backtest runs on candles, and change(1h)"),
    ],
)
def test_bad_entry_or_exit_is_refused_naming_which_and_where(
    entry: str, exit: str, message: str
) -> None:
    with pytest.raises(ConditionError, match=re.escape(message)):
        declarative_strategy(entry, exit)
    with pytest.raises(ConditionError):
        signals(entry, exit, read_klines(ETH_1M))
