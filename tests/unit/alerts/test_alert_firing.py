"""One rule's firing state machine: false→true, ONCE/RECURRING, cooldown, rearm level,
expiry and redelivered events (services/alerts/firing.py)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from services.alerts.firing import CandleEvent, Firing, Mode, Rule, RuleMachine, State
from services.common.candles import Candle
from services.common.conditions import parse_condition
from services.common.trades import Trade


def rule(condition: str, **options: object) -> Rule:
    return Rule("r1", "BTCUSDT", parse_condition(condition), **options)  # type: ignore[arg-type]


def trade(trade_id: int, price: float, time_ms: int | None = None) -> Trade:
    return Trade(
        venue="binance",
        symbol="BTCUSDT",
        trade_id=trade_id,
        price=str(price),
        quantity="1",
        trade_time_ms=trade_id * 1000 if time_ms is None else time_ms,
        event_time_ms=0,
        buyer_is_maker=False,
    )


def fired_at(machine: RuleMachine, prices: list[float]) -> list[int]:
    """The trade ids (1, 2, …, one second apart) at which the rule fires."""
    firings = [machine.on_trade(trade(i, p)) for i, p in enumerate(prices, start=1)]
    return [f.trade_id for f in firings if f is not None and f.trade_id is not None]


def test_first_evaluation_only_sets_the_state() -> None:
    machine = RuleMachine(rule("price > 100"))
    assert fired_at(machine, [101, 102, 99, 101]) == [4]


def test_once_rule_fires_once_and_finishes() -> None:
    machine = RuleMachine(rule("price > 100", mode=Mode.ONCE))
    assert fired_at(machine, [99, 101, 99, 101]) == [2]
    assert machine.state is State.FINISHED


def test_recurring_rule_rearms_when_the_condition_is_false_again() -> None:
    machine = RuleMachine(rule("price > 100"))
    assert fired_at(machine, [99, 101, 102, 100, 101, 101, 99, 105]) == [2, 5, 8]


def test_crosses_above_fires_on_the_crossing_trade_only() -> None:
    machine = RuleMachine(rule("price crosses_above 100"))
    # 100 → 101 crosses (before at or below); 101 → 102 does not.
    assert fired_at(machine, [100, 101, 102, 100, 101]) == [2, 5]


def test_cooldown_loses_a_turn_whose_false_event_came_before_the_cooldown_ended() -> None:
    # Trades one second apart; cooldown 3 s after the firing at trade 2 (t = 2 s).
    machine = RuleMachine(rule("price > 100", cooldown_ms=3000))
    # Trade 3 is false but inside the cooldown; trade 4 true: no re-arm, no firing.
    # Trade 6 (t = 6 s) is false after the cooldown: re-armed; trade 7 fires.
    assert fired_at(machine, [99, 101, 99, 101, 101, 99, 101]) == [2, 7]


def test_rearm_level_rearms_only_once_the_price_has_passed_it() -> None:
    machine = RuleMachine(rule("price > 100", rearm=95.0))
    # Dips to 99 and 98 do not re-arm; 95 does; the next turn above 100 fires.
    assert fired_at(machine, [99, 101, 99, 101, 98, 101, 95, 101]) == [2, 8]


def test_expired_rule_never_fires_at_or_after_its_expiry() -> None:
    machine = RuleMachine(rule("price > 100", expires_at_ms=4000))
    assert fired_at(machine, [99, 101, 99, 101, 99, 101]) == [2]
    assert machine.state is State.EXPIRED


def test_a_redelivered_trade_is_not_evaluated_again() -> None:
    machine = RuleMachine(rule("price crosses_above 100"))
    assert machine.on_trade(trade(1, 99)) is None
    first = machine.on_trade(trade(2, 101))
    assert first == Firing("r1", "BTCUSDT", 2000, "101", 101.0, trade_id=2)
    assert machine.on_trade(trade(2, 101)) is None
    assert machine.on_trade(trade(1, 99)) is None
    # The redelivery of trade 1 did not reach the condition: 101 → 102 is no cross.
    assert machine.on_trade(trade(3, 102)) is None


def test_candle_rule_fires_on_the_closed_candle_and_skips_a_redelivery() -> None:
    machine = RuleMachine(rule("close crosses_above 100", interval="1m"))

    def closed(minute: int, close: str) -> CandleEvent:
        value = Decimal(close)
        candle = Candle(minute * 60_000, value, value, value, value, Decimal(1), value, 1)
        return CandleEvent("BTCUSDT", "1m", candle)

    assert machine.on_candle(closed(0, "99.5")) is None
    firing = machine.on_candle(closed(1, "100.5"))
    assert firing == Firing("r1", "BTCUSDT", 60_000, "100.5", 100.5, candle_open_ms=60_000)
    assert machine.on_candle(closed(1, "100.5")) is None
    assert machine.on_candle(CandleEvent("BTCUSDT", "5m", closed(2, "99").candle)) is None


def test_rule_refuses_an_interval_on_a_trade_condition() -> None:
    with pytest.raises(ValueError, match="interval"):
        rule("price > 1", interval="1m")
    with pytest.raises(ValueError, match="interval"):
        rule("close > 1")
