"""What a worker does for each kind of job: fetch the candles from storage, then run the
backtest (:mod:`services.backtest.run`) or the search (:mod:`services.backtest.optimize_job`)
on a thread, reporting progress.

A job's stored request is ``{"input": <BacktestInput JSON>}`` for a backtest and
``{"input": …, "optimize": <OptimizeSpec JSON>}`` for an optimisation.
"""

from __future__ import annotations

import asyncio
from typing import Any

from quantflow.storage.v1 import storage_service_pb2_grpc
from services.backtest import codec, optimize_job, strategies
from services.backtest.candle_source import describe_range, fetch_bars
from services.backtest.jobs import Job, JobKind, Progress
from services.backtest.optimize_job import OptimizeSpec
from services.backtest.results import ResultRepository
from services.backtest.run import DECLARATIVE, BacktestRequest, run_backtest
from services.backtest.worker import Report
from services.common.errors import InvalidArgument

# Of a job's progress, the part fetching candles stands for (the rest is the work).
_FETCHED = 0.05


def optimize_request(spec: OptimizeSpec, request: BacktestRequest) -> dict[str, Any]:
    """The stored request of an optimisation job."""
    return {"input": codec.request_to_json(request), "optimize": spec.to_json()}


def backtest_request(request: BacktestRequest) -> dict[str, Any]:
    """The stored request of a backtest job."""
    return {"input": codec.request_to_json(request)}


def check_optimizable(spec: OptimizeSpec, request: BacktestRequest) -> None:
    """INVALID_ARGUMENT before the job is queued: a strategy with number parameters, ranges
    and constraints naming them."""
    if request.strategy == DECLARATIVE:
        raise InvalidArgument(
            f"strategy {DECLARATIVE} has conditions, not numbers, to optimise; pick a "
            "strategy with number parameters"
        )
    spec.check(strategies.get(request.strategy))


class JobRunner:
    """Runs a job's work: the :data:`services.backtest.worker.Runner` of the service."""

    def __init__(
        self, storage: storage_service_pb2_grpc.StorageServiceStub, results: ResultRepository
    ) -> None:
        self._storage = storage
        self._results = results

    async def __call__(self, job: Job, report: Report) -> dict[str, Any]:
        request = codec.request_from_json(job.request["input"])
        report(Progress(0.0, f"fetching {describe_range(request)}"))
        bars, source = await fetch_bars(self._storage, request)
        report(Progress(_FETCHED, f"{len(bars):,} candles"))
        if job.kind is JobKind.BACKTEST:
            result = await asyncio.to_thread(run_backtest, request, bars, source=source)
            stored = await self._results.save(request, result)
            return {"backtestId": stored.id}
        spec = OptimizeSpec.from_json(job.request["optimize"])
        check_optimizable(spec, request)
        strategy = strategies.get(request.strategy)
        fixed = {k: float(v) for k, v in request.params.items() if isinstance(v, int | float)}

        def scaled(progress: Progress) -> None:
            report(Progress(_FETCHED + (1 - _FETCHED) * progress.fraction, progress.message))

        return await asyncio.to_thread(
            optimize_job.run, spec, bars, strategy, request.settings, scaled, fixed
        )
