"""What became of each firing: the firings of an owner (or of one rule), newest first, each
with its deliveries (one per channel, from the outbox) and every attempt of each.

Pages are keyset pages on the firing id (a bigserial, so newest first is id descending):
the page token is the last id answered, which stays right however many firings are
recorded while a client pages.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

import asyncpg

from services.alerts.channels.outcome import ChannelKind
from services.alerts.validation import parse_id
from services.common.errors import InvalidArgument, NotFound

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 500


@dataclass(frozen=True)
class AttemptRecord:
    number: int
    started_ms: int
    finished_ms: int | None
    outcome: str
    detail: str


@dataclass
class DeliveryRecord:
    id: int
    channel_id: str
    channel_kind: ChannelKind
    channel_name: str
    status: str
    reason: str
    idempotency_key: str
    possible_duplicate: bool
    delivered_ms: int | None
    attempts: list[AttemptRecord] = field(default_factory=list)


@dataclass
class FiringRecord:
    id: int
    rule_id: str
    symbol: str
    condition: str
    time_ms: int
    price: str
    value: float
    trade_id: int | None
    candle_open_ms: int | None
    recorded_ms: int
    deliveries: list[DeliveryRecord] = field(default_factory=list)


def page_size_of(given: int) -> int:
    if given < 0:
        raise InvalidArgument(f"first: at least 1, not {given}")
    return min(given or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)


def _after(token: str) -> int | None:
    if not token:
        return None
    if not token.isdigit():
        raise InvalidArgument(f"after: {token[:40]!r} is not a page token from this list")
    return int(token)


def _ms(row: asyncpg.Record, column: str) -> int | None:
    moment = row[column]
    return None if moment is None else int(moment.timestamp() * 1000)


async def list_firings(
    pool: asyncpg.Pool, owner: str, rule_id: str, page_size: int, page_token: str
) -> tuple[list[FiringRecord], str]:
    """One page of firings and the token of the next ('' on the last page)."""
    size, after = page_size_of(page_size), _after(page_token)
    rule: uuid.UUID | None = None
    if rule_id:
        rule = parse_id(rule_id, "ruleId")
        found = await pool.fetchval(
            "SELECT 1 FROM alert_rules WHERE id = $1 AND owner = $2", rule, owner
        )
        if found is None:
            raise NotFound(f"no alert rule {rule_id}")
    rows = await pool.fetch(
        "SELECT id, rule_id, symbol, condition, time_ms, price, value, trade_id, "
        "candle_open_ms, recorded_at FROM alert_firings "
        "WHERE owner = $1 AND ($2::uuid IS NULL OR rule_id = $2) "
        "AND ($3::bigint IS NULL OR id < $3) ORDER BY id DESC LIMIT $4",
        owner,
        rule,
        after,
        size + 1,
    )
    more = len(rows) > size
    firings = [
        FiringRecord(
            id=int(row["id"]),
            rule_id=str(row["rule_id"]),
            symbol=row["symbol"],
            condition=row["condition"],
            time_ms=int(row["time_ms"]),
            price=row["price"],
            value=float(row["value"]),
            trade_id=row["trade_id"],
            candle_open_ms=row["candle_open_ms"],
            recorded_ms=_ms(row, "recorded_at") or 0,
        )
        for row in rows[:size]
    ]
    await _fill_deliveries(pool, firings)
    return firings, (str(firings[-1].id) if more else "")


async def _fill_deliveries(pool: asyncpg.Pool, firings: list[FiringRecord]) -> None:
    if not firings:
        return
    by_id = {firing.id: firing for firing in firings}
    rows = await pool.fetch(
        "SELECT n.id, n.firing_id, n.channel_id, c.kind, c.name, n.status, n.reason, "
        "n.idempotency_key, n.possible_duplicate, n.delivered_at "
        "FROM alert_notifications n JOIN alert_channels c ON c.id = n.channel_id "
        "WHERE n.firing_id = ANY($1::bigint[]) ORDER BY n.firing_id, n.id",
        list(by_id),
    )
    deliveries: dict[int, DeliveryRecord] = {}
    for row in rows:
        delivery = DeliveryRecord(
            id=int(row["id"]),
            channel_id=str(row["channel_id"]),
            channel_kind=ChannelKind(row["kind"]),
            channel_name=row["name"],
            status=row["status"],
            reason=row["reason"],
            idempotency_key=row["idempotency_key"],
            possible_duplicate=bool(row["possible_duplicate"]),
            delivered_ms=_ms(row, "delivered_at"),
        )
        deliveries[delivery.id] = delivery
        by_id[int(row["firing_id"])].deliveries.append(delivery)
    if not deliveries:
        return
    attempts = await pool.fetch(
        "SELECT notification_id, number, started_at, finished_at, outcome, detail "
        "FROM alert_delivery_attempts WHERE notification_id = ANY($1::bigint[]) "
        "ORDER BY notification_id, number",
        list(deliveries),
    )
    for row in attempts:
        deliveries[int(row["notification_id"])].attempts.append(
            AttemptRecord(
                number=int(row["number"]),
                started_ms=_ms(row, "started_at") or 0,
                finished_ms=_ms(row, "finished_at"),
                outcome=row["outcome"],
                detail=row["detail"],
            )
        )
