"""Alert rules in PostgreSQL (``alert_rules``, migration 0010).

Scoped by owner like channels (another owner's rule is NOT_FOUND). Every change bumps the
rule's ``generation`` and sends ``NOTIFY alert_rules, '<rule id>'`` in the same transaction,
so running evaluators reload that rule as soon as it is committed (they also poll, for a
notification lost while their listening connection was down).

Updating a rule replaces its input. It starts afresh (state ARMED, no evaluator state: its
next evaluation only sets its state) when its symbol, venue, condition or interval changed,
or when it had finished or expired (an edited finished rule watches again); otherwise it
keeps its state, cooldown and re-arm included. Pausing keeps the state; resuming starts the
rule afresh, since it saw nothing while paused. Deleting is soft: firings keep their rule.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg

from services.alerts.channel_store import check_owned
from services.alerts.validation import Mode, RuleInput, parse_id
from services.common.errors import NotFound

RULES_CHANNEL = "alert_rules"  # NOTIFY channel: payload the changed rule's id

_COLUMNS = (
    "id, owner, venue, symbol, condition, interval, mode, cooldown_ms, rearm, expires_at, "
    "channel_ids, paused, state, generation, evaluator_state::text AS evaluator_state, "
    "fired_count, last_fired_ms, created_at, updated_at"
)
LIVE_STATES = ("ARMED", "DISARMED")


def _ms(moment: datetime | None) -> int | None:
    return None if moment is None else int(moment.timestamp() * 1000)


def _moment(ms: int | None) -> datetime | None:
    return None if ms is None else datetime.fromtimestamp(ms / 1000, UTC)


@dataclass(frozen=True)
class StoredRule:
    id: str
    owner: str
    venue: str
    symbol: str
    condition: str
    interval: str | None
    mode: Mode
    cooldown_ms: int
    rearm: float | None
    expires_ms: int | None
    channel_ids: tuple[str, ...]
    paused: bool
    state: str  # ARMED, DISARMED, FINISHED, EXPIRED
    generation: int
    evaluator_state: dict[str, Any] | None
    fired_count: int
    last_fired_ms: int | None
    created_ms: int
    updated_ms: int

    @property
    def live(self) -> bool:
        """Whether an evaluator watches it."""
        return not self.paused and self.state in LIVE_STATES


def rule_of(row: asyncpg.Record) -> StoredRule:
    state = row["evaluator_state"]
    return StoredRule(
        id=str(row["id"]),
        owner=row["owner"],
        venue=row["venue"],
        symbol=row["symbol"],
        condition=row["condition"],
        interval=row["interval"],
        mode=Mode(row["mode"]),
        cooldown_ms=int(row["cooldown_ms"]),
        rearm=row["rearm"],
        expires_ms=_ms(row["expires_at"]),
        channel_ids=tuple(str(c) for c in row["channel_ids"]),
        paused=bool(row["paused"]),
        state=row["state"],
        generation=int(row["generation"]),
        evaluator_state=None if state is None else json.loads(state),
        fired_count=int(row["fired_count"]),
        last_fired_ms=row["last_fired_ms"],
        created_ms=_ms(row["created_at"]) or 0,
        updated_ms=_ms(row["updated_at"]) or 0,
    )


async def _notify(conn: asyncpg.Connection, rule_id: str) -> None:
    await conn.execute("SELECT pg_notify($1, $2)", RULES_CHANNEL, rule_id)


class RuleStore:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def create(self, owner: str, given: RuleInput) -> StoredRule:
        rule_id = uuid.uuid4()
        async with self._pool.acquire() as conn, conn.transaction():
            await check_owned(conn, owner, given.channel_ids)
            row = await conn.fetchrow(
                f"INSERT INTO alert_rules (id, owner, venue, symbol, condition, interval, mode, "
                f"cooldown_ms, rearm, expires_at, channel_ids) "
                f"VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING {_COLUMNS}",
                rule_id,
                owner,
                given.venue,
                given.symbol,
                given.condition,
                given.interval,
                given.mode.value,
                given.cooldown_ms,
                given.rearm,
                _moment(given.expires_ms),
                list(given.channel_ids),
            )
            await _notify(conn, str(rule_id))
        return rule_of(row)

    async def of_owner(self, owner: str, symbol: str = "") -> list[StoredRule]:
        rows = await self._pool.fetch(
            f"SELECT {_COLUMNS} FROM alert_rules WHERE owner = $1 AND deleted_at IS NULL "
            "AND ($2 = '' OR symbol = $2) ORDER BY created_at DESC, id",
            owner,
            symbol.strip().upper(),
        )
        return [rule_of(row) for row in rows]

    async def get(self, owner: str, rule_id: str) -> StoredRule:
        row = await self._pool.fetchrow(
            f"SELECT {_COLUMNS} FROM alert_rules "
            "WHERE id = $1 AND owner = $2 AND deleted_at IS NULL",
            parse_id(rule_id, "id"),
            owner,
        )
        if row is None:
            raise NotFound(f"no alert rule {rule_id}")
        return rule_of(row)

    async def update(self, owner: str, rule_id: str, given: RuleInput) -> StoredRule:
        key = parse_id(rule_id, "id")
        async with self._pool.acquire() as conn, conn.transaction():
            current = await conn.fetchrow(
                "SELECT venue, symbol, condition, interval, state FROM alert_rules "
                "WHERE id = $1 AND owner = $2 AND deleted_at IS NULL FOR UPDATE",
                key,
                owner,
            )
            if current is None:
                raise NotFound(f"no alert rule {rule_id}")
            await check_owned(conn, owner, given.channel_ids)
            afresh = current["state"] not in LIVE_STATES or (
                current["venue"],
                current["symbol"],
                current["condition"],
                current["interval"],
            ) != (given.venue, given.symbol, given.condition, given.interval)
            row = await conn.fetchrow(
                f"UPDATE alert_rules SET venue = $3, symbol = $4, condition = $5, interval = $6, "
                f"mode = $7, cooldown_ms = $8, rearm = $9, expires_at = $10, channel_ids = $11, "
                f"state = CASE WHEN $12 THEN 'ARMED' ELSE state END, "
                f"evaluator_state = CASE WHEN $12 THEN NULL ELSE evaluator_state END, "
                f"generation = generation + 1, updated_at = now() "
                f"WHERE id = $1 AND owner = $2 RETURNING {_COLUMNS}",
                key,
                owner,
                given.venue,
                given.symbol,
                given.condition,
                given.interval,
                given.mode.value,
                given.cooldown_ms,
                given.rearm,
                _moment(given.expires_ms),
                list(given.channel_ids),
                afresh,
            )
            await _notify(conn, rule_id)
        return rule_of(row)

    async def pause(self, owner: str, rule_id: str) -> StoredRule:
        return await self._change(owner, rule_id, "paused = true")

    async def resume(self, owner: str, rule_id: str) -> StoredRule:
        return await self._change(
            owner,
            rule_id,
            "paused = false, evaluator_state = CASE WHEN paused THEN NULL ELSE evaluator_state END",
        )

    async def delete(self, owner: str, rule_id: str) -> None:
        await self._change(owner, rule_id, "deleted_at = now()")

    async def _change(self, owner: str, rule_id: str, assignments: str) -> StoredRule:
        async with self._pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow(
                f"UPDATE alert_rules SET {assignments}, generation = generation + 1, "
                f"updated_at = now() WHERE id = $1 AND owner = $2 AND deleted_at IS NULL "
                f"RETURNING {_COLUMNS}",
                parse_id(rule_id, "id"),
                owner,
            )
            if row is None:
                raise NotFound(f"no alert rule {rule_id}")
            await _notify(conn, rule_id)
        return rule_of(row)

    # The evaluator's and the scheduler's reads: every owner's rules.

    async def live_rules(self) -> list[StoredRule]:
        """Every rule an evaluator should watch."""
        rows = await self._pool.fetch(
            f"SELECT {_COLUMNS} FROM alert_rules WHERE deleted_at IS NULL AND NOT paused "
            "AND state = ANY($1::text[])",
            list(LIVE_STATES),
        )
        return [rule_of(row) for row in rows]

    async def live_stale_feed_rules(self) -> list[StoredRule]:
        """Every live ``no_trade(…)`` rule (the scheduler's)."""
        rows = await self._pool.fetch(
            f"SELECT {_COLUMNS} FROM alert_rules WHERE deleted_at IS NULL AND NOT paused "
            "AND state = ANY($1::text[]) AND ltrim(condition) LIKE 'no\\_trade%'",
            list(LIVE_STATES),
        )
        return [rule_of(row) for row in rows]

    async def current(self, rule_ids: list[str]) -> dict[str, StoredRule]:
        """The rules of ``rule_ids`` that exist and are not deleted, by id (one query)."""
        ids = []
        for rule_id in rule_ids:
            try:
                ids.append(uuid.UUID(rule_id))
            except ValueError:
                continue  # not a rule id (a stray NOTIFY payload)
        rows = await self._pool.fetch(
            f"SELECT {_COLUMNS} FROM alert_rules WHERE id = ANY($1::uuid[]) AND deleted_at IS NULL",
            ids,
        )
        return {str(row["id"]): rule_of(row) for row in rows}

    async def changed_since(self, since_ms: int) -> list[tuple[str, int]]:
        """(id, generation) of every rule changed at or after ``since_ms``, deleted or not."""
        rows = await self._pool.fetch(
            "SELECT id, generation FROM alert_rules WHERE updated_at >= $1", _moment(since_ms)
        )
        return [(str(row["id"]), int(row["generation"])) for row in rows]

    async def expire_due(self, now_ms: int) -> list[str]:
        """Mark EXPIRED every live rule whose ``expires_at`` has come; their ids."""
        async with self._pool.acquire() as conn, conn.transaction():
            rows = await conn.fetch(
                "UPDATE alert_rules SET state = 'EXPIRED', generation = generation + 1, "
                "updated_at = now() WHERE deleted_at IS NULL AND expires_at <= $1 "
                "AND state = ANY($2::text[]) RETURNING id",
                _moment(now_ms),
                list(LIVE_STATES),
            )
            for row in rows:
                await _notify(conn, str(row["id"]))
        return [str(row["id"]) for row in rows]
