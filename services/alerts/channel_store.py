"""Notification channels in PostgreSQL (``alert_channels``, migration 0010).

Scoped by owner: another owner's channel is as unknown as one that never existed
(NOT_FOUND). Deleting is soft (``deleted_at``): the outbox rows of past firings keep
pointing at the channel, so ``notifications`` can still say where they went; a deleted
channel gets no new notifications and cannot be added to a rule.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

import asyncpg

from services.alerts.channels.outcome import Channel, ChannelKind
from services.alerts.validation import ChannelInput, parse_id
from services.common.errors import InvalidArgument, NotFound

_COLUMNS = "id, owner, kind, name, target, secret, created_at"


@dataclass(frozen=True)
class StoredChannel:
    id: str
    owner: str
    kind: ChannelKind
    name: str
    target: str
    secret: str
    created_ms: int

    def __repr__(self) -> str:
        return f"StoredChannel(id={self.id!r}, kind={self.kind.value}, name={self.name!r})"

    def destination(self) -> Channel:
        """Where a sender sends to."""
        return Channel(self.kind, self.target, self.secret)


def _channel(row: asyncpg.Record) -> StoredChannel:
    return StoredChannel(
        id=str(row["id"]),
        owner=row["owner"],
        kind=ChannelKind(row["kind"]),
        name=row["name"],
        target=row["target"],
        secret=row["secret"],
        created_ms=int(row["created_at"].timestamp() * 1000),
    )


class ChannelStore:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def create(self, owner: str, given: ChannelInput) -> StoredChannel:
        row = await self._pool.fetchrow(
            f"INSERT INTO alert_channels (id, owner, kind, name, target, secret) "
            f"VALUES ($1, $2, $3, $4, $5, $6) RETURNING {_COLUMNS}",
            uuid.uuid4(),
            owner,
            given.kind.value,
            given.name,
            given.target,
            given.secret,
        )
        return _channel(row)

    async def of_owner(self, owner: str) -> list[StoredChannel]:
        rows = await self._pool.fetch(
            f"SELECT {_COLUMNS} FROM alert_channels WHERE owner = $1 AND deleted_at IS NULL "
            "ORDER BY created_at, id",
            owner,
        )
        return [_channel(row) for row in rows]

    async def get(self, owner: str, channel_id: str) -> StoredChannel:
        row = await self._pool.fetchrow(
            f"SELECT {_COLUMNS} FROM alert_channels "
            "WHERE id = $1 AND owner = $2 AND deleted_at IS NULL",
            parse_id(channel_id, "channelId"),
            owner,
        )
        if row is None:
            raise NotFound(f"no notification channel {channel_id}")
        return _channel(row)

    async def delete(self, owner: str, channel_id: str) -> None:
        done = await self._pool.execute(
            "UPDATE alert_channels SET deleted_at = now() "
            "WHERE id = $1 AND owner = $2 AND deleted_at IS NULL",
            parse_id(channel_id, "id"),
            owner,
        )
        if done != "UPDATE 1":
            raise NotFound(f"no notification channel {channel_id}")


async def check_owned(
    conn: asyncpg.Connection | asyncpg.Pool, owner: str, ids: Sequence[uuid.UUID]
) -> None:
    """INVALID_ARGUMENT naming the first of ``ids`` that is not a live channel of ``owner``."""
    if not ids:
        return
    rows = await conn.fetch(
        "SELECT id FROM alert_channels WHERE id = ANY($1::uuid[]) AND owner = $2 "
        "AND deleted_at IS NULL",
        list(ids),
        owner,
    )
    found = {row["id"] for row in rows}
    for channel_id in ids:
        if channel_id not in found:
            raise InvalidArgument(f"channelIds: no notification channel {channel_id}")
