"""Jobs: backtests and optimisations run by backtest workers. GraphQL over BacktestService's
job RPCs (``submitBacktest``, ``optimize``, ``job``, ``jobs``, ``cancelJob``) and, for
``jobProgress``, the job's NATS subject."""

from __future__ import annotations

import asyncio
import contextlib
import enum
from collections.abc import AsyncGenerator
from datetime import UTC, datetime
from typing import Annotated

import grpc
import nats.errors
import strawberry
from google.protobuf import json_format
from nats.aio.msg import Msg
from strawberry.scalars import JSON
from strawberry.types import Info

from graph.backtest import (
    BacktestInput,
    BacktestMetrics,
    BacktestResult,
    _backtests,
    input_to_pb,
    result_from_pb,
)
from graph.context import Context
from graph.errors import TypedError, from_rpc_error
from graph.principal import owner
from quantflow.backtest.v1 import backtest_service_pb2 as pb
from quantflow.backtest.v1 import jobs_pb2
from services.backtest.jobs import JobState as DomainState
from services.backtest.jobs import moves_forward
from services.common import names

_RPC_TIMEOUT_S = 15.0
# jobProgress re-reads the job this often when no event arrives (one lost on the bus).
_POLL_S = 2.0


@strawberry.enum(description="What a job runs.")
class JobKind(enum.Enum):
    BACKTEST = "BACKTEST"
    OPTIMIZE = "OPTIMIZE"


@strawberry.enum(description="QUEUED → RUNNING → SUCCEEDED | FAILED | CANCELLED.")
class JobState(enum.Enum):
    QUEUED = "QUEUED"
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"


def _state(value: int) -> JobState:
    return JobState(jobs_pb2.JobState.Name(value).removeprefix("JOB_STATE_"))


