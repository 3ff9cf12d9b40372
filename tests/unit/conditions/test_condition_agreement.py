"""The streaming evaluator agrees exactly with the vectorised one, at every step, for random
conditions over random series (property tests).

Prices sit on a grid of whole numbers and thresholds on the same grid, so equal values (the
edge between < and <=, and a cross's "at or below before") come up often.
"""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from services.common.conditions import (
    CandleStream,
    TradeStream,
    evaluate_candles,
    evaluate_trades,
    parse_condition,
)

COMPARATORS = st.sampled_from(["<", "<=", ">", ">=", "==", "!=", "crosses_above", "crosses_below"])

CANDLE_SERIES = st.sampled_from(
    [
        "open",
        "high",
        "low",
        "close",
        "volume",
        "rsi(3)",
        "sma(2)",
        "sma(4)",
        "ema(3)",
        "atr(2)",
        "macd(2,4,2)",
        "macd_signal(2,4,2)",
        "macd_diff(2,4,2)",
        "bbands_upper(3,1.5)",
        "bbands_middle(3,2)",
        "bbands_lower(3,2)",
    ]
)
PRICE_LEVELS = st.integers(96, 104).map(str)
CANDLE_CONSTANTS = st.one_of(PRICE_LEVELS, st.sampled_from(["0", "2", "30", "50", "70", "-0.5"]))


@st.composite
def candle_comparisons(draw: st.DrawFn) -> str:
    left = draw(CANDLE_SERIES)
    right = draw(st.one_of(CANDLE_SERIES, CANDLE_CONSTANTS))
    if draw(st.booleans()):
        left, right = right, left
    return f"{left} {draw(COMPARATORS)} {right}"


@st.composite
def trade_comparisons(draw: st.DrawFn) -> str:
    kind = draw(st.sampled_from(["price", "change", "volume_spike"]))
    if kind == "price":
        left, right = "price", draw(PRICE_LEVELS)
    elif kind == "change":
        left = f"change({draw(st.sampled_from(['1s', '2s', '3s']))})"
        right = draw(st.sampled_from(["-2%", "-1%", "0", "0%", "1%", "0.01"]))
    else:
        left = f"volume_spike({draw(st.sampled_from(['1s', '2s']))}, {draw(st.integers(1, 3))})"
        right = draw(st.sampled_from(["0.5", "1", "2", "3"]))
    if draw(st.booleans()):
        left, right = right, left
    return f"{left} {draw(COMPARATORS)} {right}"


def conditions(comparison: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.recursive(
        comparison,
        lambda inner: st.one_of(
            st.tuples(inner, inner).map(lambda pair: f"({pair[0]}) and ({pair[1]})"),
            st.tuples(inner, inner).map(lambda pair: f"({pair[0]}) or ({pair[1]})"),
            inner.map(lambda text: f"not ({text})"),
        ),
        max_leaves=4,
    )


@st.composite
def candle_series(draw: st.DrawFn) -> dict[str, np.ndarray]:
    closes = draw(st.lists(st.integers(96, 104), min_size=1, max_size=30))
    opens = [closes[0], *closes[:-1]]
    highs = [max(o, c) + draw(st.integers(0, 2)) for o, c in zip(opens, closes, strict=True)]
    lows = [min(o, c) - draw(st.integers(0, 2)) for o, c in zip(opens, closes, strict=True)]
    volumes = draw(st.lists(st.integers(0, 3), min_size=len(closes), max_size=len(closes)))
    columns = (opens, highs, lows, closes, volumes)
    names = ("open", "high", "low", "close", "volume")
    return {name: np.array(values, np.float64) for name, values in zip(names, columns, strict=True)}


@st.composite
def trade_series(draw: st.DrawFn) -> tuple[list[int], list[float], list[float]]:
    length = draw(st.integers(1, 60))
    steps = draw(
        st.lists(
            st.sampled_from([0, 0, 1, 250, 500, 999, 1000, 1500]), min_size=length, max_size=length
        )
    )
    times = np.cumsum(steps).tolist()
    prices = [
        float(p) for p in draw(st.lists(st.integers(97, 103), min_size=length, max_size=length))
    ]
    qty = draw(
        st.lists(st.sampled_from([0.0, 0.1, 0.5, 1.0, 2.25]), min_size=length, max_size=length)
    )
    return times, prices, qty


@settings(max_examples=150, deadline=None)
@given(text=conditions(trade_comparisons()), trades=trade_series())
def test_trade_stream_agrees_with_vectorised_at_every_trade(
    text: str, trades: tuple[list[int], list[float], list[float]]
) -> None:
    condition = parse_condition(text)
    times, prices, qty = trades
    vectorised = evaluate_trades(condition, times, prices, qty).tolist()
    stream = TradeStream(condition)
    streamed = [stream.on_trade(t, p, q) for t, p, q in zip(times, prices, qty, strict=True)]
    assert streamed == vectorised


@settings(max_examples=60, deadline=None)
@given(text=conditions(candle_comparisons()), candles=candle_series())
def test_candle_stream_agrees_with_vectorised_at_every_candle(
    text: str, candles: dict[str, np.ndarray]
) -> None:
    condition = parse_condition(text)
    vectorised = evaluate_candles(condition, candles).tolist()
    stream = CandleStream(condition)
    fields = ("open", "high", "low", "close", "volume")
    streamed = [
        stream.on_candle(*(float(candles[name][i]) for name in fields))
        for i in range(len(candles["close"]))
    ]
    assert streamed == vectorised


@settings(max_examples=100, deadline=None)
@given(
    closes=st.lists(st.integers(96, 104), min_size=1, max_size=40),
    level=st.integers(96, 104),
)
def test_crosses_above_is_above_now_and_at_or_below_before(closes: list[int], level: int) -> None:
    candles = {name: np.array(closes, np.float64) for name in ("open", "high", "low", "close")}
    found = evaluate_candles(parse_condition(f"close crosses_above {level}"), candles).tolist()
    expected = [i > 0 and closes[i] > level >= closes[i - 1] for i in range(len(closes))]
    assert found == expected
