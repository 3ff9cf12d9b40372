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

# ListBacktests' bounds: results per market, markets per call.
MAX_LATEST = 100
MAX_MARKETS = 1_000
# A stored result without its equity curve and trades: the lists emptied in SQL, so they are
# neither sent by PostgreSQL nor decoded.
_SUMMARY = (
    "jsonb_set(jsonb_set(jsonb_set(r.result, '{equity_time}', '[]'), '{equity_value}', '[]'), "
    "'{trades}', (SELECT coalesce(jsonb_object_agg(name, '[]'::jsonb), '{}') "
    "FROM jsonb_object_keys(r.result->'trades') AS name))"
)


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

    async def latest(
        self, markets: list[tuple[str, str]], limit: int, *, summary: bool = False
    ) -> dict[tuple[str, str], list[StoredResult]]:
        """The ``limit`` newest results of each (symbol, venue), newest first: one query for
        all of them. ``summary``: without equity curves and trades (empty lists)."""
        if not 1 <= limit <= MAX_LATEST:
            raise InvalidArgument(f"limit {limit}: give 1 to {MAX_LATEST} results a market")
        if len(markets) > MAX_MARKETS:
            raise InvalidArgument(f"{len(markets)} markets: give at most {MAX_MARKETS} a call")
        found: dict[tuple[str, str], list[StoredResult]] = {m: [] for m in markets}
        if not markets:
            return found
        document = _SUMMARY if summary else "r.result"
        rows = await self._pool.fetch(
            f"SELECT k.symbol, k.venue, r.id, r.request::text, {document}::text, r.created_at "
            "FROM unnest($1::text[], $2::text[]) AS k(symbol, venue) "
            "CROSS JOIN LATERAL (SELECT id, request, result, created_at FROM backtest_results "
            "WHERE request->>'symbol' = k.symbol AND request->>'venue' = k.venue "
            "ORDER BY created_at DESC, id DESC LIMIT $3) AS r "
            "ORDER BY k.symbol, k.venue, r.created_at DESC, r.id DESC",
            [symbol for symbol, _ in found],
            [venue for _, venue in found],
            limit,
        )
        for row in rows:
            found[(row[0], row[1])].append(
                StoredResult(
                    str(row[2]),
                    codec.request_from_json(json.loads(row[3])),
                    codec.result_from_json(json.loads(row[4])),
                    _epoch_ms(row[5]),
                )
            )
        return found
