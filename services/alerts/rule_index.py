"""Every alert rule of one symbol, evaluated per trade at a cost that does not grow with the
number of simple threshold rules.

A threshold rule (``price > L``, ``price >= L``, ``price < L``, ``price <= L``,
``price crosses_above L``, ``price crosses_below L``, or the same written ``L < price`` …)
can only fire where its condition turns false→true, and a trade moving the price from p0 to
p1 turns exactly the rules whose level lies between p0 and p1 (which end is included
depends on the comparator). So the rules sit in four lists sorted by level, and a rising
trade looks up the ``>``/``>=``/``crosses_above`` rules with levels in its range and a
falling one the ``<``/``<=``/``crosses_below`` rules: two binary searches and the k rules
found, O(log n + k) per trade. Turns true→false need no work: re-arming after a cooldown is
decided lazily at the next false→true turn (:meth:`Lifecycle.rise`).

Everything else is evaluated rule by rule (:class:`RuleMachine`): conditions reading
``change``/``volume_spike``, ``and``/``or``/``not`` combinations, ``==``/``!=``, candle
conditions, and rules with a ``rearm`` level (re-arming at a level is an event of its own).

The result is the reference's: the same firings as a :class:`RuleMachine` per rule fed every
event. Redelivered events are skipped once for the whole symbol (the last trade id per
venue): every rule of the symbol sees the same events, so that is each rule's "seen up to"
(a rule added later starts from the symbol's). Trades of one symbol are expected from one
venue (the previous trade is the previous one fed, whatever its venue).

A finished or expired rule stays in its list, skipped when found, until it is removed: the
evaluator removes rules as they finish (and the scheduler as they expire).
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Mapping
from dataclasses import dataclass, field

from services.alerts.firing import (
    CandleEvent,
    Firing,
    Lifecycle,
    Rule,
    RuleMachine,
    State,
    trade_firing,
)
from services.common.conditions.nodes import Comparator, Compare
from services.common.conditions.operands import Constant, Field
from services.common.trades import Trade

# A threshold rule's comparator with price on the left, and the lists it is kept in.
_MIRRORED = {
    Comparator.GT: Comparator.LT,
    Comparator.GE: Comparator.LE,
    Comparator.LT: Comparator.GT,
    Comparator.LE: Comparator.GE,
    Comparator.CROSSES_ABOVE: Comparator.CROSSES_BELOW,
    Comparator.CROSSES_BELOW: Comparator.CROSSES_ABOVE,
}
_LIST = {
    Comparator.GT: "above",  # true from above L: turns true rising with p0 <= L < p1
    Comparator.CROSSES_ABOVE: "above",
    Comparator.GE: "at_or_above",  # p0 < L <= p1
    Comparator.LT: "below",  # falling with p1 < L <= p0
    Comparator.CROSSES_BELOW: "below",
    Comparator.LE: "at_or_below",  # p1 <= L < p0
}


def threshold(rule: Rule) -> tuple[str, float] | None:
    """(list, level) if ``rule`` can be indexed, else None."""
    tree = rule.condition.tree
    if rule.rearm is not None or rule.interval is not None or not isinstance(tree, Compare):
        return None
    comparator, left, right = tree.comparator, tree.left, tree.right
    if isinstance(left, Constant) and isinstance(right, Field):
        comparator, left, right = _MIRRORED.get(comparator, comparator), right, left
    if not (isinstance(left, Field) and left.name == "price" and isinstance(right, Constant)):
        return None
    kind = _LIST.get(comparator)
    return None if kind is None else (kind, right.value)


@dataclass
class _Levels:
    """Rules sorted by level; ``levels[i]`` is ``rules[i]``'s."""

    levels: list[float] = field(default_factory=list)
    rules: list[Lifecycle] = field(default_factory=list)

    def add(self, level: float, rule: Lifecycle) -> None:
        at = bisect_right(self.levels, level)
        self.levels.insert(at, level)
        self.rules.insert(at, rule)

    def remove(self, level: float, rule_id: str) -> None:
        at = bisect_left(self.levels, level)
        while self.rules[at].rule.rule_id != rule_id:  # among the rules at the same level
            at += 1
        del self.levels[at], self.rules[at]


