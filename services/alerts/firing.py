"""When one alert rule fires: its firing state machine, fed event by event.

Pure: the inputs are events (trades, closed candles) and their times, the outputs
:class:`Firing` records. The rules (issue 10), exactly:

- A rule fires at an event where its condition turns from false to true. The first event a
  rule sees only sets its state: a rule created while the price is already above 2680 does
  not fire ``price > 2680`` until the price has been at or below it again.
- A ONCE rule is finished after firing.
- A RECURRING rule is disarmed after firing and re-arms at the first later event at which
  (a) its time is at least ``cooldown_ms`` after the firing's, and (b) the condition is false
  again, or, when the rule has a ``rearm`` level, the price (a candle's close) has passed it:
  reached it or gone beyond it, coming from the side the firing's price was on. With a rearm
  level, condition-false does not re-arm (that is the point of a level: hysteresis, no
  flapping around the threshold). After re-arming, the next false→true turn fires. So with a
  cooldown, a turn false→true inside the cooldown is lost and so is one whose false event
  came only before the cooldown ended: after the cooldown the condition must be seen false.
  The event that re-arms a rule never fires it.
- Expiry: events at or after ``expires_at_ms`` are never fired on; the rule is expired.
- Redelivered events: the bus may deliver an event twice. Trade ids grow along each
  (venue, symbol) series and candle open times along each (symbol, interval), so a rule keeps
  the last identity it evaluated ("seen up to") and skips anything at or before it, without
  evaluating it: a rule fires at most once per event, and its condition's windows see each
  trade once. A replay of older events to a live rule is skipped the same way.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from enum import Enum

from services.common.candles import Candle
from services.common.conditions import CandleStream, Condition, Driver, TradeStream
from services.common.trades import Trade


class Mode(Enum):
    ONCE = "ONCE"
    RECURRING = "RECURRING"


class State(Enum):
    ARMED = "armed"  # fires at the next false→true turn
    DISARMED = "disarmed"  # RECURRING, fired, waiting to re-arm
    FINISHED = "finished"  # ONCE, fired
    EXPIRED = "expired"


@dataclass(frozen=True)
class Rule:
    """What the evaluator needs of an alert rule. ``interval`` only for candle conditions."""

    rule_id: str
    symbol: str
    condition: Condition
    mode: Mode = Mode.RECURRING
    cooldown_ms: int = 0
    rearm: float | None = None
    expires_at_ms: int | None = None
    interval: str | None = None

    def __post_init__(self) -> None:
        if self.cooldown_ms < 0:
            raise ValueError(f"cooldown must not be negative, not {self.cooldown_ms} ms")
        if (self.interval is None) != (self.condition.driver is Driver.TRADES):
            raise ValueError(
                f"{self.condition.text!r} is evaluated on {self.condition.driver.value}: "
                f"an interval is needed for candles and only for them, not {self.interval!r}"
            )


@dataclass(frozen=True)
class CandleEvent:
    """A closed candle of one symbol and interval."""

    symbol: str
    interval: str
    candle: Candle


@dataclass(frozen=True)
class Firing:
    """One rule firing at one event. ``time_ms``: the trade's time, or the candle's open
    time; ``price``: the trade's price or the candle's close, the exchange's decimal text;
    ``value``: that price as a number (the value a price condition compared)."""

    rule_id: str
    symbol: str
    time_ms: int
    price: str
    value: float
    trade_id: int | None = None
    candle_open_ms: int | None = None


class Lifecycle:
    """The state machine of one rule, fed the condition's truth at each event it sees."""

    def __init__(self, rule: Rule) -> None:
        self.rule = rule
        self.state = State.ARMED
        self._before: bool | None = None  # the condition at the previous event
        self._fired_ms = 0
        self._fired_price = 0.0
        self._warm = True  # no live event and no restored state yet

    def step(self, time_ms: int, price: float, truth: bool) -> bool:
        """Whether the rule fires at this event."""
        if self.state in (State.FINISHED, State.EXPIRED):
            return False
        if self.expired_at(time_ms):
            return False
        self._warm = False
        before, self._before = self._before, truth
        if self.state is State.ARMED:
            if before is False and truth:
                self._fire(time_ms, price)
                return True
            return False
        if time_ms >= self._fired_ms + self.rule.cooldown_ms and self._rearms(price, truth):
            self.state = State.ARMED
        return False

    def rise(self, time_ms: int, price: float, previous_time_ms: int) -> bool:
        """``step`` for an event at which the condition turned false→true, the event before
        it (at ``previous_time_ms``) having been seen too, for a rule without a rearm level.

        The condition was false from its last turn up to the event before this one, so the
        rule re-armed in between exactly when that event was past the cooldown: the rule
        index calls this only at turns, not at every event."""
        assert self.rule.rearm is None
        if self.state in (State.FINISHED, State.EXPIRED) or self.expired_at(time_ms):
            return False
        if self.state is State.DISARMED:
            if previous_time_ms < self._fired_ms + self.rule.cooldown_ms:
                return False
        self._fire(time_ms, price)
        return True

    def settle(self, time_ms: int, truth: bool) -> None:
        """For a rule the index evaluates at turns only: apply the re-arming ``step`` would
        have applied by the last event (at ``time_ms``, where the condition is ``truth``).
        Disarmed with no firing since, the rule was re-armed iff the condition is false now
        (a later turn to true would have fired it) and now is past the cooldown."""
        assert self.rule.rearm is None
        if self.state is State.DISARMED and not truth:
            if time_ms >= self._fired_ms + self.rule.cooldown_ms:
                self.state = State.ARMED

    def observe(self, truth: bool) -> None:
        """Warming up (:meth:`RuleMachine.warm_trade`): the condition held ``truth`` at a
        past event. Only a rule that never saw a live event takes it as its last value."""
        if not self._warm:
            return
        self._before = truth

    def snapshot(self) -> dict[str, object]:
        """What a restarted evaluator needs to go on as if it had not stopped (JSON-able)."""
        return {
            "state": self.state.value,
            "before": self._before,
            "fired_ms": self._fired_ms,
            "fired_price": self._fired_price,
        }

    def restore(self, snapshot: Mapping[str, object]) -> None:
        """Back to a :meth:`snapshot`'s state."""
        self._warm = False
        self.state = State(str(snapshot["state"]))
        before = snapshot.get("before")
        self._before = before if isinstance(before, bool) else None
        fired_ms, fired_price = snapshot.get("fired_ms", 0), snapshot.get("fired_price", 0.0)
        self._fired_ms = fired_ms if isinstance(fired_ms, int) else 0
        self._fired_price = float(fired_price) if isinstance(fired_price, int | float) else 0.0

    def expired_at(self, time_ms: int) -> bool:
        """Whether the rule has expired by ``time_ms`` (it is then marked expired)."""
        expires = self.rule.expires_at_ms
        if expires is not None and time_ms >= expires and self.state is not State.FINISHED:
            self.state = State.EXPIRED
        return self.state is State.EXPIRED

    def _fire(self, time_ms: int, price: float) -> None:
        self._fired_ms, self._fired_price = time_ms, price
        self.state = State.FINISHED if self.rule.mode is Mode.ONCE else State.DISARMED

    def _rearms(self, price: float, truth: bool) -> bool:
        level = self.rule.rearm
        if level is None:
            return not truth
        return price <= level if self._fired_price > level else price >= level


