"""RuleHistory: when a condition would have fired over stored data in [from, to).

Evaluated by :class:`RuleMachine`, the reference the live evaluator's rule index agrees with,
as a RECURRING rule without cooldown, fed the stored trades (trade conditions) or candles
(candle conditions, from ``GetOhlc``) of the range, exactly as a rule created just before
``from`` would have seen them live: warmed up first from what is stored before ``from``
(indicators' candles, the windows of ``change``/``volume_spike``; :mod:`warmup`), so the
first event in the range can fire when the condition turns there; without anything stored
before, the first event only sets the state.
"""

from __future__ import annotations

from dataclasses import dataclass

from services.alerts import market_data
from services.alerts.firing import Firing, Mode, Rule, RuleMachine
from services.alerts.stale_feed import is_stale_condition
from services.alerts.validation import check_condition, check_venue
from services.alerts.warmup import warm_candles, warm_trades
from services.common.errors import InvalidArgument
from services.common.symbols import parse_symbol

# Bounds on one answer, so one request cannot hold the service for minutes.
MAX_TRADES = 5_000_000
MAX_FIRINGS = 10_000
HISTORY_RULE_ID = "history"


@dataclass(frozen=True)
class HistoryQuery:
    symbol: str
    venue: str
    condition: str
    interval: str
    from_ms: int
    to_ms: int


async def rule_history(storage: market_data.Storage, query: HistoryQuery) -> list[Firing]:
    """Every firing in the range, in time order; INVALID_ARGUMENT for a bad query (the
    condition's problem with its column) or a range too large to answer."""
    try:
        symbol = parse_symbol(query.symbol)
    except InvalidArgument as error:
        raise InvalidArgument(f"symbol: {error}") from None
    venue = check_venue(query.venue)
    if is_stale_condition(query.condition):
        raise InvalidArgument("condition: no_trade(…) is checked live only, not over history")
    parsed, interval = check_condition(query.condition, query.interval)
    if query.from_ms >= query.to_ms:
        raise InvalidArgument(
            f"from must be before to (half-open [from, to)), not {query.from_ms} ≥ {query.to_ms}"
        )
    machine = RuleMachine(
        Rule(HISTORY_RULE_ID, symbol, parsed, mode=Mode.RECURRING, interval=interval)
    )
    # Warmed up from what is stored before `from`, as a live rule is (services/alerts/warmup.py).
    if interval is not None:
        await warm_candles(storage, machine, venue, query.from_ms)
    elif parsed.lookback_ms > 0:
        await warm_trades(storage, machine, venue, query.from_ms)
    firings: list[Firing] = []
    if interval is None:
        seen = 0
        async for trade in market_data.stored_trades(
            storage, symbol, venue, query.from_ms, query.to_ms, MAX_TRADES + 1
        ):
            seen += 1
            if seen > MAX_TRADES:
                raise InvalidArgument(
                    f"more than {MAX_TRADES:,} trades of {symbol} in the range: ask for a "
                    "shorter one"
                )
            found = machine.on_trade(trade)
            if found is not None:
                firings.append(found)
                _check_firings(firings)
        return firings
    async for event in market_data.stored_candles(
        storage, symbol, venue, interval, query.from_ms, query.to_ms
    ):
        found = machine.on_candle(event)
        if found is not None:
            firings.append(found)
            _check_firings(firings)
    return firings


def _check_firings(firings: list[Firing]) -> None:
    if len(firings) > MAX_FIRINGS:
        raise InvalidArgument(
            f"the condition fires more than {MAX_FIRINGS:,} times in the range: ask for a "
            "shorter one"
        )