class SymbolRules:
    """The rules of one symbol: threshold rules indexed by level, the others one by one."""

    def __init__(self, symbol: str) -> None:
        self.symbol = symbol
        self._lists = {kind: _Levels() for kind in set(_LIST.values())}
        self._pending: list[tuple[str, float, Lifecycle]] = []  # see their first trade next
        self._machines: dict[str, RuleMachine] = {}
        self._indexed: dict[str, tuple[str, float, Lifecycle]] = {}
        self._seen: dict[str, int] = {}  # venue → last trade id
        self._seen_candles: dict[str, int] = {}  # interval → last open time, at a restart
        self._price: float | None = None  # of the last trade
        self._before: float | None = None  # of the trade before it
        self._time_ms = 0
        self._last_id = 0  # of the last trade

    def __len__(self) -> int:
        return len(self._machines) + len(self._indexed)

    def resume(self, venue: str, trade_id: int, price: float, time_ms: int) -> None:
        """After a restart, before any rule is added: the last trade evaluated before it."""
        self._seen[venue] = trade_id
        self._price, self._time_ms, self._last_id = price, time_ms, trade_id

    def resume_candles(self, interval: str, open_ms: int) -> None:
        """After a restart, before any rule is added: the last closed candle evaluated."""
        self._seen_candles[interval] = open_ms

    def snapshot(self, rule_id: str) -> dict[str, object]:
        """The rule's lifecycle as of the last trade (see :meth:`Lifecycle.snapshot`);
        ``before`` is None until the rule has seen a trade."""
        self.state(rule_id)  # settles an indexed rule's lazy re-arming
        machine = self._machines.get(rule_id)
        if machine is not None:
            return machine.lifecycle.snapshot()
        kind, level, lifecycle = self._indexed[rule_id]
        snapshot = lifecycle.snapshot()
        # An indexed rule's lifecycle is stepped at turns only: its condition at the last
        # trade is the index's to say.
        seen = self._price is not None and all(p[2] is not lifecycle for p in self._pending)
        snapshot["before"] = self._holds(kind, level, lifecycle.rule) if seen else None
        return snapshot

    @property
    def time_ms(self) -> int:
        """The time of the last trade (0 before any)."""
        return self._time_ms

    def rule(self, rule_id: str) -> Rule:
        machine = self._machines.get(rule_id)
        return machine.rule if machine is not None else self._indexed[rule_id][2].rule

    def machine(self, rule_id: str) -> RuleMachine | None:
        """The rule's own machine if it is evaluated one by one (to warm it up)."""
        return self._machines.get(rule_id)

    def machine_ids(self) -> list[str]:
        """The rules evaluated one by one (their lifecycle moves at any event)."""
        return list(self._machines)

    def add(self, rule: Rule, snapshot: Mapping[str, object] | None = None) -> None:
        """Add ``rule``; with a ``snapshot`` (a restarted evaluator) it goes on from there,
        else its first event only sets its state."""
        if rule.symbol != self.symbol:
            raise ValueError(f"rule {rule.rule_id} is on {rule.symbol}, not {self.symbol}")
        if rule.rule_id in self._machines or rule.rule_id in self._indexed:
            raise ValueError(f"rule {rule.rule_id} is already on {self.symbol}")
        found = threshold(rule)
        if found is None:
            machine = RuleMachine(rule, self._seen)
            if rule.interval in self._seen_candles:
                machine.resume_candles(self._seen_candles[rule.interval])
            if snapshot is not None:
                machine.lifecycle.restore(snapshot)
                if self._price is not None:
                    machine.resume(self._last_id, self._time_ms, self._price)
            self._machines[rule.rule_id] = machine
            return
        kind, level = found
        lifecycle = Lifecycle(rule)
        self._indexed[rule.rule_id] = (kind, level, lifecycle)
        if snapshot is not None and snapshot.get("before") is not None and self._price is not None:
            lifecycle.restore(snapshot)
            self._lists[kind].add(level, lifecycle)
            return
        # Its first trade only sets its state: it joins the lists after that trade.
        self._pending.append((kind, level, lifecycle))

    def remove(self, rule_id: str) -> None:
        if self._machines.pop(rule_id, None) is not None:
            return
        kind, level, lifecycle = self._indexed.pop(rule_id)
        pending = [p for p in self._pending if p[2] is not lifecycle]
        if len(pending) == len(self._pending):
            self._lists[kind].remove(level, rule_id)
        self._pending = pending

    def state(self, rule_id: str) -> State:
        """The rule's state after the last trade, as its own :class:`RuleMachine` has it."""
        machine = self._machines.get(rule_id)
        if machine is not None:
            return machine.state
        kind, level, lifecycle = self._indexed[rule_id]
        if self._price is None or any(p[2] is lifecycle for p in self._pending):
            return lifecycle.state  # it has seen no trade
        # Expiry and re-arming are otherwise applied at turns only.
        if not lifecycle.expired_at(self._time_ms):
            lifecycle.settle(self._time_ms, self._holds(kind, level, lifecycle.rule))
        return lifecycle.state

    def on_trade(self, trade: Trade) -> list[Firing]:
        """The firings at ``trade`` (of this symbol), by rule id; none for a redelivery."""
        seen = self._seen.get(trade.venue)
        if seen is not None and trade.trade_id <= seen:
            return []
        self._seen[trade.venue] = trade.trade_id
        price, time_ms = float(trade.price), trade.trade_time_ms
        firings: list[Firing] = []
        before, previous_ms = self._price, self._time_ms
        if before is not None and price != before:
            for lifecycle in self._turned_true(before, price):
                if lifecycle.rise(time_ms, price, previous_ms):
                    firings.append(trade_firing(lifecycle.rule, trade, price))
        for kind, level, lifecycle in self._pending:
            self._lists[kind].add(level, lifecycle)
        self._pending.clear()
        for machine in self._machines.values():
            firing = machine.on_trade(trade)
            if firing is not None:
                firings.append(firing)
        self._before, self._price, self._time_ms = before, price, time_ms
        self._last_id = trade.trade_id
        firings.sort(key=lambda f: f.rule_id)
        return firings

    def on_candle(self, event: CandleEvent) -> list[Firing]:
        firings = [machine.on_candle(event) for machine in self._machines.values()]
        return sorted((f for f in firings if f is not None), key=lambda f: f.rule_id)

    def _holds(self, kind: str, level: float, rule: Rule) -> bool:
        """The rule's condition at the last trade."""
        price, before = self._price, self._before
        assert price is not None
        assert isinstance(rule.condition.tree, Compare)
        if rule.condition.tree.comparator.crosses:
            if before is None:
                return False
            if kind == "above":
                return price > level >= before
            return price < level <= before
        if kind == "above":
            return price > level
        if kind == "at_or_above":
            return price >= level
        if kind == "below":
            return price < level
        return price <= level

    def _turned_true(self, p0: float, p1: float) -> list[Lifecycle]:
        if p1 > p0:
            above, at_or_above = self._lists["above"], self._lists["at_or_above"]
            a = above.rules[bisect_left(above.levels, p0) : bisect_left(above.levels, p1)]
            b = at_or_above.levels
            return a + at_or_above.rules[bisect_right(b, p0) : bisect_right(b, p1)]
        below, at_or_below = self._lists["below"], self._lists["at_or_below"]
        a = below.rules[bisect_right(below.levels, p1) : bisect_right(below.levels, p0)]
        b = at_or_below.levels
        return a + at_or_below.rules[bisect_left(b, p1) : bisect_left(b, p0)]


