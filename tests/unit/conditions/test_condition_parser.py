"""The condition language's grammar, vocabulary and classification (parse_condition)."""

from __future__ import annotations

import pytest

from services.common.conditions import ConditionError, Driver, parse_condition
from services.common.conditions.nodes import And, Comparator, Compare, Not, Or
from services.common.conditions.operands import Change, Constant, Indicator, VolumeSpike


def test_comparison_of_an_indicator_with_a_number_parses_to_one_compare() -> None:
    condition = parse_condition("rsi(14) < 30")
    tree = condition.tree
    assert isinstance(tree, Compare)
    assert tree.comparator is Comparator.LT
    assert tree.left == Indicator("rsi(14)", "rsi(14)", "rsi", 13, 1)
    assert tree.right == Constant(30.0, "30", 11)


@pytest.mark.parametrize("comparator", [c.value for c in Comparator])
def test_every_comparator_parses(comparator: str) -> None:
    tree = parse_condition(f"close {comparator} 2680").tree
    assert isinstance(tree, Compare) and tree.comparator.value == comparator


def test_and_binds_tighter_than_or_and_not_tighter_than_and() -> None:
    tree = parse_condition("close > 1 or not close > 2 and close > 3").tree
    assert isinstance(tree, Or)
    assert isinstance(tree.right, And)
    assert isinstance(tree.right.left, Not)


def test_parentheses_group_before_precedence() -> None:
    tree = parse_condition("(close > 1 or close > 2) and close > 3").tree
    assert isinstance(tree, And) and isinstance(tree.left, Or)


def test_keywords_and_names_are_read_in_any_case() -> None:
    upper = parse_condition("RSI(14) < 30 AND Close > 1")
    assert upper.tree == parse_condition("rsi(14) < 30 and close > 1").tree


@pytest.mark.parametrize(
    ("text", "value"),
    [("close > 2680", 2680.0), ("close > 2.5", 2.5), ("close > -3", -3.0), ("close > .5", 0.5)],
)
def test_numbers_are_integers_decimals_and_negatives(text: str, value: float) -> None:
    tree = parse_condition(text).tree
    assert isinstance(tree, Compare) and isinstance(tree.right, Constant)
    assert tree.right.value == value and not tree.right.percent


def test_percent_literal_is_a_ratio() -> None:
    tree = parse_condition("change(15m) < -5%").tree
    assert isinstance(tree, Compare)
    assert tree.left == Change(900_000, "change(15m)", 1)
    assert tree.right == Constant(-0.05, "-5%", 15, percent=True)


@pytest.mark.parametrize(
    ("written", "text", "spec", "output", "warmup"),
    [
        ("rsi(14)", "rsi(14)", "rsi(14)", "rsi", 13),
        ("rsi", "rsi(14)", "rsi(14)", "rsi", 13),
        ("sma(50)", "sma(50)", "sma(50)", "sma_indicator", 49),
        ("ema(20)", "ema(20)", "ema(20)", "ema_indicator", 19),
        ("atr(14)", "atr(14)", "atr(14)", "average_true_range", 13),
        ("macd(12,26,9)", "macd(12,26,9)", "macd(12,26,9)", "macd", 25),
        ("macd()", "macd(12,26,9)", "macd(12,26,9)", "macd", 25),
        ("macd_signal(12, 26, 9)", "macd_signal(12,26,9)", "macd(12,26,9)", "macd_signal", 33),
        ("macd_diff(5,10,3)", "macd_diff(5,10,3)", "macd(5,10,3)", "macd_diff", 11),
        ("bbands_upper(20,2)", "bbands_upper(20,2)", "bbands(20,2)", "bollinger_hband", 19),
        ("bbands_middle", "bbands_middle(20,2)", "bbands(20,2)", "bollinger_mavg", 19),
        ("bbands_lower(10,2.5)", "bbands_lower(10,2.5)", "bbands(10,2.5)", "bollinger_lband", 9),
    ],
)
def test_indicator_names_resolve_to_a_catalogue_spec_and_output(
    written: str, text: str, spec: str, output: str, warmup: int
) -> None:
    tree = parse_condition(f"{written} > 0").tree
    assert isinstance(tree, Compare)
    assert tree.left == Indicator(text, spec, output, warmup, 1)