# Candles a live candle rule keeps to compute its indicators over: bounded, so a rule that
# runs for months costs the same per candle as on its first day. Recursive indicators (EMA,
# RSI, MACD) computed over the last 5,000 candles differ from ones computed over all of
# history by far less than their last digit (an EMA(26) forgets a candle by 0.93 a step).
CANDLE_HISTORY = 5000


def candle_history(condition: Condition) -> int:
    return max(CANDLE_HISTORY, 3 * condition.warmup)


class RuleMachine:
    """One rule evaluated on its own: its condition's stream, its lifecycle and the last event
    it saw. The reference evaluation; the rule index gives the same firings faster."""

    def __init__(self, rule: Rule, seen_trades: Mapping[str, int] | None = None) -> None:
        """``seen_trades``: the last trade id per venue of the symbol seen before the rule
        existed; redeliveries of those are no events for the rule either."""
        self.rule = rule
        self.lifecycle = Lifecycle(rule)
        self._trades = (
            TradeStream(rule.condition) if rule.condition.driver is Driver.TRADES else None
        )
        self._candles = (
            CandleStream(rule.condition, history=candle_history(rule.condition))
            if rule.condition.driver is Driver.CANDLES
            else None
        )
        # venue → the last trade id evaluated
        self._seen_trades: dict[str, int] = dict(seen_trades or {})
        self._seen_candle: int | None = None  # last open time evaluated
        # Warm-up (services/alerts/warmup.py): the last stored trade or candle fed, and the
        # last trade before a restart, fed to the condition at the first live trade unless
        # the warm-up fed it already.
        self._warm_trade_id: int | None = None
        self._warm_candle_open: int | None = None
        self._primer: tuple[int, int, float] | None = None  # trade id, time, price

    @property
    def state(self) -> State:
        return self.lifecycle.state

    def resume(self, trade_id: int, time_ms: int, price: float) -> None:
        """After a restart: the last trade seen before it becomes the previous point of a
        trade condition (for ``crosses_above``), without being evaluated again."""
        if self._trades is not None:
            self._primer = (trade_id, time_ms, price)

    def resume_candles(self, open_ms: int) -> None:
        """After a restart: candles up to the one opening at ``open_ms`` were seen."""
        if self._candles is not None:
            self._seen_candle = open_ms

    def warm_trade(self, trade: Trade) -> None:
        """Feed a stored trade from before the rule's live events to its condition's windows
        (``change``, ``volume_spike``), never firing. A rule with no state yet takes the
        condition at the last such trade as its first evaluation; a restored one keeps its
        own."""
        if self._trades is None or trade.symbol != self.rule.symbol:
            return
        if self._warm_trade_id is not None and trade.trade_id <= self._warm_trade_id:
            return
        self._warm_trade_id = trade.trade_id
        seen = self._seen_trades.get(trade.venue)
        self._seen_trades[trade.venue] = max(trade.trade_id, seen or trade.trade_id)
        truth = self._trades.on_trade(
            trade.trade_time_ms, float(trade.price), float(trade.quantity)
        )
        self.lifecycle.observe(truth)

    def warm_candle(self, event: CandleEvent) -> None:
        """The same for a stored closed candle, for the indicators' history."""
        if (
            self._candles is None
            or event.symbol != self.rule.symbol
            or event.interval != self.rule.interval
        ):
            return
        candle = event.candle
        if self._warm_candle_open is not None and candle.open_time <= self._warm_candle_open:
            return
        self._warm_candle_open = candle.open_time
        self._seen_candle = max(candle.open_time, self._seen_candle or candle.open_time)
        truth = self._candles.on_candle(
            float(candle.open),
            float(candle.high),
            float(candle.low),
            float(candle.close),
            float(candle.volume),
        )
        self.lifecycle.observe(truth)

    def on_trade(self, trade: Trade) -> Firing | None:
        """The firing at ``trade`` of this rule's symbol, if any."""
        if self._trades is None or trade.symbol != self.rule.symbol:
            return None
        seen = self._seen_trades.get(trade.venue)
        if seen is not None and trade.trade_id <= seen:
            return None
        self._seen_trades[trade.venue] = trade.trade_id
        if self._primer is not None:
            primer_id, primer_ms, primer_price = self._primer
            self._primer = None
            if self._warm_trade_id is None or primer_id > self._warm_trade_id:
                self._trades.on_trade(primer_ms, primer_price, 0.0)
        price = float(trade.price)
        truth = self._trades.on_trade(trade.trade_time_ms, price, float(trade.quantity))
        if not self.lifecycle.step(trade.trade_time_ms, price, truth):
            return None
        return trade_firing(self.rule, trade, price)

    def on_candle(self, event: CandleEvent) -> Firing | None:
        """The firing at this closed candle of this rule's symbol and interval, if any."""
        if (
            self._candles is None
            or event.symbol != self.rule.symbol
            or event.interval != self.rule.interval
        ):
            return None
        candle = event.candle
        if self._seen_candle is not None and candle.open_time <= self._seen_candle:
            return None
        self._seen_candle = candle.open_time
        close = float(candle.close)
        truth = self._candles.on_candle(
            float(candle.open), float(candle.high), float(candle.low), close, float(candle.volume)
        )
        if not self.lifecycle.step(candle.open_time, close, truth):
            return None
        return Firing(
            rule_id=self.rule.rule_id,
            symbol=event.symbol,
            time_ms=candle.open_time,
            price=_text(candle.close),
            value=close,
            candle_open_ms=candle.open_time,
        )


def trade_firing(rule: Rule, trade: Trade, price: float) -> Firing:
    return Firing(
        rule_id=rule.rule_id,
        symbol=trade.symbol,
        time_ms=trade.trade_time_ms,
        price=trade.price,
        value=price,
        trade_id=trade.trade_id,
    )


def _text(value: Decimal) -> str:
    return format(value, "f")
