"""Conditions on real Binance klines and trades fire exactly where a direct computation says."""

from __future__ import annotations

import bisect

import numpy as np
import pandas as pd
import pytest
import ta

from services.common.conditions import (
    CandleStream,
    TradeStream,
    evaluate_candles,
    evaluate_trades,
    parse_condition,
)
from services.common.conditions.vectorised import volume_spike
from tests.unit.conditions.series import BTC_USDM_1M, ETH_1M, read_klines, read_trades

FIELDS = ("open", "high", "low", "close", "volume")


def test_close_crossing_above_its_sma_on_real_klines_is_where_pandas_finds_it() -> None:
    candles = read_klines(ETH_1M)
    close = candles["close"]
    sma = pd.Series(close).rolling(20).mean().to_numpy()
    expected = [
        i
        for i in range(1, len(close))
        if not np.isnan(sma[i - 1]) and close[i] > sma[i] and close[i - 1] <= sma[i - 1]
    ]
    found = evaluate_candles(parse_condition("close crosses_above sma(20)"), candles)
    assert np.flatnonzero(found).tolist() == expected
    assert len(expected) > 20


def test_macd_crossing_its_signal_on_real_klines_is_where_ta_finds_it() -> None:
    candles = read_klines(BTC_USDM_1M)
    macd = ta.trend.MACD(pd.Series(candles["close"]), 26, 12, 9)
    line, signal = macd.macd().to_numpy(), macd.macd_signal().to_numpy()
    expected = [
        i
        for i in range(1, len(line))
        if not np.isnan(signal[i - 1]) and line[i] > signal[i] and line[i - 1] <= signal[i - 1]
    ]
    condition = parse_condition("macd(12,26,9) crosses_above macd_signal(12,26,9)")
    assert np.flatnonzero(evaluate_candles(condition, candles)).tolist() == expected
    assert len(expected) > 20


def test_rsi_and_bollinger_condition_streams_as_it_evaluates_over_a_real_day() -> None:
    candles = read_klines(ETH_1M)
    condition = parse_condition("rsi(14) < 30 or close crosses_below bbands_lower(20,2)")
    vectorised = evaluate_candles(condition, candles)
    stream = CandleStream(condition)
    streamed = [
        stream.on_candle(*(float(candles[name][i]) for name in FIELDS))
        for i in range(len(candles["close"]))
    ]
    assert streamed == vectorised.tolist()
    rsi = ta.momentum.RSIIndicator(pd.Series(candles["close"]), 14).rsi().to_numpy()
    assert set(np.flatnonzero(rsi < 30)) <= set(np.flatnonzero(vectorised))
    assert vectorised.sum() > len(np.flatnonzero(rsi < 30)) > 0


@pytest.fixture(scope="module")
def trades() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    captured = read_trades()
    return captured.time_ms, captured.price, captured.qty


def test_price_crossing_above_a_level_on_a_real_capture_fires_at_each_crossing_trade(
    trades: tuple[np.ndarray, np.ndarray, np.ndarray],
) -> None:
    times, prices, qty = trades
    level = 61_700.0
    expected = [i for i in range(1, len(prices)) if prices[i] > level >= prices[i - 1]]
    condition = parse_condition("price crosses_above 61700")
    vectorised = evaluate_trades(condition, times, prices, qty)
    stream = TradeStream(condition)
    streamed = [
        stream.on_trade(int(t), float(p), float(q)) for t, p, q in zip(*trades, strict=True)
    ]
    assert np.flatnonzero(vectorised).tolist() == expected
    assert streamed == vectorised.tolist()
    assert len(expected) >= 3


def test_change_over_a_minute_on_a_real_capture_matches_a_direct_search(
    trades: tuple[np.ndarray, np.ndarray, np.ndarray],
) -> None:
    times, prices, qty = trades
    listed = times.tolist()
    expected = []
    for i, t in enumerate(listed):
        j = bisect.bisect_right(listed, t - 60_000) - 1
        if j >= 0 and prices[i] / prices[j] - 1 < -0.0005:
            expected.append(i)
    condition = parse_condition("change(1m) < -0.05%")
    vectorised = evaluate_trades(condition, times, prices, qty)
    stream = TradeStream(condition)
    streamed = [
        stream.on_trade(int(t), float(p), float(q)) for t, p, q in zip(*trades, strict=True)
    ]
    assert np.flatnonzero(vectorised).tolist() == expected
    assert streamed == vectorised.tolist()
    assert len(expected) > 100


def test_volume_spike_on_a_real_capture_matches_sums_over_its_windows(
    trades: tuple[np.ndarray, np.ndarray, np.ndarray],
) -> None:
    times, _prices, qty = trades
    values = volume_spike(times, np.cumsum(qty), 10_000, 5)
    listed = times.tolist()
    first = listed[0]
    for i in range(0, len(listed), 37):
        t = listed[i]
        recent = qty[bisect.bisect_right(listed, t - 10_000) : i + 1].sum()
        base_trades = qty[
            bisect.bisect_right(listed, t - 60_000) : bisect.bisect_right(listed, t - 10_000)
        ]
        if first > t - 60_000 or base_trades.sum() == 0:
            assert np.isnan(values[i])
        else:
            assert values[i] == pytest.approx(recent / (base_trades.sum() / 5), rel=1e-9)
    assert np.count_nonzero(~np.isnan(values)) > 5_000
