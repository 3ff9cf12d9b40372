"""Jobs in PostgreSQL (table ``jobs``, migration 0009).

Every transition is one conditional ``UPDATE … WHERE state = ANY(<sources>)`` with the
sources :mod:`services.backtest.jobs` allows, so concurrent workers cannot both record a
result, and progress is written only when it moves forward.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import asyncpg

from services.backtest.jobs import (
    Job,
    JobKind,
    JobState,
    Page,
    Progress,
    check_move,
    parse_job_id,
    sources_of,
)
from services.common.errors import NotFound

# The owner of jobs submitted without one: the local admin (services/common/auth/modes.py).
LOCAL = "local"

# jsonb crosses as text (json.dumps / json.loads here), so the pool needs no codec and is
# shared with the backtest results repository.
_COLUMNS = (
    "id, kind, state, request::text AS request, progress, progress_message, "
    "result::text AS result, error, attempts, cancel_requested, created_at, started_at, "
    "finished_at"
)


def _dumps(document: dict[str, Any]) -> str:
    """JSON without NaN or Infinity, which PostgreSQL's jsonb refuses."""
    return json.dumps(document, allow_nan=False, separators=(",", ":"))


def _job(row: asyncpg.Record) -> Job:
    return Job(
        id=str(row["id"]),
        kind=JobKind(row["kind"]),
        state=JobState(row["state"]),
        request=json.loads(row["request"]),
        progress=float(row["progress"]),
        message=row["progress_message"],
        result=None if row["result"] is None else json.loads(row["result"]),
        error=row["error"],
        attempts=int(row["attempts"]),
        cancel_requested=bool(row["cancel_requested"]),
        created_at=row["created_at"],
        started_at=row["started_at"],
        finished_at=row["finished_at"],
    )


class JobStore:
    """The ``jobs`` table. Methods that move a job return the job as it now is, or None
    when the move did not apply (someone else moved it first)."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def create(self, kind: JobKind, request: dict[str, Any], owner: str = LOCAL) -> Job:
        row = await self._pool.fetchrow(
            "INSERT INTO jobs (id, kind, request, owner) VALUES ($1, $2, $3::jsonb, $4) "
            f"RETURNING {_COLUMNS}",
            uuid.uuid4(),
            kind.value,
            _dumps(request),
            owner,
        )
        return _job(row)

    async def get(self, job_id: str, owner: str | None = None) -> Job:
        """The job (of ``owner``, when given); NOT_FOUND naming it when there is none."""
        row = await self._pool.fetchrow(
            f"SELECT {_COLUMNS} FROM jobs WHERE id = $1 AND ($2::text IS NULL OR owner = $2)",
            uuid.UUID(parse_job_id(job_id)),
            owner,
        )
        if row is None:
            raise NotFound(f"no job {job_id}")
        return _job(row)

    async def list(self, page: Page, owner: str = LOCAL) -> tuple[list[Job], bool]:
        """A page of ``owner``'s jobs, newest first, and whether more follow."""
        if page.after is None:
            rows = await self._pool.fetch(
                f"SELECT {_COLUMNS} FROM jobs WHERE owner = $2 "
                "ORDER BY created_at DESC, id DESC LIMIT $1",
                page.first + 1,
                owner,
            )
        else:
            created, job_id = page.after
            rows = await self._pool.fetch(
                f"SELECT {_COLUMNS} FROM jobs WHERE owner = $4 AND (created_at, id) < ($2, $3) "
                "ORDER BY created_at DESC, id DESC LIMIT $1",
                page.first + 1,
                created,
                uuid.UUID(job_id),
                owner,
            )
        return [_job(row) for row in rows[: page.first]], len(rows) > page.first

    async def _move(
        self, job_id: str, target: JobState, assignments: str, *values: Any
    ) -> Job | None:
        row = await self._pool.fetchrow(
            f"UPDATE jobs SET state = $2, {assignments} "
            f"WHERE id = $1 AND state = ANY($3::text[]) RETURNING {_COLUMNS}",
            uuid.UUID(job_id),
            target.value,
            sources_of(target),
            *values,
        )
        return None if row is None else _job(row)

    async def start(self, job_id: str) -> Job | None:
        """QUEUED or RUNNING (a redelivery) → RUNNING, one more attempt."""
        return await self._move(
            job_id,
            JobState.RUNNING,
            "attempts = attempts + 1, started_at = coalesce(started_at, now())",
        )

    async def succeed(self, job_id: str, result: dict[str, Any]) -> Job | None:
        """RUNNING → SUCCEEDED with ``result``; None when another worker finished it first."""
        return await self._move(
            job_id,
            JobState.SUCCEEDED,
            "result = $4::jsonb, progress = 1, finished_at = now()",
            _dumps(result),
        )

    async def fail(self, job_id: str, error: str) -> Job | None:
        return await self._move(job_id, JobState.FAILED, "error = $4, finished_at = now()", error)

    async def cancelled(self, job_id: str) -> Job | None:
        """Record that the job stopped (or never started) because a cancel was asked."""
        return await self._move(
            job_id, JobState.CANCELLED, "cancel_requested = true, finished_at = now()"
        )

    async def request_cancel(self, job_id: str, owner: str | None = None) -> Job:
        """Ask a job to stop: a queued one is CANCELLED at once; a running one is flagged
        and its worker stops at its next progress step. FAILED_PRECONDITION when it has
        already finished."""
        row = await self._pool.fetchrow(
            "UPDATE jobs SET cancel_requested = true, "
            "state = CASE WHEN state = 'QUEUED' THEN 'CANCELLED' ELSE state END, "
            "finished_at = CASE WHEN state = 'QUEUED' THEN now() ELSE finished_at END "
            "WHERE id = $1 AND state IN ('QUEUED', 'RUNNING') "
            f"AND ($2::text IS NULL OR owner = $2) RETURNING {_COLUMNS}",
            uuid.UUID(parse_job_id(job_id)),
            owner,
        )
        if row is not None:
            return _job(row)
        current = await self.get(job_id, owner)
        check_move(current.state, JobState.CANCELLED, job_id)
        return current

    async def record_progress(self, job_id: str, progress: Progress) -> bool:
        """Write ``progress`` when it moves the running job forward; True when it did (then
        it is news worth publishing)."""
        row = await self._pool.fetchrow(
            "UPDATE jobs SET progress = $2, progress_message = $3 "
            "WHERE id = $1 AND state = 'RUNNING' AND progress < $2 RETURNING id",
            uuid.UUID(job_id),
            progress.fraction,
            progress.message,
        )
        return row is not None

    async def cancel_requested(self, job_id: str) -> bool:
        value = await self._pool.fetchval(
            "SELECT cancel_requested FROM jobs WHERE id = $1", uuid.UUID(job_id)
        )
        return bool(value)