def _time(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


@strawberry.enum(description="GRID tries every combination; RANDOM draws `budget` of them.")
class SearchMethod(enum.Enum):
    GRID = "GRID"
    RANDOM = "RANDOM"


@strawberry.enum(
    description="ROLLING keeps the training window's length; ANCHORED grows it from the first bar."
)
class WalkForwardMode(enum.Enum):
    ROLLING = "ROLLING"
    ANCHORED = "ANCHORED"


@strawberry.input(
    description="Values to try for one parameter: start to stop inclusive by step; without "
    "a step (RANDOM only) the interval sampled."
)
class ParamRangeInput:
    name: str
    start: float
    stop: float
    step: float | None = None


@strawberry.input(
    description="Walk-forward: search `trainBars` bars in sample, run the best set on the "
    "next `testBars` out of sample, move on by `testBars`."
)
class WalkForwardInput:
    train_bars: int
    test_bars: int
    mode: WalkForwardMode = WalkForwardMode.ROLLING


@strawberry.input(description="A parameter search over one backtest's settings.")
class OptimizeInput:
    backtest: BacktestInput = strawberry.field(
        description="The backtest settings; its `params` are the parameters kept fixed."
    )
    ranges: list[ParamRangeInput]
    method: SearchMethod = SearchMethod.GRID
    budget: int = strawberry.field(default=100, description="RANDOM: distinct sets to draw.")
    seed: int = strawberry.field(default=0, description="RANDOM: the generator's seed.")
    constraints: list[str] = strawberry.field(
        default_factory=list, description='E.g. "fast < slow" (< <= > >= == !=).'
    )
    objective: str = strawberry.field(
        default="sharpe",
        description="totalReturn, cagr, sharpe, sortino, calmar, profitFactor, winRate, "
        "expectancy, averageTrade, maxDrawdown or volatility (the last two: less is better).",
    )
    walk_forward: WalkForwardInput | None = None


@strawberry.type(description="One parameter set tried and how it did.")
class OptimizeRow:
    params: JSON
    score: float | None = strawberry.field(
        description="The objective, signed so more is better; null when it has no value."
    )
    metrics: BacktestMetrics


@strawberry.type(description="One walk-forward fold: the best set in sample, then out of sample.")
class WalkForwardFold:
    train_from: datetime
    train_to: datetime = strawberry.field(description="Excluded.")
    test_from: datetime
    test_to: datetime = strawberry.field(description="Excluded.")
    in_sample: OptimizeRow
    out_of_sample: OptimizeRow
    table: list[OptimizeRow] = strawberry.field(description="Every set on the training window.")


@strawberry.type
class WalkForwardResult:
    efficiency: float | None = strawberry.field(
        description="Mean out-of-sample over mean in-sample log growth a bar (1: as good "
        "out of sample as in); null when undefined."
    )
    folds: list[WalkForwardFold]


@strawberry.type(description="An optimisation's outcome: the full table, best first.")
class OptimizeResult:
    objective: str
    rows: list[OptimizeRow] = strawberry.field(
        description="Every set tried, best first (walk-forward: the last fold's table)."
    )
    best: OptimizeRow | None
    skipped: int = strawberry.field(description="Sets the constraints ruled out.")
    walk_forward: WalkForwardResult | None


JobResult = Annotated[
    BacktestResult | OptimizeResult, strawberry.union("JobResult", description="A job's result.")
]


def _metrics(m: pb.Metrics) -> BacktestMetrics:
    def optional(name: str) -> float | None:
        return float(getattr(m, name)) if m.HasField(name) else None

    return BacktestMetrics(
        total_return=m.total_return,
        cagr=optional("cagr"),
        volatility=m.volatility,
        sharpe=optional("sharpe"),
        sortino=optional("sortino"),
        calmar=optional("calmar"),
        max_drawdown=m.max_drawdown,
        max_drawdown_duration=m.max_drawdown_duration,
        win_rate=m.win_rate,
        profit_factor=optional("profit_factor"),
        expectancy=m.expectancy,
        average_trade=m.average_trade,
        trades=m.trades,
        entries=m.entries,
        exposure=m.exposure,
        buy_and_hold_return=m.buy_and_hold_return,
        final_equity=m.final_equity,
    )


def _row(row: pb.OptimizeRow) -> OptimizeRow:
    return OptimizeRow(
        params=JSON(dict(row.params)),
        score=row.score if row.HasField("score") else None,
        metrics=_metrics(row.metrics),
    )


def _optimize_result(result: pb.OptimizeResult) -> OptimizeResult:
    walk = None
    if result.HasField("walk_forward"):
        walk = WalkForwardResult(
            efficiency=result.walk_forward.efficiency
            if result.walk_forward.HasField("efficiency")
            else None,
            folds=[
                WalkForwardFold(
                    train_from=_time(fold.train_from_ms),
                    train_to=_time(fold.train_to_ms),
                    test_from=_time(fold.test_from_ms),
                    test_to=_time(fold.test_to_ms),
                    in_sample=_row(fold.in_sample),
                    out_of_sample=_row(fold.out_of_sample),
                    table=[_row(row) for row in fold.table],
                )
                for fold in result.walk_forward.folds
            ],
        )
    return OptimizeResult(
        objective=result.objective,
        rows=[_row(row) for row in result.rows],
        best=_row(result.best) if result.HasField("best") else None,
        skipped=result.skipped,
        walk_forward=walk,
    )


@strawberry.type(description="A backtest or optimisation handed to a worker.")
class Job:
    id: strawberry.ID
    kind: JobKind
    state: JobState
    progress: float = strawberry.field(description="0..1.")
    message: str = strawberry.field(
        description='What it is doing, e.g. "40/90 parameter set runs".'
    )
    error: str | None = strawberry.field(description="Why it failed (FAILED only).")
    attempts: int = strawberry.field(
        description="Workers that took it (more than one: redelivered)."
    )
    cancel_requested: bool
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    request: JSON = strawberry.field(description="What was submitted (the gRPC request as JSON).")
    result: JobResult | None = strawberry.field(description="Once SUCCEEDED.")


def job_from_pb(job: pb.Job) -> Job:
    request_field = job.WhichOneof("request")
    request = json_format.MessageToDict(getattr(job, request_field)) if request_field else {}
    result: BacktestResult | OptimizeResult | None = None
    if job.HasField("backtest_result"):
        result = result_from_pb(job.backtest_result)
    elif job.HasField("optimize_result"):
        result = _optimize_result(job.optimize_result)
    return Job(
        id=strawberry.ID(job.id),
        kind=JobKind(jobs_pb2.JobKind.Name(job.kind).removeprefix("JOB_KIND_")),
        state=_state(job.state),
        progress=job.progress,
        message=job.message,
        error=job.error or None,
        attempts=job.attempts,
        cancel_requested=job.cancel_requested,
        created_at=_time(job.created_ms),
        started_at=_time(job.started_ms) if job.HasField("started_ms") else None,
        finished_at=_time(job.finished_ms) if job.HasField("finished_ms") else None,
        request=JSON(request),
        result=result,
    )


def _optimize_to_pb(given: OptimizeInput) -> pb.OptimizeInput:
    message = pb.OptimizeInput(
        backtest=input_to_pb(given.backtest),
        ranges=[
            pb.ParamRange(name=r.name, start=r.start, stop=r.stop, step=r.step)
            for r in given.ranges
        ],
        method=pb.SEARCH_METHOD_RANDOM
        if given.method is SearchMethod.RANDOM
        else pb.SEARCH_METHOD_GRID,
        budget=given.budget,
        seed=given.seed,
        constraints=given.constraints,
        objective=given.objective,
    )
    if given.walk_forward is not None:
        message.walk_forward.CopyFrom(
            pb.WalkForward(
                train_bars=given.walk_forward.train_bars,
                test_bars=given.walk_forward.test_bars,
                mode=pb.WALK_FORWARD_MODE_ANCHORED
                if given.walk_forward.mode is WalkForwardMode.ANCHORED
                else pb.WALK_FORWARD_MODE_ROLLING,
            )
        )
    return message


@strawberry.type
class JobEdge:
    cursor: str
    node: Job


@strawberry.type
class JobPageInfo:
    has_next_page: bool
    end_cursor: str | None


@strawberry.type(description="Jobs, newest first (without their results: ask `job(id)`).")
class JobConnection:
    edges: list[JobEdge]
    page_info: JobPageInfo


@strawberry.type(description="One step of a job, as its worker publishes it.")
class JobProgress:
    id: strawberry.ID
    state: JobState
    progress: float
    message: str
    error: str | None
    time: datetime


def _progress(event: jobs_pb2.JobEvent) -> JobProgress:
    return JobProgress(
        id=strawberry.ID(event.job_id),
        state=_state(event.state),
        progress=event.progress,
        message=event.message,
        error=event.error or None,
        time=_time(event.time_ms),
    )


async def job(info: Info[Context, None], id: strawberry.ID) -> Job:
    try:
        reply = await _backtests(info).GetJob(
            pb.GetJobRequest(id=str(id), owner=owner(info)), timeout=_RPC_TIMEOUT_S
        )
    except grpc.aio.AioRpcError as error:
        raise from_rpc_error(error, "job") from error
    return job_from_pb(reply.job)


async def jobs(
    info: Info[Context, None], first: int = 20, after: str | None = None
) -> JobConnection:
    request = pb.ListJobsRequest(first=first, after=after or "", owner=owner(info))
    try:
        reply = await _backtests(info).ListJobs(request, timeout=_RPC_TIMEOUT_S)
    except grpc.aio.AioRpcError as error:
        raise from_rpc_error(error, "jobs") from error
    listed = [job_from_pb(j) for j in reply.jobs]
    edges = [JobEdge(cursor=c, node=j) for c, j in zip(reply.cursors, listed, strict=True)]
    return JobConnection(
        edges=edges,
        page_info=JobPageInfo(
            has_next_page=reply.has_next_page, end_cursor=reply.end_cursor or None
        ),
    )


async def submit_backtest(
    info: Info[Context, None], input: Annotated[BacktestInput, strawberry.argument()]
) -> Job:
    request = pb.SubmitBacktestRequest(input=input_to_pb(input), owner=owner(info))
    try:
        reply = await _backtests(info).SubmitBacktest(request, timeout=_RPC_TIMEOUT_S)
    except grpc.aio.AioRpcError as error:
        raise from_rpc_error(error, "submitBacktest") from error
    return job_from_pb(reply.job)


async def optimize(
    info: Info[Context, None], input: Annotated[OptimizeInput, strawberry.argument()]
) -> Job:
    request = pb.OptimizeRequest(input=_optimize_to_pb(input), owner=owner(info))
    try:
        reply = await _backtests(info).Optimize(request, timeout=_RPC_TIMEOUT_S)
    except grpc.aio.AioRpcError as error:
        raise from_rpc_error(error, "optimize") from error
    return job_from_pb(reply.job)


async def cancel_job(info: Info[Context, None], id: strawberry.ID) -> Job:
    try:
        reply = await _backtests(info).CancelJob(
            pb.CancelJobRequest(id=str(id), owner=owner(info)), timeout=_RPC_TIMEOUT_S
        )
    except grpc.aio.AioRpcError as error:
        raise from_rpc_error(error, "cancelJob") from error
    return job_from_pb(reply.job)


def _domain(event: jobs_pb2.JobEvent) -> tuple[DomainState, float]:
    return DomainState(
        jobs_pb2.JobState.Name(event.state).removeprefix("JOB_STATE_")
    ), event.progress


async def job_progress(
    info: Info[Context, None], id: strawberry.ID
) -> AsyncGenerator[JobProgress, None]:
    """The job as it is, then each step forward from its NATS subject, until it ends."""
    backends = info.context.backends
    try:
        subject = names.job_progress_subject(str(id).lower(), backends.namespace)
    except ValueError:
        raise TypedError("INVALID_ARGUMENT", f"id: {str(id)!r} is not a job id") from None
    events: asyncio.Queue[jobs_pb2.JobEvent] = asyncio.Queue()

    async def deliver(message: Msg) -> None:
        event = jobs_pb2.JobEvent()
        with contextlib.suppress(Exception):
            event.ParseFromString(message.data)
            events.put_nowait(event)

    async def current() -> jobs_pb2.JobEvent:
        found = await job(info, id)
        return jobs_pb2.JobEvent(
            job_id=str(found.id),
            state=jobs_pb2.JobState.Value(f"JOB_STATE_{found.state.value}"),
            progress=found.progress,
            message=found.message,
            error=found.error or "",
            time_ms=int(datetime.now(tz=UTC).timestamp() * 1000),
        )

    subscription = await backends.nats.subscribe(subject, cb=deliver)
    try:
        latest = await current()
        yield _progress(latest)
        while not _domain(latest)[0].terminal:
            try:
                event = await asyncio.wait_for(events.get(), _POLL_S)
            except TimeoutError:
                event = await current()
            if moves_forward(_domain(latest), _domain(event)):
                latest = event
                yield _progress(event)
    finally:
        with contextlib.suppress(nats.errors.Error):
            await subscription.unsubscribe()


@strawberry.type
class JobQueries:
    job: Job = strawberry.field(resolver=job, description="A job by id, with its result once done.")
    jobs: JobConnection = strawberry.field(
        resolver=jobs, description="Jobs, newest first, `first` (1..100) after cursor `after`."
    )


@strawberry.type
class JobMutations:
    submit_backtest: Job = strawberry.field(
        resolver=submit_backtest,
        description="Queue a backtest; answers the job (QUEUED) at once. Follow it with "
        "`jobProgress`, read it with `job`.",
    )
    optimize: Job = strawberry.field(
        resolver=optimize,
        description="Queue a parameter search (grid or random, constraints, an objective, "
        "optional walk-forward); answers the job (QUEUED) at once.",
    )
    cancel_job: Job = strawberry.field(
        resolver=cancel_job,
        description="Stop a job: a queued one at once, a running one at its next step. "
        "FAILED_PRECONDITION when it has already finished.",
    )


@strawberry.type
class JobSubscriptions:
    job_progress: AsyncGenerator[JobProgress, None] = strawberry.subscription(
        resolver=job_progress,
        description="A job's progress: where it is now, then every step forward (never back), "
        "ending with its final state.",
    )
