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
    # When the evaluator committed it (wall clock, epoch ms; read back only).
    committed_ms: int = 0


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
    """Record it all in one transaction, in a few statements whatever the batch holds; the
    firings that were new, in order (their ids ascend in that order)."""
    async with conn.transaction():
        recorded = await _insert_firings(conn, firings)
        notified = await _insert_notifications(conn, recorded)
        await _update_fired_rules(conn, recorded)
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
            await conn.execute(
                "INSERT INTO alert_feeds (venue, symbol, kind, last_id, last_price, last_time_ms) "
                "SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], "
                "$5::text[], $6::bigint[]) "
                "ON CONFLICT (venue, symbol, kind) DO UPDATE SET last_id = excluded.last_id, "
                "last_price = excluded.last_price, last_time_ms = excluded.last_time_ms, "
                "updated_at = now() WHERE alert_feeds.last_id < excluded.last_id",
                [f.venue for f in feeds],
                [f.symbol for f in feeds],
                [f.kind for f in feeds],
                [f.last_id for f in feeds],
                [f.price for f in feeds],
                [f.time_ms for f in feeds],
            )
        if notified:
            await conn.execute("SELECT pg_notify($1, '')", OUTBOX_CHANNEL)
    return [
        RecordedFiring(firing_id, firing, notified.get(firing_id, 0))
        for firing_id, firing in recorded
    ]


async def _insert_firings(
    conn: asyncpg.Connection, firings: list[NewFiring]
) -> list[tuple[int, NewFiring]]:
    """The new ones (a redelivered event's firing is already there), with their ids."""
    if not firings:
        return []
    rows = await conn.fetch(
        "INSERT INTO alert_firings (rule_id, owner, venue, symbol, condition, interval, "
        "event_key, time_ms, price, value, trade_id, candle_open_ms) "
        "SELECT rule_id, owner, venue, symbol, condition, interval, event_key, time_ms, price, "
        "value, trade_id, candle_open_ms FROM unnest($1::uuid[], $2::text[], $3::text[], "
        "$4::text[], $5::text[], $6::text[], $7::text[], $8::bigint[], $9::text[], "
        "$10::float8[], $11::bigint[], $12::bigint[]) WITH ORDINALITY AS f(rule_id, owner, "
        "venue, symbol, condition, interval, event_key, time_ms, price, value, trade_id, "
        "candle_open_ms, place) ORDER BY place "
        "ON CONFLICT (rule_id, event_key) DO NOTHING RETURNING id, rule_id, event_key",
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
    by_key = {(f.rule_id, f.event_key): f for f in firings}
    new = [(int(row["id"]), by_key[(str(row["rule_id"]), row["event_key"])]) for row in rows]
    return sorted(new, key=lambda item: item[0])


async def _insert_notifications(
    conn: asyncpg.Connection, recorded: list[tuple[int, NewFiring]]
) -> dict[int, int]:
    """One outbox row per firing and live channel of its rule; how many per firing."""
    if not recorded:
        return {}
    rows = await conn.fetch(
        "INSERT INTO alert_notifications (firing_id, channel_id, idempotency_key) "
        "SELECT f.firing_id, c.id, f.firing_id::text || ':' || c.id::text "
        "FROM unnest($1::bigint[], $2::uuid[]) AS f(firing_id, rule_id) "
        "JOIN alert_rules r ON r.id = f.rule_id "
        "JOIN alert_channels c ON c.id = ANY(r.channel_ids) AND c.deleted_at IS NULL "
        "ORDER BY f.firing_id, c.id RETURNING firing_id",
        [firing_id for firing_id, _ in recorded],
        [firing.rule_id for _, firing in recorded],
    )
    counts: dict[int, int] = {}
    for row in rows:
        counts[int(row["firing_id"])] = counts.get(int(row["firing_id"]), 0) + 1
    return counts


async def _update_fired_rules(
    conn: asyncpg.Connection, recorded: list[tuple[int, NewFiring]]
) -> None:
    """Each fired rule's count, last firing and (unless it changed meanwhile) its state as
    of its last firing in the batch."""
    if not recorded:
        return
    last: dict[str, NewFiring] = {}
    count: dict[str, int] = {}
    for _, firing in recorded:
        last[firing.rule_id] = firing
        count[firing.rule_id] = count.get(firing.rule_id, 0) + 1
    fired = list(last.values())
    await conn.execute(
        "UPDATE alert_rules r SET fired_count = r.fired_count + u.fired, "
        "last_fired_ms = u.time_ms, "
        "state = CASE WHEN r.generation = u.generation THEN u.state ELSE r.state END, "
        "evaluator_state = CASE WHEN r.generation = u.generation THEN u.doc::jsonb "
        "ELSE r.evaluator_state END "
        "FROM unnest($1::uuid[], $2::bigint[], $3::bigint[], $4::bigint[], $5::text[], "
        "$6::text[]) AS u(id, fired, time_ms, generation, state, doc) WHERE r.id = u.id",
        [f.rule_id for f in fired],
        [count[f.rule_id] for f in fired],
        [f.time_ms for f in fired],
        [f.generation for f in fired],
        [f.state for f in fired],
        [_json(f.evaluator_state) for f in fired],
    )


async def feed_points(conn: asyncpg.Connection | asyncpg.Pool) -> list[FeedPoint]:
    rows = await conn.fetch(
        "SELECT venue, symbol, kind, last_id, last_price, last_time_ms, "
        "(extract(epoch FROM updated_at) * 1000)::bigint AS committed_ms FROM alert_feeds"
    )
    return [
        FeedPoint(
            row["venue"],
            row["symbol"],
            row["kind"],
            int(row["last_id"]),
            row["last_price"],
            int(row["last_time_ms"]),
            int(row["committed_ms"]),
        )
        for row in rows
    ]