def test_volume_spike_takes_a_window_and_a_count_of_20_by_default() -> None:
    tree = parse_condition("volume_spike(1m) > 3").tree
    assert isinstance(tree, Compare)
    assert tree.left == VolumeSpike(60_000, 20, "volume_spike(1m,20)", 1)
    tree = parse_condition("volume_spike(30s, 5) > 3").tree
    assert isinstance(tree, Compare)
    assert tree.left == VolumeSpike(30_000, 5, "volume_spike(30s,5)", 1)


@pytest.mark.parametrize(
    ("text", "window_ms"),
    [("30s", 30_000), ("15m", 900_000), ("1h", 3_600_000), ("1d", 86_400_000)],
)
def test_durations_in_seconds_minutes_hours_days(text: str, window_ms: int) -> None:
    assert parse_condition(f"change({text}) > 1%").lookback_ms == window_ms


@pytest.mark.parametrize(
    "text",
    [
        "price > 2680",
        "price crosses_above 2680",
        "price crosses_below 2680.5",
        "change(15m) < -5%",
        "volume_spike(1m) > 3",
        "price > 2680 and change(1h) > 2% or volume_spike(5m, 12) >= 4",
    ],
)
def test_price_change_and_volume_spike_conditions_are_driven_by_trades(text: str) -> None:
    condition = parse_condition(text)
    assert condition.driver is Driver.TRADES
    assert condition.specs == ()


@pytest.mark.parametrize(
    "text",
    [
        "close > 2680",
        "rsi(14) < 30",
        "close crosses_above sma(50)",
        "macd(12,26,9) crosses_above macd_signal(12,26,9)",
        "close > bbands_upper(20,2) and volume > 100",
    ],
)
def test_candle_fields_and_indicators_are_driven_by_closed_candles(text: str) -> None:
    assert parse_condition(text).driver is Driver.CANDLES


def test_specs_are_each_indicator_spec_once_in_order() -> None:
    condition = parse_condition(
        "macd(12,26,9) crosses_above macd_signal(12,26,9) and rsi(14) < 30 "
        "and rsi(14) > 10 and close < bbands_lower(20,2)"
    )
    assert condition.specs == ("macd(12,26,9)", "rsi(14)", "bbands(20,2)")
    assert [i.text for i in condition.indicators] == [
        "macd(12,26,9)",
        "macd_signal(12,26,9)",
        "rsi(14)",
        "bbands_lower(20,2)",
    ]


@pytest.mark.parametrize(
    ("text", "warmup"),
    [
        ("close > 1", 0),
        ("close crosses_above 1", 1),
        ("rsi(14) < 30", 13),
        ("close crosses_above sma(50)", 50),
        ("rsi(14) < 30 or macd_signal(12,26,9) > 0", 33),
        ("macd(12,26,9) crosses_above macd_signal(12,26,9)", 34),
    ],
)
def test_warmup_is_the_longest_indicator_warmup_plus_one_for_a_cross(
    text: str, warmup: int
) -> None:
    assert parse_condition(text).warmup == warmup


@pytest.mark.parametrize(
    ("text", "lookback_ms"),
    [
        ("price > 1", 0),
        ("change(15m) < -5%", 900_000),
        ("volume_spike(1m) > 3", 21 * 60_000),
        ("change(1h) > 1% or volume_spike(1m, 5) > 2", 3_600_000),
    ],
)
def test_lookback_is_the_longest_trade_window_read(text: str, lookback_ms: int) -> None:
    assert parse_condition(text).lookback_ms == lookback_ms


def test_a_valid_condition_never_raises_and_an_invalid_one_raises_condition_error() -> None:
    parse_condition("close > 1")
    with pytest.raises(ConditionError):
        parse_condition("close >")
