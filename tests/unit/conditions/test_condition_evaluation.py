"""What conditions evaluate to, on small series computed by hand: vectorised and streaming."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pytest

from services.common.conditions import (
    Candles,
    CandleStream,
    TradeStream,
    evaluate_candles,
    evaluate_trades,
    parse_condition,
)
from services.common.conditions.indicators import Array, indicator_columns
from services.common.conditions.vectorised import change, volume_spike

T, F = True, False


def candles_of(close: Sequence[float]) -> Candles:
    values = np.array(close, dtype=np.float64)
    return {
        "open": values,
        "high": values + 1,
        "low": values - 1,
        "close": values,
        "volume": np.ones(len(values)),
    }


def streamed_candles(text: str, candles: Candles) -> list[bool]:
    stream = CandleStream(parse_condition(text))
    return [
        stream.on_candle(
            *(float(candles[name][i]) for name in ("open", "high", "low", "close", "volume"))
        )
        for i in range(len(candles["close"]))
    ]


def both(text: str, close: Sequence[float]) -> list[bool]:
    """The vectorised result, after checking the streaming one is the same."""
    candles = candles_of(close)
    vectorised: list[bool] = evaluate_candles(parse_condition(text), candles).tolist()
    assert streamed_candles(text, candles) == vectorised
    return vectorised


def test_crosses_above_holds_where_above_after_at_or_below_and_never_first() -> None:
    close = [3, 1, 3, 2, 3, 3, 1, 4]
    assert both("close crosses_above 2", close) == [F, F, T, F, T, F, F, T]


def test_crosses_below_holds_where_below_after_at_or_above() -> None:
    close = [1, 3, 1, 2, 1, 1, 3, 0]
    assert both("close crosses_below 2", close) == [F, F, T, F, T, F, F, T]


def test_crosses_between_two_series_compare_both_previous_values() -> None:
    # sma(2): nan, 2, 2, 3, 4.5 ; close crosses above it at index 3 (4 > 3, 2 <= 2).
    assert both("close crosses_above sma(2)", [2, 2, 2, 4, 5]) == [F, F, F, T, F]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("close < 2", [T, F, F]),
        ("close <= 2", [T, T, F]),
        ("close > 2", [F, F, T]),
        ("close >= 2", [F, T, T]),
        ("close == 2", [F, T, F]),
        ("close != 2", [T, F, T]),
        ("2 > close", [T, F, F]),
        ("high > close and low < close", [T, T, T]),
    ],
)
def test_comparisons(text: str, expected: list[bool]) -> None:
    assert both(text, [1, 2, 3]) == expected


def test_an_unknown_comparison_does_not_hold_even_negated() -> None:
    # sma(3) is undefined on the first two candles: neither it nor its negation holds there.
    assert both("sma(3) > 0", [1, 1, 1, 1]) == [F, F, T, T]
    assert both("not sma(3) > 0", [1, 1, 1, 1]) == [F, F, F, F]
    assert both("not close crosses_above 0", [1, 1]) == [F, T]


def test_false_and_unknown_is_false_and_true_or_unknown_is_true() -> None:
    assert both("not (close > 0 and sma(3) > 0)", [1, -1, 1, 1]) == [F, T, F, F]
    assert both("close > 0 or sma(3) > 100", [1, -1, 1, 1]) == [T, F, T, T]
    assert both("close > 5 or sma(3) > 100", [1, 1, 1, 1]) == [F, F, F, F]


def test_change_is_the_ratio_to_the_last_trade_at_least_the_window_before() -> None:
    times = np.array([0, 500, 1000, 1000, 1600, 2500], np.int64)
    prices = np.array([100, 101, 102, 103, 99, 98], np.float64)
    values = change(times, prices, 1000)
    assert np.isnan(values[:2]).all()
    assert values[2:].tolist() == [102 / 100 - 1, 103 / 100 - 1, 99 / 101 - 1, 98 / 103 - 1]


def test_change_condition_with_a_percent_on_trades() -> None:
    times = [0, 500, 1000, 1000, 1600, 2500]
    prices = [100, 101, 102, 103, 99, 98]
    assert both_trades("change(1s) > 2.5%", times, prices, [1] * 6) == [F, F, F, T, F, F]
    assert both_trades("change(1s) < -4%", times, prices, [1] * 6) == [F, F, F, F, F, T]


def test_volume_spike_is_the_last_window_over_the_mean_window_before() -> None:
    times = np.array([0, 1000, 2000, 3000, 3000], np.int64)
    quantities = np.array([1, 2, 4, 3, 9], np.float64)
    values = volume_spike(times, np.cumsum(quantities), 1000, 2)
    # At 3000: (2000, 3000] traded 3, then 12; (0, 2000] traded 6, i.e. 3 a window.
    assert np.isnan(values[:3]).all()
    assert values[3:].tolist() == [1.0, 4.0]
    prices = [1.0] * 5
    assert both_trades("volume_spike(1s, 2) > 2", times.tolist(), prices, quantities.tolist()) == [
        F,
        F,
        F,
        F,
        T,
    ]


def test_volume_spike_is_unknown_when_the_windows_before_traded_nothing() -> None:
    times = np.array([0, 2500, 3000], np.int64)
    values = volume_spike(times, np.cumsum([0.0, 0.0, 5.0]), 1000, 2)
    assert np.isnan(values).all()


def test_price_crosses_above_on_trades_with_equal_times() -> None:
    times = [0, 0, 0, 5, 5]
    prices = [2680, 2681, 2680, 2680.5, 2679]
    assert both_trades("price crosses_above 2680", times, prices, [1] * 5) == [F, T, F, T, F]


def both_trades(
    text: str, times: list[int], prices: Sequence[float], qty: Sequence[float]
) -> list[bool]:
    condition = parse_condition(text)
    vectorised: list[bool] = evaluate_trades(condition, times, prices, qty).tolist()
    stream = TradeStream(condition)
    streamed = [stream.on_trade(t, p, q) for t, p, q in zip(times, prices, qty, strict=True)]
    assert streamed == vectorised
    return vectorised


def test_trade_condition_refuses_candles_and_candle_condition_refuses_trades() -> None:
    with pytest.raises(ValueError, match="evaluated on trades, not candles"):
        evaluate_candles(parse_condition("price > 1"), candles_of([1.0]))
    with pytest.raises(ValueError, match="evaluated on candles, not trades"):
        evaluate_trades(parse_condition("close > 1"), [0], [1.0], [1.0])
    with pytest.raises(ValueError, match="evaluated on candles"):
        TradeStream(parse_condition("rsi(14) > 1"))
    with pytest.raises(ValueError, match="evaluated on trades"):
        CandleStream(parse_condition("change(1m) > 1%"))


def test_trades_out_of_time_order_are_refused() -> None:
    condition = parse_condition("price > 1")
    with pytest.raises(ValueError, match="never decrease"):
        evaluate_trades(condition, [5, 4], [1.0, 1.0], [1.0, 1.0])
    stream = TradeStream(condition)
    stream.on_trade(5, 1.0, 1.0)
    with pytest.raises(ValueError, match="before the last one"):
        stream.on_trade(4, 1.0, 1.0)


def test_indicator_values_before_their_warmup_are_undefined_whatever_compute_says() -> None:
    # `ta`'s ATR says 0 during its warm-up; the condition language says undefined.
    candles = candles_of([10, 11, 12, 13, 12, 11])
    columns = indicator_columns(parse_condition("atr(3) >= 0"), candles)
    assert np.isnan(columns["atr(3)"][:2]).all()
    assert not np.isnan(columns["atr(3)"][2:]).any()
    assert both("atr(3) >= 0", [10, 11, 12, 13, 12, 11]) == [F, F, T, T, T, T]


def test_injected_compute_is_called_once_per_spec_and_its_outputs_are_read() -> None:
    calls: list[str] = []

    def compute(spec: str, candles: Mapping[str, Array]) -> dict[str, Array]:
        calls.append(spec)
        length = len(candles["close"])
        return {"macd": np.arange(length, dtype=float), "macd_signal": np.full(length, 30.5)}

    condition = parse_condition("macd(2,4,2) > macd_signal(2,4,2)")
    result = evaluate_candles(condition, candles_of([1.0] * 40), compute=compute)
    assert calls == ["macd(2,4,2)"]
    # macd's warm-up is 3 candles, the signal's 4; then macd (the index) > 30.5 from 31 on.
    assert np.flatnonzero(result).tolist() == list(range(31, 40))


def test_precomputed_columns_are_used_instead_of_compute() -> None:
    def compute(spec: str, candles: Mapping[str, Array]) -> dict[str, Array]:
        raise AssertionError(f"computed {spec}")

    given = {("rsi(2)", "rsi"): np.array([50.0, 20.0, 40.0, 10.0])}
    condition = parse_condition("rsi(2) < 30")
    result = evaluate_candles(
        condition, candles_of([1, 2, 3, 4]), compute=compute, precomputed=given
    )
    assert result.tolist() == [F, T, F, T]


def test_precomputed_column_of_the_wrong_length_is_refused() -> None:
    given = {("rsi(2)", "rsi"): np.array([50.0])}
    with pytest.raises(ValueError, match="rsi\\(2\\): 1 values for 4 candles"):
        evaluate_candles(
            parse_condition("rsi(2) < 30"), candles_of([1, 2, 3, 4]), precomputed=given
        )


def test_candle_stream_with_bounded_history_keeps_that_many_candles() -> None:
    # sma(3) needs 3 candles: a stream keeping 2 never has its value, one keeping 3 does.
    for history, expected in ((2, [F, F, F, F]), (3, [F, F, T, T])):
        stream = CandleStream(parse_condition("sma(3) > 0"), history=history)
        assert [stream.on_candle(c, c, c, c, 1.0) for c in (1.0, 3.0, 1.0, 5.0)] == expected
    with pytest.raises(ValueError, match="at least 1 candle"):
        CandleStream(parse_condition("sma(2) > 2"), history=0)


def test_indicator_over_fewer_candles_than_its_window_is_undefined_everywhere() -> None:
    assert both("macd(12,26,9) > -1000", [1, 2, 3]) == [F, F, F]
