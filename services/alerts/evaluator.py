"""The live evaluator: a durable pull consumer on the MARKET stream feeding every trade and
closed kline to the rule index, recording firings before it acks.

For each fetched batch: decode the trades and closed klines (single events or
``market.v1.EventBatch``es, as storage decodes them; other kinds and bad events are acked
and left to storage's dead-lettering), feed them in order to the venue's :class:`RuleIndex`,
then commit in ONE transaction the firings with their outbox rows and rules' states, the
rules evaluated one by one whose state moved, and the last event of every series seen
(``alert_feeds``). Only then are the messages acked and each new firing published on the
ALERTS stream (``Nats-Msg-Id`` from the rule and event, so a firing is published once).

Nothing lost, nothing twice across a restart: a restarted evaluator resumes each series'
last event and each rule's state from that checkpoint, which is exactly as of the last acked
message, and the bus redelivers everything after it. A redelivered event that was already
committed is skipped by the series' "seen up to" trade id (or candle open time); and
``UNIQUE (rule_id, event_key)`` holds even if it were not. One batch is in flight at a time
(``max_ack_pending``), so after a crash the bus redelivers the uncommitted batch before
anything newer. A commit that fails (PostgreSQL restarting) is retried with the same batch,
its messages kept from redelivery meanwhile, so the in-memory state never runs ahead of the
database.

Rules reload as they change: ``LISTEN alert_rules`` (the stores NOTIFY the rule id), plus a
poll of recently changed rules in case a notification was missed. One evaluator runs per
stack: every instance on the shared durable would see only part of each symbol's trades.
Stale-feed rules (``no_trade(5m)``) are the scheduler's, not the evaluator's.

New and restored rules evaluated one by one are warmed up from storage before their first
live event (:mod:`warmup`): the indicators' candles and the windows of ``change`` and
``volume_spike`` up to the checkpoint, so neither a new rule nor a restart leaves a rule
blind for its warm-up.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import heapq
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal

import asyncpg
import nats.errors
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from services.alerts import candle_builder, metrics
from services.alerts import firing as machine
from services.alerts.candle_builder import CandleBuilder
from services.alerts.fired_events import publish_fired
from services.alerts.market_data import Storage, stored_candles
from services.alerts.outbox import FeedPoint, NewFiring, RecordedFiring, RuleCheckpoint, record
from services.alerts.outbox import feed_points as stored_feed_points
from services.alerts.rule_index import RuleIndex
from services.alerts.rule_store import RULES_CHANNEL, RuleStore, StoredRule
from services.alerts.stale_feed import is_stale_condition
from services.alerts.warmup import needs_warmup, warm
from services.common import names
from services.common.candles import Candle, bucket_open, next_open
from services.common.codec import InvalidEvent, decode_message
from services.common.conditions import ConditionError, parse_condition
from services.common.errors import QuantflowError
from services.common.events import Kline
from services.common.trades import Trade
from services.storage.database_errors import DATABASE_UNAVAILABLE_ERRORS

log = logging.getLogger(__name__)

_FETCH_TIMEOUT_S = 0.5
_DISARMED_LOOK_EVERY_S = 1.0
_TRADES_EVALUATED = metrics.EVENTS.labels(names.TRADE)
_POLL_EVERY_S = 5.0
_RETRY_DELAY_S = 0.5
_MAX_RETRY_DELAY_S = 10.0
# PostgreSQL away or restarting: retried. Anything else is a bug, and ends the service
# (nothing acked is lost; the supervisor restarts it).
_DATABASE_ERRORS = (
    *DATABASE_UNAVAILABLE_ERRORS,
    # asyncpg's own state error on a connection the server dropped mid-operation.
    asyncpg.InternalClientError,
)


def event_key(found: machine.Firing, venue: str, interval: str | None) -> str:
    """A firing's event, as ``alert_firings.event_key`` names it."""
    if found.trade_id is not None:
        return f"trade:{venue}:{found.trade_id}"
    return f"candle:{interval}:{found.candle_open_ms}"


def machine_rule(stored: StoredRule) -> machine.Rule:
    """The evaluator's rule of a stored one (its condition was checked when stored)."""
    return machine.Rule(
        rule_id=stored.id,
        symbol=stored.symbol,
        condition=parse_condition(stored.condition),
        mode=machine.Mode(stored.mode.value),
        cooldown_ms=stored.cooldown_ms,
        rearm=stored.rearm,
        expires_at_ms=stored.expires_ms,
        interval=stored.interval,
    )


