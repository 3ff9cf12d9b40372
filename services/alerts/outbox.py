"""Recording firings: each firing, its outbox rows (one notification per channel of its rule)
and its rule's new state, with the evaluator's checkpoint, in ONE transaction, committed
before the bus messages that caused them are acked.

- A firing is unique per (rule, event): a redelivered event finds its firing recorded
  (``ON CONFLICT DO NOTHING``) and adds nothing, so nothing is notified twice.
- A notification's idempotency key is ``<firing id>:<channel id>``: fixed here, the same
  on every retry of it (webhook body and header, email Message-ID).
- ``NOTIFY alert_outbox`` goes out with the commit, so a delivery worker waiting on it
  starts at once.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass

import asyncpg

OUTBOX_CHANNEL = "alert_outbox"  # NOTIFY channel: new notifications to send


@dataclass(frozen=True)
class NewFiring:
    """A firing to record, with what the row needs of its rule."""

    rule_id: str
    generation: int
    owner: str
    venue: str
    symbol: str
    condition: str
    interval: str | None
    event_key: str
    time_ms: int
    price: str
    value: float
    trade_id: int | None
    candle_open_ms: int | None
    # The rule's state after firing: ARMED, DISARMED, FINISHED or EXPIRED, and its snapshot.
    state: str
    evaluator_state: dict[str, object] | None


@dataclass(frozen=True)
class RecordedFiring:
    firing_id: int
    firing: NewFiring
    notifications: int


@dataclass(frozen=True)
class FeedPoint:
    """The last event of one series: a trade, or a closed candle (``kind``: kline_<i>)."""

    venue: str
    symbol: str
    kind: str
    last_id: int
    price: str
    time_ms: int


@dataclass(frozen=True)
class RuleCheckpoint:
    """A rule's state moved on without firing (a rule evaluated one by one re-armed, say)."""

    rule_id: str
    generation: int
    state: str
    evaluator_state: dict[str, object]


def _json(document: dict[str, object] | None) -> str | None:
    return None if document is None else json.dumps(document, separators=(",", ":"))


async def record(
    conn: asyncpg.Connection,
    firings: list[NewFiring],
    feeds: list[FeedPoint],
    checkpoints: list[RuleCheckpoint],
) -> list[RecordedFiring]:
    """Record it all in one transaction; the firings that were new (in order).

    A statement per table, each over the whole batch (arrays unnested), not per firing: a
    burst of firings costs a few round trips, not three each, so the evaluator's next
    batch is not held behind them."""
    recorded: list[RecordedFiring] = []
    async with conn.transaction():
        if firings:
            recorded = await _insert_firings(conn, firings)
            await _update_fired_rules(conn, [r.firing for r in recorded])
        if checkpoints:
            await conn.execute(
                "UPDATE alert_rules r SET state = c.state, evaluator_state = c.doc::jsonb "
                "FROM unnest($1::uuid[], $2::bigint[], $3::text[], $4::text[]) "
                "AS c(id, generation, state, doc) "
                "WHERE r.id = c.id AND r.generation = c.generation",
                [c.rule_id for c in checkpoints],
                [c.generation for c in checkpoints],
                [c.state for c in checkpoints],
                [_json(c.evaluator_state) for c in checkpoints],
            )
        if feeds:
            await conn.executemany(
                "INSERT INTO alert_feeds (venue, symbol, kind, last_id, last_price, "
                "last_time_ms) VALUES ($1, $2, $3, $4, $5, $6) "
                "ON CONFLICT (venue, symbol, kind) DO UPDATE SET last_id = excluded.last_id, "
                "last_price = excluded.last_price, last_time_ms = excluded.last_time_ms, "
                "updated_at = now() WHERE alert_feeds.last_id < excluded.last_id",
                [(f.venue, f.symbol, f.kind, f.last_id, f.price, f.time_ms) for f in feeds],
            )
        if any(r.notifications for r in recorded):
            await conn.execute("SELECT pg_notify($1, '')", OUTBOX_CHANNEL)
    return recorded


