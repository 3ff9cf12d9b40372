"""The job RPCs of BacktestService: SubmitBacktest, Optimize, GetJob, ListJobs, CancelJob,
WatchJob. Thin: checks at the edge, then the job store and the JOBS work queue."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import grpc
import nats.errors
from google.protobuf import json_format
from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext

from quantflow.backtest.v1 import backtest_service_pb2 as pb
from quantflow.backtest.v1 import jobs_pb2
from quantflow.storage.v1 import storage_service_pb2_grpc
from services.backtest import codec
from services.backtest.job_events import KINDS, STATE_OF, STATES, job_event
from services.backtest.job_runner import backtest_request, check_optimizable, optimize_request
from services.backtest.job_store import LOCAL, JobStore
from services.backtest.jobs import Job, JobKind, cursor, moves_forward, page, parse_job_id
from services.backtest.optimize import Constraint, ParamRange, WalkForward
from services.backtest.optimize_job import OptimizeSpec
from services.backtest.results import ResultRepository
from services.backtest.rpc import BacktestServicer
from services.backtest.runner import check_request
from services.common import names
from services.common.errors import InvalidArgument, Unavailable
from services.storage.database_errors import unavailable_when_database_is_down

# A watcher re-reads the job this often when no event arrives (an event lost on the bus).
_WATCH_POLL_S = 2.0


def _owner(given: str) -> str:
    return given or LOCAL


def _ms(moment: datetime | None) -> int | None:
    return None if moment is None else int(moment.timestamp() * 1000)


def spec_from_pb(given: pb.OptimizeInput) -> OptimizeSpec:
    windows = None
    if given.HasField("walk_forward"):
        mode = given.walk_forward.mode
        windows = WalkForward(
            given.walk_forward.train_bars,
            given.walk_forward.test_bars,
            "anchored" if mode == pb.WALK_FORWARD_MODE_ANCHORED else "rolling",
        )
    return OptimizeSpec(
        ranges=tuple(
            ParamRange(r.name, r.start, r.stop, r.step if r.HasField("step") else None)
            for r in given.ranges
        ),
        constraints=tuple(Constraint.parse(text) for text in given.constraints),
        objective=given.objective or "sharpe",
        method="RANDOM" if given.method == pb.SEARCH_METHOD_RANDOM else "GRID",
        budget=given.budget or 100,
        seed=given.seed,
        walk_forward=windows,
    )


def spec_to_pb(spec: OptimizeSpec, backtest: pb.BacktestInput) -> pb.OptimizeInput:
    message = pb.OptimizeInput(
        backtest=backtest,
        ranges=[
            pb.ParamRange(name=r.name, start=r.start, stop=r.stop, step=r.step) for r in spec.ranges
        ],
        method=pb.SEARCH_METHOD_RANDOM if spec.method == "RANDOM" else pb.SEARCH_METHOD_GRID,
        budget=spec.budget,
        seed=spec.seed,
        constraints=spec.to_json()["constraints"],
        objective=spec.objective,
    )
    if spec.walk_forward is not None:
        message.walk_forward.CopyFrom(
            pb.WalkForward(
                train_bars=spec.walk_forward.train,
                test_bars=spec.walk_forward.test,
                mode=pb.WALK_FORWARD_MODE_ANCHORED
                if spec.walk_forward.mode == "anchored"
                else pb.WALK_FORWARD_MODE_ROLLING,
            )
        )
    return message


class JobDesk:
    """Where jobs are submitted: a row in ``jobs``, then a message on the JOBS queue."""

    def __init__(self, store: JobStore, js: JetStreamContext, namespace: str) -> None:
        self.store = store
        self._js = js
        self._namespace = namespace

    async def submit(self, kind: JobKind, request: dict[str, Any], owner: str = LOCAL) -> Job:
        with unavailable_when_database_is_down():
            job = await self.store.create(kind, request, owner)
        try:
            await self._js.publish(
                names.job_work_subject(kind.value, self._namespace),
                job.id.encode(),
                headers={"Nats-Msg-Id": names.job_msg_id(job.id)},
            )
        except nats.errors.Error as error:
            await self.store.fail(job.id, f"could not be queued: {error}")
            raise Unavailable(f"the job queue cannot be reached: {error}") from None
        return job


class JobServicer(BacktestServicer):
    """BacktestService with its job RPCs."""

    def __init__(
        self,
        storage: storage_service_pb2_grpc.StorageServiceStub,
        results: ResultRepository,
        desk: JobDesk,
        nc: NatsClient,
        namespace: str,
    ) -> None:
        super().__init__(storage, results)
        self._desk = desk
        self._nc = nc
        self._namespace = namespace
        self._stored = results

    async def job_to_pb(self, job: Job, with_result: bool = True) -> pb.Job:
        message = pb.Job(
            id=job.id,
            kind=KINDS[job.kind],
            state=STATES[job.state],
            progress=job.progress,
            message=job.message,
            error=job.error,
            attempts=job.attempts,
            cancel_requested=job.cancel_requested,
            created_ms=_ms(job.created_at),
            started_ms=_ms(job.started_at),
            finished_ms=_ms(job.finished_at),
        )
        backtest = codec.request_to_pb(codec.request_from_json(job.request["input"]))
        if job.kind is JobKind.BACKTEST:
            message.backtest_input.CopyFrom(backtest)
        else:
            spec = OptimizeSpec.from_json(job.request["optimize"])
            message.optimize_input.CopyFrom(spec_to_pb(spec, backtest))
        if with_result and job.result is not None:
            if job.kind is JobKind.BACKTEST:
                stored = await self._stored.get(str(job.result["backtestId"]))
                message.backtest_result.CopyFrom(
                    codec.result_to_pb(stored.result, stored.id, stored.request, stored.created_ms)
                )
            else:
                message.optimize_result.CopyFrom(
                    json_format.ParseDict(job.result, pb.OptimizeResult())
                )
        return message

    async def SubmitBacktest(
        self, request: pb.SubmitBacktestRequest, context: grpc.aio.ServicerContext
    ) -> pb.SubmitBacktestResponse:
        backtest = check_request(request.input)
        job = await self._desk.submit(
            JobKind.BACKTEST, backtest_request(backtest), _owner(request.owner)
        )
        return pb.SubmitBacktestResponse(job=await self.job_to_pb(job))

    async def Optimize(
        self, request: pb.OptimizeRequest, context: grpc.aio.ServicerContext
    ) -> pb.OptimizeResponse:
        if not request.input.HasField("backtest"):
            raise InvalidArgument("give the backtest settings (symbol, interval, range, strategy)")
        backtest = check_request(request.input.backtest)
        spec = spec_from_pb(request.input)
        check_optimizable(spec, backtest)
        job = await self._desk.submit(
            JobKind.OPTIMIZE, optimize_request(spec, backtest), _owner(request.owner)
        )
        return pb.OptimizeResponse(job=await self.job_to_pb(job))

    async def GetJob(
        self, request: pb.GetJobRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetJobResponse:
        with unavailable_when_database_is_down():
            job = await self._desk.store.get(parse_job_id(request.id), _owner(request.owner))
        return pb.GetJobResponse(job=await self.job_to_pb(job))

    async def ListJobs(
        self, request: pb.ListJobsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListJobsResponse:
        wanted = page(request.first, request.after or None)
        with unavailable_when_database_is_down():
            jobs, more = await self._desk.store.list(wanted, _owner(request.owner))
        return pb.ListJobsResponse(
            jobs=[await self.job_to_pb(job, with_result=False) for job in jobs],
            end_cursor=cursor(jobs[-1]) if jobs else "",
            has_next_page=more,
            cursors=[cursor(job) for job in jobs],
        )

    async def CancelJob(
        self, request: pb.CancelJobRequest, context: grpc.aio.ServicerContext
    ) -> pb.CancelJobResponse:
        with unavailable_when_database_is_down():
            job = await self._desk.store.request_cancel(
                parse_job_id(request.id), _owner(request.owner)
            )
        if job.state.terminal:
            await self._nc.publish(
                names.job_progress_subject(job.id, self._namespace),
                job_event(job).SerializeToString(),
            )
        return pb.CancelJobResponse(job=await self.job_to_pb(job, with_result=False))

    async def WatchJob(
        self, request: pb.WatchJobRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[pb.WatchJobResponse]:
        job_id = parse_job_id(request.id)
        with unavailable_when_database_is_down():
            await self._desk.store.get(job_id, _owner(request.owner))  # NOT_FOUND if not theirs
        async for event in watch(self._nc, self._desk.store, job_id, self._namespace):
            yield pb.WatchJobResponse(event=event)


async def watch(
    nc: NatsClient, store: JobStore, job_id: str, namespace: str
) -> AsyncIterator[jobs_pb2.JobEvent]:
    """The job as it is, then each event that moves it forward, until it ends. Subscribes
    before reading the table, so nothing between the read and the first event is missed."""
    events: asyncio.Queue[jobs_pb2.JobEvent] = asyncio.Queue()

    async def received(message: Any) -> None:
        event = jobs_pb2.JobEvent()
        with contextlib.suppress(Exception):
            event.ParseFromString(message.data)
            events.put_nowait(event)

    subscription = await nc.subscribe(names.job_progress_subject(job_id, namespace), cb=received)
    try:
        with unavailable_when_database_is_down():
            latest = job_event(await store.get(job_id))
        yield latest
        while not STATE_OF[latest.state].terminal:
            try:
                event = await asyncio.wait_for(events.get(), _WATCH_POLL_S)
            except TimeoutError:
                event = job_event(await store.get(job_id))
            if _moves_forward(latest, event):
                latest = event
                yield event
    finally:
        with contextlib.suppress(nats.errors.Error):
            await subscription.unsubscribe()


def _moves_forward(latest: jobs_pb2.JobEvent, event: jobs_pb2.JobEvent) -> bool:
    return moves_forward(
        (STATE_OF[latest.state], latest.progress), (STATE_OF[event.state], event.progress)
    )
