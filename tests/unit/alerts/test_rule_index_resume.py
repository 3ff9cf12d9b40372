"""A restarted evaluator goes on exactly as if it had not stopped: an index rebuilt from each
rule's stored snapshot (through JSON, as in ``alert_rules.evaluator_state``) and the
symbol's last trade (``alert_feeds``) fires, over the rest of a price path, exactly what the
index that never stopped fires (services/alerts/rule_index.py, firing.py)."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from services.alerts.firing import Firing, Mode, Rule
from services.alerts.rule_index import RuleIndex
from services.common.conditions import parse_condition
from services.common.trades import Trade

SYMBOL = "ETHUSDT"
LEVELS = st.integers(96, 104)
CONDITIONS = st.one_of(
    st.builds(
        lambda comparator, level: f"price {comparator} {level}",
        st.sampled_from(["<", "<=", ">", ">=", "crosses_above", "crosses_below"]),
        LEVELS,
    ),
    # Evaluated rule by rule (windows of change() start empty after a restart: not here).
    st.sampled_from(["price == 100", "not price >= 101", "price > 99 and price < 102"]),
)


@st.composite
def rules(draw: st.DrawFn, rule_id: str) -> Rule:
    return Rule(
        rule_id=rule_id,
        symbol=SYMBOL,
        condition=parse_condition(draw(CONDITIONS)),
        mode=draw(st.sampled_from(Mode)),
        cooldown_ms=draw(st.sampled_from([0, 1000, 2500])),
        rearm=draw(st.one_of(st.none(), st.none(), LEVELS.map(float))),
    )


def _trades(prices: list[int], gaps: list[int]) -> list[Trade]:
    time_ms, trades = 0, []
    for i, (price, gap) in enumerate(zip(prices, gaps, strict=True)):
        time_ms += gap
        trades.append(Trade("binance", SYMBOL, i + 1, str(price), "1", time_ms, time_ms, False))
    return trades


def _feed(index: RuleIndex, trades: list[Trade]) -> list[Firing]:
    return [firing for trade in trades for firing in index.on_trade(trade)]


@settings(max_examples=300, deadline=None)
@given(
    st.integers(1, 12).flatmap(lambda n: st.tuples(*(rules(f"r{i}") for i in range(n)))),
    st.lists(st.tuples(LEVELS, st.sampled_from([0, 500, 1000, 3000])), min_size=2, max_size=50),
    st.data(),
)
def test_an_index_resumed_from_snapshots_fires_what_the_uninterrupted_one_fires(
    given_rules: tuple[Rule, ...], path: list[tuple[int, int]], data: st.DataObject
) -> None:
    trades = _trades([p for p, _ in path], [g for _, g in path])
    split = data.draw(st.integers(1, len(trades) - 1))
    uninterrupted, stopped = RuleIndex(), RuleIndex()
    for rule in given_rules:
        uninterrupted.add(rule)
        stopped.add(rule)
    before = _feed(uninterrupted, trades[:split])
    assert _feed(stopped, trades[:split]) == before
    snapshots = {
        r.rule_id: json.loads(json.dumps(stopped.snapshot(r.rule_id))) for r in given_rules
    }

    resumed = RuleIndex()
    last = trades[split - 1]
    resumed.book(SYMBOL).resume("binance", last.trade_id, float(last.price), last.trade_time_ms)
    for rule in given_rules:
        resumed.add(rule, snapshots[rule.rule_id])
    # Redelivered trades of before the stop are skipped, as the live ones were.
    assert _feed(resumed, trades[split - 2 : split]) == []
    assert _feed(resumed, trades[split:]) == _feed(uninterrupted, trades[split:])
    for rule in given_rules:
        assert resumed.state(rule.rule_id) is uninterrupted.state(rule.rule_id)


def test_a_rule_that_never_saw_a_trade_resumes_as_new_its_first_trade_only_sets_it() -> None:
    rule = Rule("r", SYMBOL, parse_condition("price > 100"))
    index = RuleIndex()
    index.book(SYMBOL).resume("binance", 5, 99.0, 5)
    index.add(rule, {"state": "armed", "before": None, "fired_ms": 0, "fired_price": 0.0})
    assert _feed(index, _trades([101], [10])[:1]) == []  # id 1 ≤ 5: a redelivery, skipped
    rising = [Trade("binance", SYMBOL, 6, "101", "1", 6, 6, False)]
    assert _feed(index, rising) == []  # its first trade: only sets its state
