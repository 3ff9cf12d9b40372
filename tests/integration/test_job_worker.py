"""services/backtest/worker.py against real PostgreSQL and NATS JetStream, with runners
standing in for the backtest work (the one thing injected)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import asyncpg
import pytest
import pytest_asyncio
from nats.aio.client import Client as NatsClient

from quantflow.backtest.v1 import jobs_pb2
from services.backtest.job_events import JobEventPublisher
from services.backtest.job_store import JobStore
from services.backtest.jobs import Job, JobKind, JobState, Progress
from services.backtest.worker import JobWorker, Report
from services.common import bus, names
from services.common.errors import InvalidArgument
from services.storage.migrations import migrate
from tests.integration.helpers import eventually

pytestmark = pytest.mark.integration

Runner = Callable[[Job, Report], Awaitable[dict[str, Any]]]


class Harness:
    def __init__(self, store: JobStore, nats: NatsClient, namespace: str) -> None:
        self.store = store
        self.nats = nats
        self.namespace = namespace
        self._workers: list[tuple[asyncio.Event, asyncio.Task[None]]] = []

    def worker(self, runner: Runner, max_attempts: int = 3) -> asyncio.Event:
        """Start a worker; set the returned event to stop it."""
        stop = asyncio.Event()
        worker = JobWorker(
            self.nats.jetstream(),
            self.store,
            JobEventPublisher(self.nats, self.namespace),
            runner,
            self.namespace,
            ack_wait_s=2.0,
            max_attempts=max_attempts,
        )
        self._workers.append((stop, asyncio.create_task(worker.run(stop))))
        return stop

    async def submit(self, request: dict[str, Any] | None = None) -> Job:
        job = await self.store.create(JobKind.OPTIMIZE, request or {})
        await self.nats.jetstream().publish(
            names.job_work_subject("optimize", self.namespace), job.id.encode()
        )
        return job

    async def ended(self, job_id: str) -> Job:
        async def done() -> bool:
            return (await self.store.get(job_id)).state.terminal

        await eventually(done, timeout=30)
        return await self.store.get(job_id)

    async def queued_messages(self) -> int:
        info = await self.nats.jetstream().stream_info(names.jobs_stream(self.namespace))
        return int(info.state.messages)

    async def close(self) -> None:
        for stop, task in self._workers:
            stop.set()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait_for(task, 10)


@pytest_asyncio.fixture
async def harness(
    database_url: str, nats_client: NatsClient, namespace: str
) -> AsyncIterator[Harness]:
    conn = await asyncpg.connect(database_url)
    try:
        await migrate(conn)
    finally:
        await conn.close()
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=4)
    await bus.ensure_jobs_stream(nats_client.jetstream(), namespace)
    harness = Harness(JobStore(pool), nats_client, namespace)
    yield harness
    await harness.close()
    await pool.close()


async def _counting(job: Job, report: Report) -> dict[str, Any]:
    for step in range(1, 11):
        report(Progress.of(step, 10, "steps"))
        await asyncio.sleep(0.01)
    return {"steps": 10}


async def test_job_runs_to_its_result_and_leaves_the_queue(harness: Harness) -> None:
    harness.worker(_counting)
    job = await harness.ended((await harness.submit()).id)
    assert (job.state, job.result, job.attempts, job.progress) == (
        JobState.SUCCEEDED,
        {"steps": 10},
        1,
        1.0,
    )
    await eventually(lambda: _none_left(harness))


async def _none_left(harness: Harness) -> bool:
    return await harness.queued_messages() == 0


async def test_job_cancelled_while_queued_never_runs(harness: Harness) -> None:
    ran: list[str] = []

    async def runner(job: Job, report: Report) -> dict[str, Any]:
        ran.append(job.id)
        return {}

    job = await harness.submit()
    await harness.store.request_cancel(job.id)
    harness.worker(runner)
    await eventually(lambda: _none_left(harness))
    assert (await harness.store.get(job.id)).state is JobState.CANCELLED
    assert ran == []


async def test_invalid_request_fails_the_job_with_its_message(harness: Harness) -> None:
    async def runner(job: Job, report: Report) -> dict[str, Any]:
        raise InvalidArgument("fats: no parameter of sma_cross (fast, slow)")

    harness.worker(runner)
    job = await harness.ended((await harness.submit()).id)
    assert job.state is JobState.FAILED
    assert job.error == "fats: no parameter of sma_cross (fast, slow)"


async def test_cancel_of_running_job_stops_it_at_its_next_step(harness: Harness) -> None:
    async def endless(job: Job, report: Report) -> dict[str, Any]:
        def work() -> None:
            step = 0
            while True:
                step += 1
                report(Progress(min(0.99, step / 1e6), f"{step} steps"))

        await asyncio.to_thread(work)
        return {}

    harness.worker(endless)
    job = await harness.submit()

    async def running() -> bool:
        return (await harness.store.get(job.id)).progress > 0

    await eventually(running)
    await harness.store.request_cancel(job.id)
    ended = await harness.ended(job.id)
    assert ended.state is JobState.CANCELLED and ended.result is None


async def test_stopped_worker_hands_its_job_to_the_next(harness: Harness) -> None:
    started = asyncio.Event()

    async def slow(job: Job, report: Report) -> dict[str, Any]:
        started.set()
        for step in range(1, 201):
            report(Progress.of(step, 200, "steps"))
            await asyncio.sleep(0.01)
        return {"done": True}

    stop_first = harness.worker(slow)
    job = await harness.submit()
    await asyncio.wait_for(started.wait(), 10)
    stop_first.set()
    harness.worker(_counting)
    ended = await harness.ended(job.id)
    assert (ended.state, ended.attempts) == (JobState.SUCCEEDED, 2)


async def test_job_whose_workers_keep_dying_is_failed_after_max_attempts(
    harness: Harness,
) -> None:
    job = await harness.submit()
    for _ in range(2):  # two workers took it and died: it is still RUNNING
        await harness.store.start(job.id)
    harness.worker(_counting, max_attempts=2)
    ended = await harness.ended(job.id)
    assert ended.state is JobState.FAILED
    assert "gave up after 2 attempts" in ended.error


async def test_progress_events_on_the_bus_only_move_forward(harness: Harness) -> None:
    job = await harness.store.create(JobKind.OPTIMIZE, {})
    seen: list[jobs_pb2.JobEvent] = []

    async def collect(message: Any) -> None:
        event = jobs_pb2.JobEvent()
        event.ParseFromString(message.data)
        seen.append(event)

    await harness.nats.subscribe(names.job_progress_subject(job.id, harness.namespace), cb=collect)
    await harness.nats.jetstream().publish(
        names.job_work_subject("optimize", harness.namespace), job.id.encode()
    )
    harness.worker(_counting)
    await harness.ended(job.id)
    await eventually(lambda: _final_seen(seen))
    progress = [event.progress for event in seen]
    assert progress == sorted(progress)
    assert seen[-1].state == jobs_pb2.JOB_STATE_SUCCEEDED


async def _final_seen(seen: list[jobs_pb2.JobEvent]) -> bool:
    return bool(seen) and seen[-1].state == jobs_pb2.JOB_STATE_SUCCEEDED


async def test_running_job_outlives_a_database_outage_in_one_attempt(
    harness: Harness, database_url: str, postgres_admin_url: str
) -> None:
    """Heartbeats that meet no database (connections dropped, none accepted) are skipped:
    the job keeps running on its worker, and ends once, in its first attempt."""
    started = asyncio.Event()
    release = asyncio.Event()

    async def waiting(job: Job, report: Report) -> dict[str, Any]:
        started.set()
        step = 0
        while not release.is_set():
            step += 1
            report(Progress(min(0.99, step / 1000), f"{step} steps"))
            await asyncio.sleep(0.05)
        return {"steps": step}

    harness.worker(waiting)
    job = await harness.submit()
    await asyncio.wait_for(started.wait(), 10)
    database = database_url.rsplit("/", 1)[1]
    admin = await asyncpg.connect(postgres_admin_url)
    try:
        await admin.execute(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS false')
        dropped = await admin.fetch(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1",
            database,
        )
        assert dropped
        await asyncio.sleep(2.5)  # a few heartbeats (every 0.5 s) find the database away
    finally:
        await admin.execute(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS true')
        await admin.close()
    release.set()
    ended = await harness.ended(job.id)
    assert (ended.state, ended.attempts) == (JobState.SUCCEEDED, 1)
    assert ended.result is not None and ended.result["steps"] > 40
