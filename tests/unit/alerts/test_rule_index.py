"""The rule index fires exactly what evaluating every rule on its own fires
(services/alerts/rule_index.py), for random rules over random price paths.

Prices and levels sit on one small grid of whole numbers so that ties at a level (the edge
between > and >=, a cross's "at or below before") come up often; times advance by 0 to 3 s
so that cooldowns of 0 to 5 s both block and release; trades are redelivered and rules are
added and removed mid-stream.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.alerts.firing import CandleEvent, Firing, Mode, Rule, RuleMachine
from services.alerts.rule_index import RuleIndex, SymbolRules, threshold
from services.common.candles import Candle
from services.common.conditions import parse_condition
from services.common.trades import Trade

SYMBOL = "ETHUSDT"
LEVELS = st.integers(96, 104)
THRESHOLDS = st.sampled_from(["<", "<=", ">", ">=", "crosses_above", "crosses_below"])
OTHERS = st.sampled_from(
    [
        "price == 100",
        "price != 100",
        "change(2s) > 1%",
        "price > 99 and price < 102",
        "not price >= 101",
        "price crosses_above 98 or price crosses_below 102",
    ]
)


@st.composite
def conditions(draw: st.DrawFn) -> str:
    if draw(st.integers(0, 4)) == 0:
        return draw(OTHERS)
    comparator, level = draw(THRESHOLDS), draw(LEVELS)
    if draw(st.booleans()):
        mirrored = {"crosses_above": "crosses_below", "crosses_below": "crosses_above"}
        flipped = {"<": ">", "<=": ">=", ">": "<", ">=": "<="}
        return f"{level} {(flipped | mirrored)[comparator]} price"
    return f"price {comparator} {level}"


@st.composite
def rules(draw: st.DrawFn, rule_id: str) -> Rule:
    return Rule(
        rule_id=rule_id,
        symbol=SYMBOL,
        condition=parse_condition(draw(conditions())),
        mode=draw(st.sampled_from(Mode)),
        cooldown_ms=draw(st.sampled_from([0, 0, 1000, 2500, 5000])),
        rearm=draw(st.one_of(st.none(), st.none(), st.none(), LEVELS.map(float))),
        expires_at_ms=draw(st.one_of(st.none(), st.none(), st.integers(0, 60_000))),
    )


@dataclass(frozen=True)
class Step:
    price: int
    advance_ms: int
    redeliver: int  # > 0: redeliver the trade this many back instead of a new one
    add: Rule | None
    remove: int | None  # index into the rules added so far


@st.composite
def steps(draw: st.DrawFn) -> list[Step]:
    count = draw(st.integers(1, 60))
    return [
        Step(
            price=draw(LEVELS),
            advance_ms=draw(st.sampled_from([0, 500, 1000, 3000])),
            redeliver=draw(st.sampled_from([0, 0, 0, 0, 1, 2])),
            add=draw(rules(f"late-{i}")) if draw(st.integers(0, 5)) == 0 else None,
            remove=draw(st.integers(0, 20)) if draw(st.integers(0, 10)) == 0 else None,
        )
        for i in range(count)
    ]


def _trade(trade_id: int, price: int, time_ms: int) -> Trade:
    return Trade("binance", SYMBOL, trade_id, str(price), "1.5", time_ms, time_ms, False)


def _run(initial: list[Rule], path: list[Step]) -> tuple[list[Firing], list[Firing]]:
    """(the index's firings, the firings of one RuleMachine per rule) over ``path``."""
    index = RuleIndex()
    naive: dict[str, RuleMachine] = {}
    for rule in initial:
        index.add(rule)
        naive[rule.rule_id] = RuleMachine(rule)
    added = [rule.rule_id for rule in initial]
    sent: list[Trade] = []
    ours: list[Firing] = []
    theirs: list[Firing] = []
    time_ms = 0
    for step in path:
        if step.add is not None:
            index.add(step.add)
            seen = {"binance": sent[-1].trade_id} if sent else None
            naive[step.add.rule_id] = RuleMachine(step.add, seen)
            added.append(step.add.rule_id)
        if step.remove is not None and added:
            gone = added.pop(step.remove % len(added))
            index.remove(gone)
            del naive[gone]
        if step.redeliver and len(sent) >= step.redeliver:
            trade = sent[-step.redeliver]
        else:
            time_ms += step.advance_ms
            trade = _trade(len(sent) + 1, step.price, time_ms)
            sent.append(trade)
        ours += index.on_trade(trade)
        fired = [machine.on_trade(trade) for machine in naive.values()]
        theirs += sorted((f for f in fired if f is not None), key=lambda f: f.rule_id)
    for rule_id in added:
        assert index.state(rule_id) is naive[rule_id].state, rule_id
    return ours, theirs


@settings(max_examples=300, deadline=None)
@given(
    st.integers(1, 25).flatmap(lambda n: st.tuples(*(rules(f"r{i}") for i in range(n)))), steps()
)
def test_index_fires_exactly_what_each_rule_alone_fires(
    initial: tuple[Rule, ...], path: list[Step]
) -> None:
    ours, theirs = _run(list(initial), path)
    assert ours == theirs


@pytest.mark.parametrize(
    ("condition", "indexed"),
    [
        ("price > 2680", ("above", 2680.0)),
        ("price crosses_above 2680", ("above", 2680.0)),
        ("2680 < price", ("above", 2680.0)),
        ("2680 <= price", ("at_or_above", 2680.0)),
        ("price < 2680", ("below", 2680.0)),
        ("2680 crosses_above price", ("below", 2680.0)),
        ("price <= 2680.5", ("at_or_below", 2680.5)),
        ("price == 2680", None),
        ("change(15m) < -5%", None),
        ("price > 2680 and price < 2700", None),
        ("not price > 2680", None),
    ],
)
def test_threshold_recognises_only_simple_price_thresholds(
    condition: str, indexed: tuple[str, float] | None
) -> None:
    assert threshold(Rule("r", SYMBOL, parse_condition(condition))) == indexed


def test_rule_with_a_rearm_level_is_evaluated_on_its_own() -> None:
    rule = Rule("r", SYMBOL, parse_condition("price > 100"), rearm=95.0)
    assert threshold(rule) is None


def test_a_trade_finds_only_the_rules_whose_level_it_passed() -> None:
    book = SymbolRules(SYMBOL)
    for level in range(1000):
        book.add(Rule(f"r{level:04}", SYMBOL, parse_condition(f"price > {level}.5")))
    book.on_trade(_trade(1, 100, 0))
    fired = book.on_trade(_trade(2, 103, 1))
    assert [f.rule_id for f in fired] == ["r0100", "r0101", "r0102"]
    assert book.on_trade(_trade(2, 103, 1)) == []  # redelivered


def test_rule_on_another_symbol_is_refused() -> None:
    with pytest.raises(ValueError, match="BTCUSDT"):
        SymbolRules(SYMBOL).add(Rule("r", "BTCUSDT", parse_condition("price > 1")))


def test_rule_removed_before_its_first_trade_never_fires() -> None:
    book = SymbolRules(SYMBOL)
    book.on_trade(_trade(1, 100, 0))
    book.add(Rule("kept", SYMBOL, parse_condition("price > 100.5")))
    book.add(Rule("gone", SYMBOL, parse_condition("price > 100.5")))
    book.remove("gone")
    book.on_trade(_trade(2, 100, 1))
    assert [f.rule_id for f in book.on_trade(_trade(3, 101, 2))] == ["kept"]


def test_candle_rules_are_evaluated_on_closed_candles_of_their_interval() -> None:
    index = RuleIndex()
    index.add(Rule("c", SYMBOL, parse_condition("close > 100"), interval="1h"))

    def closed(hour: int, close: str, interval: str = "1h") -> CandleEvent:
        value = Decimal(close)
        candle = Candle(hour * 3_600_000, value, value, value, value, Decimal(1), value, 1)
        return CandleEvent(SYMBOL, interval, candle)

    assert index.on_trade(_trade(1, 101, 0)) == []
    assert index.on_candle(closed(0, "99")) == []
    assert index.on_candle(closed(1, "101", "1m")) == []
    assert [f.candle_open_ms for f in index.on_candle(closed(1, "101"))] == [3_600_000]