def candle_of(kline: Kline) -> Candle:
    return Candle(
        open_time=kline.open_time_ms,
        open=Decimal(kline.open),
        high=Decimal(kline.high),
        low=Decimal(kline.low),
        close=Decimal(kline.close),
        volume=Decimal(kline.volume),
        quote_volume=Decimal(kline.quote_volume),
        trades=kline.trades,
    )


@dataclass
class _Batch:
    messages: list[Msg]
    firings: list[NewFiring]
    feeds: dict[tuple[str, str, str], FeedPoint]
    arrived: float


class Evaluator:
    def __init__(
        self,
        pool: asyncpg.Pool,
        dsn: str,
        js: JetStreamContext,
        namespace: str,
        *,
        storage: Storage | None = None,
        batch_size: int = 2000,
        ack_wait_s: float = 30.0,
    ) -> None:
        """``storage``: where new and restored rules warm up (:mod:`warmup`); None: cold."""
        self._pool = pool
        self._dsn = dsn
        self._js = js
        self._namespace = namespace
        self._batch_size = batch_size
        self._ack_wait_s = ack_wait_s
        self._rules = RuleStore(pool)
        self._indexes: dict[str, RuleIndex] = {}  # by venue
        self._watched: dict[str, StoredRule] = {}  # by rule id
        self._persisted: dict[str, dict[str, object]] = {}  # last stored snapshot, by rule
        # Rules with no stored snapshot yet, by (venue, symbol).
        self._fresh: dict[tuple[str, str], set[str]] = {}
        # Indexed rules stored DISARMED re-arm lazily, without an event of their own, so the
        # batches of their symbol look whether they did; but not before their cooldown ends
        # (or they expire) by the symbol's trade time. By (venue, symbol): those cooling
        # down, a heap of (cooldown end, rule id), stale entries skipped by
        # ``_cooling_end``; and those past it, re-arming at the next trade that makes their
        # condition false.
        self._cooling: dict[tuple[str, str], list[tuple[int, str]]] = {}
        self._cooling_end: dict[str, int] = {}
        self._disarmed: dict[tuple[str, str], set[str]] = {}
        self._disarmed_looked: dict[tuple[str, str], float] = {}  # monotonic time
        self._unlooked: set[tuple[str, str]] = set()
        self._changed: set[str] = set()
        self._listener: asyncpg.Connection | None = None
        self._storage = storage
        self._to_warm: list[str] = []
        # The last event evaluated per (venue, symbol, kind): where warm-ups end.
        self._series: dict[tuple[str, str, str], FeedPoint] = {}
        # Candles of coarser intervals from the 1m klines, and those still to seed.
        self._builder = CandleBuilder()
        self._to_seed: list[tuple[str, str, str]] = []
        self._polled_ms = 0
        self.firings_recorded = 0
        # Set once the durable consumer exists: from then on no market event is missed.
        self.consuming = asyncio.Event()

    # Rules

    async def _load(self) -> None:
        """Every live rule, resumed from the checkpoint."""
        self._indexes.clear()
        self._watched.clear()
        self._persisted.clear()
        self._fresh.clear()
        self._disarmed.clear()
        self._cooling.clear()
        self._cooling_end.clear()
        self._polled_ms = int(time.time() * 1000)
        self._series.clear()
        self._builder = CandleBuilder()
        self._to_seed.clear()
        for point in await stored_feed_points(self._pool):
            self._series[(point.venue, point.symbol, point.kind)] = point
            book = self._index(point.venue).book(point.symbol)
            if point.kind == names.TRADE:
                book.resume(point.venue, point.last_id, float(point.price), point.time_ms)
            elif point.kind.startswith(names.KLINE_PREFIX):
                interval = point.kind.removeprefix(names.KLINE_PREFIX)
                book.resume_candles(interval, point.last_id)
                if interval == candle_builder.SOURCE:
                    self._builder.resume(point.venue, point.symbol, point.last_id)
        for stored in await self._rules.live_rules():
            self._watch(stored)
        metrics.RULES.set(len(self._watched))
        await self._warm_up()
        # The rules live as long as the service: out of the garbage collector's sight, so
        # that its full collections (half a second over 100,000 rules) do not stall trades.
        gc.collect()
        gc.freeze()
        log.info("evaluating %d alert rules", len(self._watched))

    def _index(self, venue: str) -> RuleIndex:
        index = self._indexes.get(venue)
        if index is None:
            index = self._indexes[venue] = RuleIndex()
        return index

    def _watch(self, stored: StoredRule) -> None:
        if not stored.live or is_stale_condition(stored.condition):
            return
        try:
            rule = machine_rule(stored)
        except (ConditionError, ValueError) as error:
            log.error("alert rule %s cannot be evaluated (%s); skipped", stored.id, error)
            return
        index = self._index(stored.venue)
        index.add(rule, stored.evaluator_state)
        self._watched[stored.id] = stored
        if index.machine(stored.id) is not None and needs_warmup(rule.condition):
            self._to_warm.append(stored.id)
        if rule.interval is not None and self._builder.want(
            stored.venue, stored.symbol, rule.interval
        ):
            self._to_seed.append((stored.venue, stored.symbol, rule.interval))
        key = (stored.venue, stored.symbol)
        if stored.evaluator_state is None:
            self._fresh.setdefault(key, set()).add(stored.id)
        else:
            self._persisted[stored.id] = stored.evaluator_state
            if index.machine(stored.id) is None:
                self._cool(key, rule, stored.evaluator_state)

    def _unwatch(self, rule_id: str) -> None:
        stored = self._watched.pop(rule_id, None)
        if stored is not None:
            self._index(stored.venue).remove(rule_id)
        self._persisted.pop(rule_id, None)
        if stored is not None:
            self._fresh.get((stored.venue, stored.symbol), set()).discard(rule_id)
            self._disarmed.get((stored.venue, stored.symbol), set()).discard(rule_id)
        self._cooling_end.pop(rule_id, None)

    def _cool(self, key: tuple[str, str], rule: machine.Rule, snapshot: dict[str, object]) -> None:
        """Note an indexed rule as of its stored ``snapshot``: if DISARMED, it is looked at
        for re-arming only from the end of its cooldown (or its expiry) on."""
        self._disarmed.get(key, set()).discard(rule.rule_id)
        self._cooling_end.pop(rule.rule_id, None)
        if snapshot.get("state") != machine.State.DISARMED.value:
            return
        fired_ms = snapshot.get("fired_ms")
        end = (fired_ms if isinstance(fired_ms, int) else 0) + rule.cooldown_ms
        if rule.expires_at_ms is not None:
            end = min(end, rule.expires_at_ms)
        self._cooling_end[rule.rule_id] = end
        heapq.heappush(self._cooling.setdefault(key, []), (end, rule.rule_id))

    def _cooled(self, key: tuple[str, str], index: RuleIndex) -> set[str]:
        """The disarmed indexed rules of ``key`` whose cooldown ended by its last trade."""
        disarmed = self._disarmed.setdefault(key, set())
        cooling = self._cooling.get(key)
        if cooling:
            now_ms = index.book(key[1]).time_ms
            while cooling and cooling[0][0] <= now_ms:
                end, rule_id = heapq.heappop(cooling)
                if self._cooling_end.get(rule_id) == end:
                    del self._cooling_end[rule_id]
                    disarmed.add(rule_id)
        return disarmed

    def _heard(self, connection: object, pid: int, channel: str, payload: object) -> None:
        self._changed.add(str(payload))

    async def _listen(self) -> None:
        """(Re)open the LISTEN connection if it is not open."""
        if self._listener is not None and not self._listener.is_closed():
            return
        with contextlib.suppress(*_DATABASE_ERRORS):
            self._listener = await asyncpg.connect(
                self._dsn, timeout=10, server_settings={"application_name": "quantflow-alerts"}
            )
            await self._listener.add_listener(RULES_CHANNEL, self._heard)

    async def _apply_changes(self) -> None:
        now_ms = int(time.time() * 1000)
        if now_ms - self._polled_ms >= _POLL_EVERY_S * 1000:
            await self._listen()
            # A margin for clock skew and transactions committed a little late.
            for rule_id, generation in await self._rules.changed_since(self._polled_ms - 10_000):
                known = self._watched.get(rule_id)
                if known is None or known.generation != generation:
                    self._changed.add(rule_id)
            self._polled_ms = now_ms
        if not self._changed:
            return
        changed, self._changed = self._changed, set()
        try:
            current = await self._rules.current(sorted(changed))
        except _DATABASE_ERRORS:
            self._changed |= changed  # looked at again on the retry
            raise
        for rule_id in changed:
            stored = current.get(rule_id)
            known = self._watched.get(rule_id)
            if stored is not None and known is not None and stored.generation == known.generation:
                continue  # the evaluator's own state update, or a repeat
            self._unwatch(rule_id)
            if stored is not None:
                self._watch(stored)
        metrics.RULES.set(len(self._watched))
        await self._warm_up()

    async def _warm_up(self) -> None:
        """Warm the rules just watched from storage, before their first live event, and seed
        the candles being built for them with the minutes already gone by."""
        pending, self._to_warm = self._to_warm, []
        seeds, self._to_seed = self._to_seed, []
        if self._storage is None:
            return
        for venue, symbol, interval in seeds:
            span = self._builder.pending_since(venue, symbol, interval)
            if span is None:
                continue
            try:
                minutes = [
                    event.candle
                    async for event in stored_candles(
                        self._storage, symbol, venue, candle_builder.SOURCE, *span
                    )
                ]
            except QuantflowError as error:
                log.warning("cannot seed %s %s candles: %s", symbol, interval, error)
                continue
            self._builder.seed(venue, symbol, interval, minutes)
        now_ms = int(time.time() * 1000)
        for rule_id in pending:
            stored = self._watched.get(rule_id)
            if stored is None:
                continue
            found = self._index(stored.venue).machine(rule_id)
            if found is None:
                continue
            await warm(
                self._storage,
                found,
                stored.venue,
                now_ms,
                self._candles_before(stored),
                self._seen_trade(stored),
            )

    def _candles_before(self, stored: StoredRule) -> int | None:
        """Where a candle rule's warm-up ends: after the last candle of its interval
        evaluated, or, for a built interval, before the candle in progress."""
        if stored.interval is None:
            return None
        point = self._series.get((stored.venue, stored.symbol, names.kline_kind(stored.interval)))
        if point is not None:
            return point.last_id + 1
        minute = self._series.get(
            (stored.venue, stored.symbol, names.kline_kind(candle_builder.SOURCE))
        )
        if minute is not None and candle_builder.built_from_minutes(stored.interval):
            upcoming = next_open(candle_builder.SOURCE, minute.last_id)
            return bucket_open(stored.interval, upcoming)
        return None

    def _seen_trade(self, stored: StoredRule) -> tuple[int, int] | None:
        if stored.interval is not None:
            return None
        point = self._series.get((stored.venue, stored.symbol, names.TRADE))
        return None if point is None else (point.last_id, point.time_ms)

    # The market

    async def run(self, stop: asyncio.Event) -> None:
        await self._until_done(stop, self._load)
        await self._listen()
        subscription = await self._js.pull_subscribe(
            names.market_subjects(self._namespace)[0],
            durable=names.alerts_market_durable(self._namespace),
            stream=names.market_stream(self._namespace),
            config=ConsumerConfig(
                ack_policy=AckPolicy.EXPLICIT,
                # A new evaluator watches from now: rules are about the live market.
                deliver_policy=DeliverPolicy.NEW,
                ack_wait=self._ack_wait_s,
                # One batch in flight: after a crash, the bus redelivers that batch before
                # anything newer, so no event is passed over as "seen" by a newer one.
                max_ack_pending=self._batch_size,
            ),
        )
        self.consuming.set()
        try:
            while not stop.is_set():
                try:
                    messages = await subscription.fetch(self._batch_size, timeout=_FETCH_TIMEOUT_S)
                except TimeoutError:
                    await self._until_done(stop, self._apply_changes)
                    await self._until_done(stop, self._look_while_idle)
                    continue
                except nats.errors.Error as error:
                    log.warning("fetch failed (%s); retrying", error)
                    await asyncio.sleep(_RETRY_DELAY_S)
                    continue
                await self._until_done(stop, self._apply_changes)
                batch = self._evaluate(messages)
                recorded = await self._commit(batch, stop)
                if recorded is None:  # stopped before the commit: delivered again at once
                    for message in messages:
                        with contextlib.suppress(nats.errors.Error):
                            await message.nak()
                    return
                await self._acknowledge(messages)
                await publish_fired(self._js, self._namespace, recorded)
        finally:
            with contextlib.suppress(nats.errors.Error):
                await subscription.unsubscribe()
            if self._listener is not None:
                with contextlib.suppress(*_DATABASE_ERRORS):
                    await self._listener.close()

    async def _look_while_idle(self) -> None:
        """Store the re-arming of disarmed rules not looked at since their last trades."""
        if not self._unlooked:
            return
        symbols = set(self._unlooked)
        checkpoints = self._checkpoints(symbols, look_now=True)
        if not checkpoints:
            return
        try:
            async with self._pool.acquire() as conn:
                await record(conn, [], [], checkpoints)
        except _DATABASE_ERRORS:
            for checkpoint in checkpoints:  # not stored: found moved again on the retry
                self._persisted.pop(checkpoint.rule_id, None)
            self._unlooked |= symbols
            raise

    async def _acknowledge(self, messages: list[Msg]) -> None:
        """Ack a committed batch. An ack that is lost only means a redelivery, skipped."""
        for message in messages:
            with contextlib.suppress(nats.errors.Error):
                await message.ack()

    async def _until_done(self, stop: asyncio.Event, step: Callable[[], Awaitable[None]]) -> None:
        """Run a database step, retrying while PostgreSQL is away (or until ``stop``)."""
        delay = _RETRY_DELAY_S
        while True:
            try:
                await step()
                return
            except _DATABASE_ERRORS as error:
                if stop.is_set():
                    return
                log.warning("alerts evaluator: database unavailable (%s); retrying", error)
                await asyncio.sleep(delay)
                delay = min(delay * 2, _MAX_RETRY_DELAY_S)

    def _evaluate(self, messages: list[Msg]) -> _Batch:
        batch = _Batch(messages, [], {}, time.perf_counter())
        last_trades: dict[tuple[str, str, str], Trade] = {}
        trades = 0
        for message in messages:
            try:
                kind = names.subject_kind(message.subject, self._namespace)
            except ValueError:
                continue
            is_kline = kind.startswith(names.KLINE_PREFIX)
            if kind != names.TRADE and not is_kline:
                continue
            try:
                events = decode_message(kind, message.data, message.headers)
            except ValueError:
                continue  # not an event at all: storage dead-letters it
            for event in events:
                if isinstance(event, InvalidEvent):
                    continue
                if isinstance(event, Trade):
                    trades += 1
                    self._on_trade(event, batch, last_trades)
                elif isinstance(event, Kline) and event.closed:
                    self._on_kline(event, batch)
        _TRADES_EVALUATED.inc(trades)
        for key, trade in last_trades.items():
            batch.feeds[key] = FeedPoint(
                trade.venue,
                trade.symbol,
                names.TRADE,
                trade.trade_id,
                trade.price,
                trade.trade_time_ms,
            )
        return batch

    def _on_trade(
        self, trade: Trade, batch: _Batch, last_trades: dict[tuple[str, str, str], Trade]
    ) -> None:
        key = (trade.venue, trade.symbol, names.TRADE)
        last = last_trades.get(key)
        if last is None or last.trade_id < trade.trade_id:
            last_trades[key] = trade  # the series' feed point, made once for the batch
        index = self._indexes.get(trade.venue)
        if index is not None:
            for found in index.on_trade(trade):
                batch.firings.append(self._new_firing(found, trade.venue, index))

    def _on_kline(self, kline: Kline, batch: _Batch) -> None:
        metrics.EVENTS.labels(kline.kind).inc()
        candle = candle_of(kline)
        self._on_candle(kline.venue, kline.symbol, kline.interval, candle, kline.close, batch)
        if kline.interval == candle_builder.SOURCE:
            for interval, built in self._builder.on_minute(kline.venue, kline.symbol, candle):
                close = format(built.close, "f")
                self._on_candle(kline.venue, kline.symbol, interval, built, close, batch)

    def _on_candle(
        self, venue: str, symbol: str, interval: str, candle: Candle, close: str, batch: _Batch
    ) -> None:
        kind = names.kline_kind(interval)
        point = batch.feeds.get((venue, symbol, kind))
        if point is None or point.last_id < candle.open_time:
            batch.feeds[(venue, symbol, kind)] = FeedPoint(
                venue, symbol, kind, candle.open_time, close, candle.open_time
            )
        index = self._indexes.get(venue)
        if index is not None:
            event = machine.CandleEvent(symbol, interval, candle)
            for found in index.on_candle(event):
                batch.firings.append(self._new_firing(found, venue, index))

    def _new_firing(self, found: machine.Firing, venue: str, index: RuleIndex) -> NewFiring:
        stored = self._watched[found.rule_id]
        snapshot = index.snapshot(found.rule_id)
        self._persisted[found.rule_id] = snapshot
        self._fresh.get((venue, stored.symbol), set()).discard(found.rule_id)
        if index.machine(stored.id) is None:
            self._cool((venue, stored.symbol), index.rule(stored.id), snapshot)
        return NewFiring(
            rule_id=stored.id,
            generation=stored.generation,
            owner=stored.owner,
            venue=venue,
            symbol=stored.symbol,
            condition=stored.condition,
            interval=stored.interval,
            event_key=event_key(found, venue, stored.interval),
            time_ms=found.time_ms,
            price=found.price,
            value=found.value,
            trade_id=found.trade_id,
            candle_open_ms=found.candle_open_ms,
            state=str(snapshot["state"]).upper(),
            evaluator_state=snapshot,
        )

    def _checkpoints(
        self, touched: set[tuple[str, str]], look_now: bool = False
    ) -> list[RuleCheckpoint]:
        """Rules of the (venue, symbol)s ``touched`` by the batch whose lifecycle moved since
        it was last stored: rules evaluated one by one (their state moves at any event), and
        new rules once they have seen their first event (a restarted evaluator must not take
        that event for their first again), and disarmed indexed rules once they re-armed (so
        that the rule's state is right in the API; a restart would re-arm them the same)."""
        moved: dict[str, RuleCheckpoint] = {}
        for venue, symbol in touched:
            index = self._indexes.get(venue)
            if index is None:
                continue
            fresh = self._fresh.get((venue, symbol), set())
            disarmed = self._cooled((venue, symbol), index)
            # Their re-arming is looked at once a second per symbol, not at every batch:
            # the state the API shows lags by that at most.
            # An idle evaluator looks at the symbols traded since their last look.
            looked = self._disarmed_looked.get((venue, symbol), 0.0)
            if disarmed and not look_now and time.monotonic() - looked < _DISARMED_LOOK_EVERY_S:
                self._unlooked.add((venue, symbol))
                disarmed = set()
            else:
                self._disarmed_looked[(venue, symbol)] = time.monotonic()
                self._unlooked.discard((venue, symbol))
            for rule_id in [*index.book(symbol).machine_ids(), *fresh, *disarmed]:
                known = self._persisted.get(rule_id)
                if rule_id in disarmed:
                    # Most are still disarmed (their condition still holds): no snapshot.
                    if (
                        known is not None
                        and known["state"] == machine.State.DISARMED.value
                        and index.state(rule_id) is machine.State.DISARMED
                    ):
                        continue
                    snapshot = index.snapshot(rule_id)
                    if known is not None and known["state"] == snapshot["state"]:
                        continue
                    disarmed.discard(rule_id)
                else:
                    snapshot = index.snapshot(rule_id)
                    if known == snapshot or (known is None and snapshot.get("before") is None):
                        continue
                stored = self._watched[rule_id]
                state = str(snapshot["state"]).upper()
                moved[rule_id] = RuleCheckpoint(rule_id, stored.generation, state, snapshot)
                self._persisted[rule_id] = snapshot
                fresh.discard(rule_id)
        return list(moved.values())

    async def _commit(self, batch: _Batch, stop: asyncio.Event) -> list[RecordedFiring] | None:
        """Record the batch, retrying while PostgreSQL is away; None if stopped first."""
        checkpoints = self._checkpoints({(venue, symbol) for venue, symbol, _ in batch.feeds})
        delay = _RETRY_DELAY_S
        while True:
            try:
                async with self._pool.acquire() as conn:
                    recorded = await record(
                        conn, batch.firings, list(batch.feeds.values()), checkpoints
                    )
                break
            except _DATABASE_ERRORS as error:
                log.warning(
                    "cannot record %d firings (%s); retrying in %.1fs",
                    len(batch.firings),
                    error,
                    delay,
                )
                for message in batch.messages:  # still ours: no redelivery meanwhile
                    with contextlib.suppress(nats.errors.Error):
                        await message.in_progress()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), delay)
                if stop.is_set():
                    return None
                delay = min(delay * 2, _MAX_RETRY_DELAY_S)
        self._series.update(batch.feeds)
        elapsed = time.perf_counter() - batch.arrived
        for done in recorded:
            metrics.TRADE_TO_OUTBOX.observe(elapsed)
            metrics.FIRINGS.inc()
            if done.firing.state in ("FINISHED", "EXPIRED"):
                self._unwatch(done.firing.rule_id)
        metrics.REDELIVERED.inc(len(batch.firings) - len(recorded))
        self.firings_recorded += len(recorded)
        return recorded
