"""A rule warmed up on past candles goes on as if it had seen them live
(services/alerts/firing.py: warm_candle, warm_trade), on Binance's real 1m candles."""

from __future__ import annotations

import pytest

from services.alerts.firing import CandleEvent, Firing, Rule, RuleMachine
from services.common.conditions import parse_condition
from services.common.trades import Trade
from tests.vision_klines import SPOT_1M, candles

EVENTS = [CandleEvent("ETHUSDT", "1m", candle) for candle in candles(SPOT_1M)]


def _live(machine: RuleMachine, events: list[CandleEvent]) -> list[Firing]:
    return [f for event in events if (f := machine.on_candle(event)) is not None]


@pytest.mark.parametrize(
    "condition",
    [
        "close crosses_above sma(20)",
        "rsi(14) < 30",
        "close crosses_above bbands_upper(20,2)",
        "macd(12,26,9) crosses_above macd_signal(12,26,9)",
    ],
)
@pytest.mark.parametrize("split", [25, 300, 901])
def test_a_warmed_up_candle_rule_fires_from_its_first_live_candle_as_one_that_saw_all(
    condition: str, split: int
) -> None:
    rule = Rule("r", "ETHUSDT", parse_condition(condition), interval="1m")
    seen_all, warmed = RuleMachine(rule), RuleMachine(rule)
    _live(seen_all, EVENTS[:split])
    for event in EVENTS[:split]:
        warmed.warm_candle(event)
    expected = _live(seen_all, EVENTS[split:])
    assert expected  # the comparison has firings to compare
    assert _live(warmed, EVENTS[split:]) == expected


def test_a_candle_seen_in_the_warm_up_is_skipped_when_the_bus_delivers_it() -> None:
    rule = Rule("r", "ETHUSDT", parse_condition("close crosses_above sma(20)"), interval="1m")
    warmed, seen_all = RuleMachine(rule), RuleMachine(rule)
    for event in EVENTS[:100]:
        warmed.warm_candle(event)
    _live(seen_all, EVENTS[:100])
    assert _live(warmed, EVENTS[90:]) == _live(seen_all, EVENTS[100:])


def test_a_warmed_up_change_window_reads_the_stored_trades() -> None:
    rule = Rule("r", "BTCUSDT", parse_condition("change(10s) > 1%"))
    moments = [(1, 1_000, "100"), (2, 2_000, "100"), (3, 3_000, "100"), (4, 4_000, "100")]
    moments += [(5, 12_000, "100.5"), (6, 13_000, "101.5")]
    trades = [Trade("binance", "BTCUSDT", i, p, "1", t, t, False) for i, t, p in moments]
    cold, warmed = RuleMachine(rule), RuleMachine(rule)
    for trade in trades[:4]:
        warmed.warm_trade(trade)
    # Cold, no trade is 10 s older than the live ones: unknown, no firing.
    assert [cold.on_trade(t) for t in trades[4:]] == [None, None]
    fired = [warmed.on_trade(t) for t in trades[4:]]
    assert fired[0] is None and fired[1] is not None and fired[1].trade_id == 6
