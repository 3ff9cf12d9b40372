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
    """Record it all in one transaction; the firings that were new (in order)."""
    recorded: list[RecordedFiring] = []
    async with conn.transaction():
        for firing in firings:
            firing_id = await conn.fetchval(
                "INSERT INTO alert_firings (rule_id, owner, venue, symbol, condition, interval, "
                "event_key, time_ms, price, value, trade_id, candle_open_ms) "
                "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) "
                "ON CONFLICT (rule_id, event_key) DO NOTHING RETURNING id",
                firing.rule_id,
                firing.owner,
                firing.venue,
                firing.symbol,
                firing.condition,
                firing.interval,
                firing.event_key,
                firing.time_ms,
                firing.price,
                firing.value,
                firing.trade_id,
                firing.candle_open_ms,
            )
            if firing_id is None:
                continue
            added = await conn.fetchval(
                "WITH added AS (INSERT INTO alert_notifications "
                "(firing_id, channel_id, idempotency_key) "
                "SELECT $1::bigint, c.id, $1::bigint::text || ':' || c.id::text FROM alert_rules r "
                "JOIN alert_channels c ON c.id = ANY(r.channel_ids) AND c.deleted_at IS NULL "
                "WHERE r.id = $2 ORDER BY c.id RETURNING 1) SELECT count(*) FROM added",
                firing_id,
                firing.rule_id,
            )
            await conn.execute(
                "UPDATE alert_rules SET fired_count = fired_count + 1, last_fired_ms = $2, "
                "state = CASE WHEN generation = $3 THEN $4 ELSE state END, "
                "evaluator_state = CASE WHEN generation = $3 THEN $5::jsonb "
                "ELSE evaluator_state END WHERE id = $1",
                firing.rule_id,
                firing.time_ms,
                firing.generation,
                firing.state,
                _json(firing.evaluator_state),
            )
            recorded.append(RecordedFiring(int(firing_id), firing, int(added)))
        for checkpoint in checkpoints:
            await conn.execute(
                "UPDATE alert_rules SET state = $3, evaluator_state = $4::jsonb "
                "WHERE id = $1 AND generation = $2",
                checkpoint.rule_id,
                checkpoint.generation,
                checkpoint.state,
                _json(checkpoint.evaluator_state),
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
