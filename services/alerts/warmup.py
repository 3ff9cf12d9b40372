"""Warming a rule up from stored data, so it does not start blind.

A candle condition reads indicators over past candles (``sma(50)`` needs 50), and a trade
condition with ``change(15m)`` or ``volume_spike(1m,20)`` reads the trades of a past window.
Fed live events only, a new rule on ``1h`` candles could not fire for days, and every
restart would blind it again. So before a rule's first live event, its condition is fed
what storage holds just before it: :data:`WARMUP_CANDLES` candles (at least three times the
condition's warm-up), or the trades of its lookback. Warming never fires; a new rule takes
the condition at the last warm-up event as its first evaluation (a restored one keeps its
stored state). RuleHistory warms up the same way before ``from``, so both agree.

Where "before" ends: at the evaluator's checkpoint of the series (the last candle or trade
it evaluated), or, for a series it has not seen, at the last closed candle (trades: now).
"""

from __future__ import annotations

import logging

from services.alerts import market_data
from services.alerts.firing import RuleMachine
from services.common.conditions import Condition, Driver
from services.common.errors import QuantflowError
from services.common.intervals import NoFixedStep, kline_step_ms, last_open_at_or_before

log = logging.getLogger(__name__)

MIN_WARMUP_CANDLES = 200
MAX_WARMUP_CANDLES = 2000
# A trade window longer than this is not warmed up (too many trades to read at once).
MAX_WARMUP_TRADES = 500_000
_MONTH_MS = 31 * 86_400_000


def needs_warmup(condition: Condition) -> bool:
    return condition.driver is Driver.CANDLES or condition.lookback_ms > 0


def warmup_candles(condition: Condition) -> int:
    return min(max(3 * condition.warmup, MIN_WARMUP_CANDLES), MAX_WARMUP_CANDLES)


async def warm_candles(
    storage: market_data.Storage,
    machine: RuleMachine,
    venue: str,
    before_open_ms: int,
) -> int:
    """Feed the stored candles opening before ``before_open_ms``; how many."""
    rule = machine.rule
    assert rule.interval is not None
    count = warmup_candles(rule.condition)
    try:
        span = count * kline_step_ms(rule.interval)
    except NoFixedStep:
        span = count * _MONTH_MS
    fed = 0
    async for event in market_data.stored_candles(
        storage, rule.symbol, venue, rule.interval, before_open_ms - span, before_open_ms
    ):
        machine.warm_candle(event)
        fed += 1
    return fed


async def warm_trades(
    storage: market_data.Storage,
    machine: RuleMachine,
    venue: str,
    before_ms: int,
    up_to_id: int | None = None,
) -> int:
    """Feed the stored trades of the condition's lookback before ``before_ms`` (and, when
    given, with ids up to ``up_to_id``); how many. Nothing when there are too many."""
    rule = machine.rule
    # One more minute: change(w) reads the last trade at or before w ago.
    from_ms = before_ms - rule.condition.lookback_ms - 60_000
    trades = []
    async for trade in market_data.stored_trades(
        storage, rule.symbol, venue, from_ms, before_ms, MAX_WARMUP_TRADES + 1
    ):
        if up_to_id is None or trade.trade_id <= up_to_id:
            trades.append(trade)
        if len(trades) > MAX_WARMUP_TRADES:
            log.warning(
                "rule %s: more than %d trades in its window; not warmed up",
                rule.rule_id,
                MAX_WARMUP_TRADES,
            )
            return 0
    for trade in trades:
        machine.warm_trade(trade)
    return len(trades)


async def warm(
    storage: market_data.Storage,
    machine: RuleMachine,
    venue: str,
    now_ms: int,
    candles_before: int | None,
    seen_trade: tuple[int, int] | None,
) -> None:
    """Warm a live rule up to the evaluator's checkpoint: candles opening before
    ``candles_before`` (None: before the candle in progress now), or trades up to
    ``seen_trade`` (id, time; None: now). A storage that cannot answer leaves the rule
    cold (it warms up on live events), never stopped."""
    rule = machine.rule
    try:
        if rule.interval is not None:
            before = (
                candles_before
                if candles_before is not None
                else last_open_at_or_before(rule.interval, now_ms)
            )
            await warm_candles(storage, machine, venue, before)
        elif seen_trade is not None:
            trade_id, time_ms = seen_trade
            await warm_trades(storage, machine, venue, time_ms + 1, trade_id)
        else:
            await warm_trades(storage, machine, venue, now_ms)
    except QuantflowError as error:
        log.warning("rule %s not warmed up from storage: %s", rule.rule_id, error)
