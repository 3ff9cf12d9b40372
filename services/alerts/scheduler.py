"""Periodic checks, every few seconds:

- Expiry: a live rule whose ``expiresAt`` has come is marked EXPIRED (the store NOTIFYs, so
  the evaluator drops it from its index; the evaluator also never fires a rule on an event
  at or after its expiry, whenever this check runs).
- Stale feeds: each live ``no_trade(<duration>)`` rule (:mod:`services.alerts.stale_feed`)
  whose symbol has had no trade for that long fires through the same outbox as any rule:
  one firing per silence, its notifications in the same transaction, then ``AlertFired``
  on the bus.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

import asyncpg
from nats.js import JetStreamContext

from services.alerts import metrics
from services.alerts.fired_events import publish_fired
from services.alerts.outbox import NewFiring, RecordedFiring, feed_points, record
from services.alerts.rule_store import RuleStore, StoredRule
from services.alerts.stale_feed import LastTrade, parse_stale_condition, silence
from services.alerts.validation import Mode
from services.common import names
from services.common.errors import InvalidArgument

log = logging.getLogger(__name__)

CHECK_EVERY_S = 5.0
_DATABASE_ERRORS = (
    OSError,
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
    asyncpg.InternalClientError,
)


class Scheduler:
    def __init__(
        self,
        pool: asyncpg.Pool,
        js: JetStreamContext,
        namespace: str,
        now_ms: Callable[[], int],
        every_s: float = CHECK_EVERY_S,
    ) -> None:
        self._pool = pool
        self._js = js
        self._namespace = namespace
        self._now_ms = now_ms
        self._every_s = every_s
        self._rules = RuleStore(pool)

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self.check()
            except _DATABASE_ERRORS as error:
                log.warning("alerts scheduler: database unavailable (%s)", error)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self._every_s)

    async def check(self) -> list[RecordedFiring]:
        """One round: expiries, then stale feeds; the stale-feed firings recorded."""
        now = self._now_ms()
        expired = await self._rules.expire_due(now)
        if expired:
            log.info("expired %d alert rules", len(expired))
        recorded = await self._stale_feeds(now)
        await publish_fired(self._js, self._namespace, recorded)
        return recorded

    async def _stale_feeds(self, now_ms: int) -> list[RecordedFiring]:
        rules = await self._rules.live_stale_feed_rules()
        if not rules:
            return []
        last = {
            (p.venue, p.symbol): LastTrade(p.last_id, p.price, p.committed_ms)
            for p in await feed_points(self._pool)
            if p.kind == names.TRADE
        }
        firings = []
        for rule in rules:
            found = self._silence(rule, last.get((rule.venue, rule.symbol)), now_ms)
            if found is not None:
                firings.append(found)
        if not firings:
            return []
        async with self._pool.acquire() as conn:
            recorded = await record(conn, firings, [], [])
        metrics.FIRINGS.inc(len(recorded))
        return recorded

    def _silence(self, rule: StoredRule, last: LastTrade | None, now_ms: int) -> NewFiring | None:
        try:
            silence_ms = parse_stale_condition(rule.condition)
        except InvalidArgument:
            return None
        found = silence(
            rule.venue,
            silence_ms,
            last,
            rule.created_ms,
            rule.last_fired_ms,
            rule.cooldown_ms,
            now_ms,
        )
        if found is None:
            return None
        return NewFiring(
            rule_id=rule.id,
            generation=rule.generation,
            owner=rule.owner,
            venue=rule.venue,
            symbol=rule.symbol,
            condition=rule.condition,
            interval=None,
            event_key=found.event_key,
            time_ms=found.time_ms,
            price=found.price,
            value=float(found.price),
            trade_id=found.trade_id,
            candle_open_ms=None,
            # A RECURRING stale-feed rule is ready for the next silence at once (that
            # needs a new trade first); a ONCE rule is done.
            state="FINISHED" if rule.mode is Mode.ONCE else "ARMED",
            evaluator_state=None,
        )
