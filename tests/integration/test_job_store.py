"""services/backtest/job_store.py against a real PostgreSQL: each transition once."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest
import pytest_asyncio

from services.backtest.job_store import JobStore
from services.backtest.jobs import JobKind, JobState, Progress, cursor, page
from services.common.errors import FailedPrecondition, NotFound
from services.storage.migrations import migrate


@pytest_asyncio.fixture
async def store(database_url: str) -> AsyncIterator[JobStore]:
    conn = await asyncpg.connect(database_url)
    try:
        await migrate(conn)
    finally:
        await conn.close()
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=2)
    yield JobStore(pool)
    await pool.close()


async def test_created_job_is_queued_with_its_request(store: JobStore) -> None:
    job = await store.create(JobKind.OPTIMIZE, {"symbol": "BTCUSDT", "ranges": [1, 2]})
    stored = await store.get(job.id)
    assert stored.state is JobState.QUEUED
    assert stored.request == {"symbol": "BTCUSDT", "ranges": [1, 2]}
    assert stored.attempts == 0


async def test_get_unknown_job_is_not_found_naming_it(store: JobStore) -> None:
    missing = "5b1f3c9e-8d2a-4c6b-9a51-2f7e0d4c8b13"
    with pytest.raises(NotFound, match=missing):
        await store.get(missing)


async def test_second_start_is_another_attempt(store: JobStore) -> None:
    job = await store.create(JobKind.BACKTEST, {})
    first = await store.start(job.id)
    second = await store.start(job.id)
    assert first is not None and second is not None
    assert (first.attempts, second.attempts) == (1, 2)
    assert second.started_at == first.started_at


async def test_result_is_recorded_once_when_two_workers_finish(store: JobStore) -> None:
    job = await store.create(JobKind.BACKTEST, {})
    await store.start(job.id)
    first = await store.succeed(job.id, {"by": "worker a"})
    second = await store.succeed(job.id, {"by": "worker b"})
    assert first is not None and first.state is JobState.SUCCEEDED
    assert second is None
    assert (await store.get(job.id)).result == {"by": "worker a"}


async def test_progress_is_written_only_when_it_moves_forward(store: JobStore) -> None:
    job = await store.create(JobKind.OPTIMIZE, {})
    assert not await store.record_progress(job.id, Progress(0.2, "queued jobs make none"))
    await store.start(job.id)
    assert await store.record_progress(job.id, Progress(0.5, "45/90"))
    assert not await store.record_progress(job.id, Progress(0.1, "9/90 (a new attempt)"))
    stored = await store.get(job.id)
    assert (stored.progress, stored.message) == (0.5, "45/90")


async def test_cancel_queued_job_cancels_it_at_once(store: JobStore) -> None:
    job = await store.create(JobKind.OPTIMIZE, {})
    cancelled = await store.request_cancel(job.id)
    assert cancelled.state is JobState.CANCELLED
    assert cancelled.finished_at is not None
    assert await store.start(job.id) is None


async def test_cancel_running_job_flags_it_for_its_worker(store: JobStore) -> None:
    job = await store.create(JobKind.OPTIMIZE, {})
    await store.start(job.id)
    flagged = await store.request_cancel(job.id)
    assert flagged.state is JobState.RUNNING
    assert await store.cancel_requested(job.id)


async def test_cancel_finished_job_is_failed_precondition(store: JobStore) -> None:
    job = await store.create(JobKind.BACKTEST, {})
    await store.start(job.id)
    await store.succeed(job.id, {})
    with pytest.raises(FailedPrecondition, match="SUCCEEDED"):
        await store.request_cancel(job.id)


async def test_list_pages_newest_first_without_overlap(store: JobStore) -> None:
    created = [await store.create(JobKind.BACKTEST, {"n": n}) for n in range(5)]
    first, more = await store.list(page(2, None))
    second, _ = await store.list(page(2, cursor(first[-1])))
    third, last_more = await store.list(page(2, cursor(second[-1])))
    listed = [job.id for job in first + second + third]
    assert more and not last_more
    assert listed == [job.id for job in reversed(created)]
