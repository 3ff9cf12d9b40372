"""The job worker: takes jobs from the JOBS work queue, runs them, records one result.

One job at a time per worker. While a job runs, the worker tells JetStream it is still at
it (``in_progress``) every ``heartbeat_s``, so a live worker keeps its job however long it
takes; a worker that dies stops doing so, and JetStream hands the job to another after
``ack_wait``. The message is acked only once the job's outcome is committed to PostgreSQL,
and the outcome is a conditional ``UPDATE`` (:mod:`services.backtest.job_store`), so a job
run twice still ends with one result.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

import asyncpg
import nats.errors
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from prometheus_client import Counter

from services.backtest.job_events import JobEventPublisher, job_event
from services.backtest.job_store import JobStore
from services.backtest.jobs import Claim, Job, JobCancelled, Progress, claim
from services.common import names
from services.common.errors import InvalidArgument, NotFound, QuantflowError
from services.storage.database_errors import DATABASE_UNAVAILABLE_ERRORS

log = logging.getLogger(__name__)

_RETRY_DELAY_S = 2.0

ENDED = Counter(
    "quantflow_backtest_jobs_ended_total", "Jobs this worker took to an end", ["kind", "state"]
)

Report = Callable[[Progress], None]


# Runs one job's work to its result (JSON); calls ``report`` as it goes (from any thread).
# ``report`` raises JobCancelled when the job must stop; the runner lets it propagate.
# services.backtest.job_runner.JobRunner is the real one.
Runner = Callable[[Job, Report], Awaitable[dict[str, Any]]]


class _Stopped(JobCancelled):
    """The worker is stopping: the job goes back to the queue for another worker."""


class _Tracker:
    """The latest progress a running job reported, and whether it must stop; shared between
    the job's thread and the worker's event loop."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._latest: Progress | None = None
        self._stop: type[JobCancelled] | None = None

    def report(self, progress: Progress) -> None:
        with self._lock:
            self._latest = progress
            stop = self._stop
        if stop is not None:
            raise stop(stop.__doc__ or "stopped")

    def take(self) -> Progress | None:
        with self._lock:
            latest, self._latest = self._latest, None
        return latest

    def stop(self, reason: type[JobCancelled]) -> None:
        with self._lock:
            self._stop = reason


class JobWorker:
    def __init__(
        self,
        js: JetStreamContext,
        store: JobStore,
        events: JobEventPublisher,
        runner: Runner,
        namespace: str,
        *,
        ack_wait_s: float = 30.0,
        max_attempts: int = 3,
    ) -> None:
        self._js = js
        self._store = store
        self._events = events
        self._runner = runner
        self._namespace = namespace
        self._ack_wait_s = ack_wait_s
        # Well inside ack_wait, so one late heartbeat does not lose the job.
        self._heartbeat_s = max(0.1, min(1.0, ack_wait_s / 4))
        self._max_attempts = max_attempts

    async def run(self, stop: asyncio.Event) -> None:
        subscription = await self._js.pull_subscribe(
            names.jobs_subjects(self._namespace)[0],
            durable=names.backtest_jobs_durable(self._namespace),
            stream=names.jobs_stream(self._namespace),
            config=ConsumerConfig(
                ack_policy=AckPolicy.EXPLICIT,
                deliver_policy=DeliverPolicy.ALL,
                ack_wait=self._ack_wait_s,
                max_ack_pending=1000,
            ),
        )
        try:
            while not stop.is_set():
                try:
                    messages = await subscription.fetch(1, timeout=1.0)
                except TimeoutError:
                    continue
                except nats.errors.Error as error:
                    log.warning("jobs fetch failed (%s); retrying", error)
                    await asyncio.sleep(_RETRY_DELAY_S)
                    continue
                for message in messages:
                    try:
                        await self.handle(message, stop)
                    except Exception:
                        # The database gone, say: the job stays queued, and this worker lives.
                        log.exception("job message %r: not handled; retrying later", message.data)
                        with contextlib.suppress(nats.errors.Error):
                            await message.nak(delay=_RETRY_DELAY_S)
                        await asyncio.sleep(_RETRY_DELAY_S)
        finally:
            await subscription.unsubscribe()

    async def handle(self, message: Msg, stop: asyncio.Event) -> None:
        """Take one delivered job to its end (or back to the queue), then ack it."""
        job_id = message.data.decode(errors="replace")
        try:
            job = await self._store.get(job_id)
        except (NotFound, InvalidArgument) as error:
            log.warning("dropping job message %r: %s", job_id, error)
            await message.term()
            return
        decision = claim(job, self._max_attempts)
        if decision is Claim.SKIP:
            await message.ack()
            return
        if decision is Claim.CANCEL:
            await self._finish(await self._store.cancelled(job.id))
            await message.ack()
            return
        if decision is Claim.GIVE_UP:
            reason = f"gave up after {job.attempts} attempts (each one's worker stopped)"
            await self._finish(await self._store.fail(job.id, reason))
            await message.ack()
            return
        started = await self._store.start(job.id)
        if started is None:  # cancelled or finished between the read and now
            await message.ack()
            return
        log.info("job %s (%s): attempt %d", started.id, started.kind, started.attempts)
        await self._events.publish(job_event(started))
        if await self._work(started, message, stop):
            await message.ack()
        else:
            await message.nak()

    async def _work(self, job: Job, message: Msg, stop: asyncio.Event) -> bool:
        """Run the job while keeping it; False when it goes back to the queue."""
        tracker = _Tracker()
        work = asyncio.ensure_future(self._runner(job, tracker.report))
        while not work.done():
            await asyncio.wait({work}, timeout=self._heartbeat_s)
            if work.done():
                break
            with contextlib.suppress(nats.errors.Error):
                await message.in_progress()
            if stop.is_set():
                tracker.stop(_Stopped)
            try:
                await self._record(job, tracker)
                if not stop.is_set() and await self._store.cancel_requested(job.id):
                    tracker.stop(JobCancelled)
            except (*DATABASE_UNAVAILABLE_ERRORS, asyncpg.PostgresError) as error:
                # The database away or the connection dropped: the job keeps running and
                # the next heartbeat tries again (its progress and any cancel wait till then).
                log.warning("job %s: heartbeat not recorded (%s)", job.id, error)
        try:
            result = work.result()
        except _Stopped:
            log.info("job %s: stopping; it goes back to the queue", job.id)
            return False
        except JobCancelled:
            await self._finish(await self._store.cancelled(job.id))
            return True
        except QuantflowError as error:
            if error.retryable:
                log.warning("job %s: %s; it goes back to the queue", job.id, error)
                return False
            await self._finish(await self._store.fail(job.id, str(error)))
            return True
        except Exception as error:
            log.exception("job %s failed", job.id)
            await self._finish(await self._store.fail(job.id, f"internal error: {error}"))
            return True
        await self._record(job, tracker)
        finished = await self._store.succeed(job.id, result)
        if finished is None:
            log.info("job %s: already finished elsewhere; this result is dropped", job.id)
        await self._finish(finished)
        return True

    async def _record(self, job: Job, tracker: _Tracker) -> None:
        progress = tracker.take()
        if progress is not None and await self._store.record_progress(job.id, progress):
            await self._events.publish(
                job_event(replace(job, progress=progress.fraction, message=progress.message))
            )

    async def _finish(self, job: Job | None) -> None:
        if job is not None:
            ENDED.labels(job.kind.value, job.state.value).inc()
            log.info("job %s: %s", job.id, job.state)
            await self._events.publish(job_event(job))
