"""Bad conditions are refused with ConditionError naming the problem and its column."""

from __future__ import annotations

import pytest

from services.common.conditions import ConditionError, parse_condition
from services.common.errors import InvalidArgument

# (condition, column, words the message must contain)
BAD: list[tuple[str, int, tuple[str, ...]]] = [
    # syntax
    ("", 1, ("empty",)),
    ("   ", 1, ("empty",)),
    ("rsi(14) <", 10, ("expected a value", "end of condition")),
    ("close crosses_above", 20, ("expected a value",)),
    ("not", 4, ("expected a value",)),
    ("and close > 3", 1, ("expected a value", "'and'")),
    ("rsi(14) > 30 or", 16, ("expected a value",)),
    ("close and 3", 7, ("expected a comparison", "after close", "'and'")),
    ("close", 6, ("expected a comparison", "end of condition")),
    ("rsi(14) < 30 < 40", 14, ("expected 'and', 'or'", "'<'")),
    ("close > 1 close > 2", 11, ("expected 'and', 'or'", "'close'")),
    ("(rsi < 30", 10, ("expected ')'", "column 1")),
    ("((close > 1) or close > 2", 26, ("expected ')'", "column 1")),
    ("rsi < 30)", 9, ("unmatched ')'",)),
    ("()", 2, ("expected a value", "')'")),
    ("close >> 1", 8, ("expected a value", "'>'")),
    ("close > 1 ; drop table", 11, ("unexpected character ';'",)),
    ("close > 1 && close < 2", 11, ("'&&'", "write 'and'")),
    ("close > 1 || close < 2", 11, ("'||'", "write 'or'")),
    ("!(close > 1)", 1, ("'!'", "write 'not'")),
    ("price = 3", 7, ("'='", "write '=='")),
    ("close > 1e5", 9, ("'1e5'", "neither a number nor a duration")),
    ("5min > 3", 1, ("'5min'",)),
    ("15m > 3", 1, ("duration", "only a parameter")),
    ("close > 0m", 9, ("duration 0m",)),
    ("change(1.5m) > 1%", 8, ("duration 1.5m", "whole")),
    ("rsi(14,) < 1", 8, ("number or a duration", "')'")),
    ("rsi(14 < 3", 8, ("expected ',' or ')'", "column 4")),
    ("close > sma(50", 15, ("expected ',' or ')'", "column 12", "end of condition")),
    ("close > sma(close)", 13, ("number or a duration", "'close'")),
    ("not " * 40 + "close > 1", 129, ("deeper than 32",)),
    ("close > " + "1" * 3000, 2001, ("longer than 2000",)),
    # names
    ("rsx(14) < 30", 1, ("unknown indicator 'rsx'", "rsi")),
    ("close > smaa(5)", 9, ("unknown indicator 'smaa'",)),
    ("foo > 1", 1, ("unknown name 'foo'", "price", "close")),
    ("close > 1 and bar < 2", 15, ("unknown name 'bar'",)),
    ("price(3) > 1", 1, ("price takes no parameters",)),
    # parameters
    ("sma < 3", 1, ("sma needs its window",)),
    ("ema() > close", 1, ("ema needs its window",)),
    ("rsi(0) < 30", 5, ("rsi's window", "at least 1", "not 0")),
    ("rsi(-3) < 30", 5, ("rsi's window", "-3")),
    ("rsi(14.5) < 30", 5, ("whole number", "14.5")),
    ("rsi(14, 3) < 30", 9, ("rsi takes at most 1 parameters", "not 2")),
    ("rsi(15m) < 30", 5, ("rsi's window is a number", "'15m'")),
    ("macd(26,12) > 0", 1, ("fast window 26 must be below its slow 12",)),
    ("macd(12,26,9,4) > 0", 14, ("at most 3 parameters",)),
    ("bbands_upper(20,0) < close", 17, ("deviations is a positive number", "not 0")),
    ("bbands_lower(0,2) < close", 14, ("window", "not 0")),
    ("change(15) < 0", 8, ("window is a duration", "'15'")),
    ("change() < 0", 1, ("change needs a time window",)),
    ("change < 0", 1, ("change needs a time window",)),
    ("change(15m, 3) < 0", 13, ("change takes one parameter",)),
    ("volume_spike(5) > 2", 14, ("window is a duration",)),
    ("volume_spike(1m, 0) > 2", 18, ("count", "at least 1", "'0'")),
    ("volume_spike(1m, 2.5) > 2", 18, ("count", "'2.5'")),
    ("volume_spike(1m, 2, 3) > 2", 21, ("at most 2 parameters",)),
    # whole-condition rules
    ("30 < 40", 1, ("compares two numbers",)),
    ("close > 1 and 5% > 2", 15, ("compares two numbers",)),
    ("price > 5%", 9, ("percent (5%)", "only with change", "not price")),
    ("5% < rsi(14)", 1, ("percent (5%)", "not rsi(14)")),
    ("volume_spike(1m) > 300%", 20, ("percent (300%)",)),
    ("change(15m) > price", 15, ("change(15m) is a ratio", "not price")),
    ("close < volume_spike(1m)", 1, ("volume_spike(1m,20) is a ratio", "not close")),
    ("price > rsi(14)", 9, ("price is evaluated on every trade", "rsi(14) on closed candles")),
    ("close > 1 or price > 2", 14, ("price is evaluated on every trade", "close on closed")),
    ("change(1h) > 1% and sma(5) > 3", 21, ("change(1h)", "sma(5) on closed candles")),
]


@pytest.mark.parametrize(("text", "column", "words"), BAD, ids=[case[0][:40] for case in BAD])
def test_bad_condition_is_refused_naming_the_problem_and_its_column(
    text: str, column: int, words: tuple[str, ...]
) -> None:
    with pytest.raises(ConditionError) as raised:
        parse_condition(text)
    error = raised.value
    assert error.column == column, str(error)
    assert str(error).endswith(f"at column {column}")
    for word in words:
        assert word in str(error), str(error)


def test_unknown_indicator_message_is_exactly_as_documented() -> None:
    with pytest.raises(ConditionError) as raised:
        parse_condition("rsx(14) < 30")
    assert str(raised.value).startswith("unknown indicator 'rsx' (known: atr, bbands_lower")
    assert str(raised.value).endswith(" at column 1")


def test_condition_error_is_an_invalid_argument_for_the_grpc_and_graphql_edges() -> None:
    with pytest.raises(InvalidArgument) as raised:
        parse_condition("rsi(14) <")
    assert raised.value.code == "INVALID_ARGUMENT"
