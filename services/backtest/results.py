"""Backtest results in PostgreSQL (table ``backtest_results``, migration 0008)."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from services.backtest import codec
from services.backtest.run import BacktestRequest, BacktestResult
from services.common.errors import InvalidArgument, NotFound


@dataclass(frozen=True, eq=False)
class StoredResult:
    id: str
    request: BacktestRequest
    result: BacktestResult
    created_ms: int


def _epoch_ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def check_id(text: str) -> uuid.UUID:
    try:
        return uuid.UUID(text)
    except ValueError:
        raise InvalidArgument(f"backtest id {text!r} is not a UUID") from None


class ResultRepository:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def save(self, request: BacktestRequest, result: BacktestResult) -> StoredResult:
        result_id = uuid.uuid4()
        created = await self._pool.fetchval(
            "INSERT INTO backtest_results (id, request, result) "
            "VALUES ($1, $2::jsonb, $3::jsonb) RETURNING created_at",
            result_id,
            codec.dumps(codec.request_to_json(request)),
            codec.dumps(codec.result_to_json(result)),
        )
        return StoredResult(str(result_id), request, result, _epoch_ms(created))

    async def get(self, result_id: str) -> StoredResult:
        row = await self._pool.fetchrow(
            "SELECT request::text, result::text, created_at FROM backtest_results WHERE id = $1",
            check_id(result_id),
        )
        if row is None:
            raise NotFound(f"no backtest {result_id}")
        return StoredResult(
            result_id,
            codec.request_from_json(json.loads(row[0])),
            codec.result_from_json(json.loads(row[1])),
            _epoch_ms(row[2]),
        )