class RuleIndex:
    """All rules, by symbol."""

    def __init__(self) -> None:
        self._symbols: dict[str, SymbolRules] = {}
        self._symbol_of: dict[str, str] = {}

    def __len__(self) -> int:
        return len(self._symbol_of)

    def book(self, symbol: str) -> SymbolRules:
        """The rules of ``symbol`` (an empty book if none yet)."""
        book = self._symbols.get(symbol)
        if book is None:
            book = self._symbols[symbol] = SymbolRules(symbol)
        return book

    def add(self, rule: Rule, snapshot: Mapping[str, object] | None = None) -> None:
        self.book(rule.symbol).add(rule, snapshot)
        self._symbol_of[rule.rule_id] = rule.symbol

    def __contains__(self, rule_id: object) -> bool:
        return rule_id in self._symbol_of

    def snapshot(self, rule_id: str) -> dict[str, object]:
        return self._symbols[self._symbol_of[rule_id]].snapshot(rule_id)

    def machine(self, rule_id: str) -> RuleMachine | None:
        return self._symbols[self._symbol_of[rule_id]].machine(rule_id)

    def rule(self, rule_id: str) -> Rule:
        return self._symbols[self._symbol_of[rule_id]].rule(rule_id)

    def remove(self, rule_id: str) -> None:
        self._symbols[self._symbol_of.pop(rule_id)].remove(rule_id)

    def state(self, rule_id: str) -> State:
        return self._symbols[self._symbol_of[rule_id]].state(rule_id)

    def on_trade(self, trade: Trade) -> list[Firing]:
        book = self._symbols.get(trade.symbol)
        return [] if book is None else book.on_trade(trade)

    def on_candle(self, event: CandleEvent) -> list[Firing]:
        book = self._symbols.get(event.symbol)
        return [] if book is None else book.on_candle(event)
