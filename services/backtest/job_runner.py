"""What a worker does for each kind of job: fetch the candles from storage, then run the
backtest (:mod:`services.backtest.run`) or the search (:mod:`services.backtest.optimize_job`)
on a thread, reporting progress.

A job's stored request is ``{"input": <BacktestInput JSON>}`` for a backtest and
``{"input": …, "optimize": <OptimizeSpec JSON>}`` for an optimisation.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from quantflow.storage.v1 import storage_service_pb2_grpc
from services.backtest import codec, optimize_job, strategies
from services.backtest.candle_source import describe_range, fetch_bars
from services.backtest.jobs import Job, JobKind, Progress
from services.backtest.optimize_job import OptimizeSpec
from services.backtest.results import ResultRepository
from services.backtest.run import DECLARATIVE, BacktestRequest, interval_seconds
from services.backtest.runner import run_and_store
from services.backtest.worker import Report
from services.common.errors import InvalidArgument

# Of a job's progress, the part fetching candles stands for (the rest is the work): most of
# a backtest, little of a search.
_BACKTEST_FETCH = 0.8
_OPTIMIZE_FETCH = 0.05


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
        if job.kind is JobKind.BACKTEST:
            stored = await run_and_store(
                self._storage, self._results, request, _fetching(request, report, _BACKTEST_FETCH)
            )
            return {"backtestId": stored.id}
        spec = OptimizeSpec.from_json(job.request["optimize"])
        check_optimizable(spec, request)
        strategy = strategies.get(request.strategy)
        fixed = {k: float(v) for k, v in request.params.items() if isinstance(v, int | float)}
        bars, _ = await fetch_bars(
            self._storage, request, _fetching(request, report, _OPTIMIZE_FETCH)
        )

        def scaled(progress: Progress) -> None:
            share = _OPTIMIZE_FETCH + (1 - _OPTIMIZE_FETCH) * progress.fraction
            report(Progress(share, progress.message))

        return await asyncio.to_thread(
            optimize_job.run, spec, bars, strategy, request.settings, scaled, fixed
        )


def _fetching(request: BacktestRequest, report: Report, share: float) -> Callable[[int], None]:
    """A candle-count callback reporting the fetch as up to ``share`` of the job, by the
    candles the range holds at most."""
    expected = max(
        1.0, (request.to_ms - request.from_ms) / (interval_seconds(request.interval) * 1000)
    )

    def received(count: int) -> None:
        report(Progress(min(share, share * count / expected), f"{count:,} candles received"))

    return received