async def _insert_firings(
    conn: asyncpg.Connection, firings: list[NewFiring]
) -> list[RecordedFiring]:
    """The firings not recorded before, with their outbox rows (one per live channel of
    the rule, in channel id order), in the order given."""
    rows = await conn.fetch(
        "INSERT INTO alert_firings (rule_id, owner, venue, symbol, condition, interval, "
        "event_key, time_ms, price, value, trade_id, candle_open_ms) "
        "SELECT rule_id, owner, venue, symbol, condition, interval, event_key, time_ms, "
        "price, value, trade_id, candle_open_ms FROM unnest($1::uuid[], $2::text[], "
        "$3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::bigint[], "
        "$9::text[], $10::float8[], $11::bigint[], $12::bigint[]) WITH ORDINALITY AS f(rule_id, "
        "owner, venue, symbol, condition, interval, event_key, time_ms, price, value, "
        "trade_id, candle_open_ms, n) ORDER BY n "
        "ON CONFLICT (rule_id, event_key) DO NOTHING RETURNING id, rule_id::text, event_key",
        [f.rule_id for f in firings],
        [f.owner for f in firings],
        [f.venue for f in firings],
        [f.symbol for f in firings],
        [f.condition for f in firings],
        [f.interval for f in firings],
        [f.event_key for f in firings],
        [f.time_ms for f in firings],
        [f.price for f in firings],
        [f.value for f in firings],
        [f.trade_id for f in firings],
        [f.candle_open_ms for f in firings],
    )
    if not rows:
        return []
    ids = {(row["rule_id"], row["event_key"]): int(row["id"]) for row in rows}
    new = [(ids[(f.rule_id, f.event_key)], f) for f in firings if (f.rule_id, f.event_key) in ids]
    added = await conn.fetch(
        "INSERT INTO alert_notifications (firing_id, channel_id, idempotency_key) "
        "SELECT f.id, c.id, f.id::text || ':' || c.id::text "
        "FROM unnest($1::bigint[], $2::uuid[]) AS f(id, rule_id) "
        "JOIN alert_rules r ON r.id = f.rule_id "
        "JOIN alert_channels c ON c.id = ANY(r.channel_ids) AND c.deleted_at IS NULL "
        "ORDER BY f.id, c.id RETURNING firing_id",
        [firing_id for firing_id, _ in new],
        [f.rule_id for _, f in new],
    )
    per_firing = Counter(int(row["firing_id"]) for row in added)
    return [RecordedFiring(firing_id, f, per_firing[firing_id]) for firing_id, f in new]


async def _update_fired_rules(conn: asyncpg.Connection, fired: list[NewFiring]) -> None:
    """Each fired rule's count, last firing and, unless it changed meanwhile (its
    generation moved on), its state after its last firing of the batch."""
    last: dict[str, NewFiring] = {}
    for firing in fired:
        last[firing.rule_id] = firing  # in order: the last one wins
    if not last:
        return
    counts = Counter(f.rule_id for f in fired)
    await conn.execute(
        "UPDATE alert_rules r SET fired_count = r.fired_count + u.fired, "
        "last_fired_ms = u.time_ms, "
        "state = CASE WHEN r.generation = u.generation THEN u.state ELSE r.state END, "
        "evaluator_state = CASE WHEN r.generation = u.generation THEN u.doc::jsonb "
        "ELSE r.evaluator_state END "
        "FROM unnest($1::uuid[], $2::bigint[], $3::bigint[], $4::bigint[], $5::text[], "
        "$6::text[]) AS u(id, fired, time_ms, generation, state, doc) WHERE r.id = u.id",
        list(last),
        [counts[rule_id] for rule_id in last],
        [f.time_ms for f in last.values()],
        [f.generation for f in last.values()],
        [f.state for f in last.values()],
        [_json(f.evaluator_state) for f in last.values()],
    )


async def feed_points(conn: asyncpg.Connection | asyncpg.Pool) -> list[FeedPoint]:
    rows = await conn.fetch(
        "SELECT venue, symbol, kind, last_id, last_price, last_time_ms FROM alert_feeds"
    )
    return [
        FeedPoint(
            row["venue"],
            row["symbol"],
            row["kind"],
            int(row["last_id"]),
            row["last_price"],
            int(row["last_time_ms"]),
        )
        for row in rows
    ]
