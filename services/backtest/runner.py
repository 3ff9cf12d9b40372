"""One backtest as the service runs it: the request checked, its candles fetched from
storage, the simulation off the event loop, the result stored. RunBacktest calls it; so can
a job worker (with ``progress`` for the candles received so far)."""

from __future__ import annotations

import asyncio

from quantflow.backtest.v1 import backtest_service_pb2 as pb
from quantflow.storage.v1 import storage_service_pb2_grpc
from services.backtest import codec, run
from services.backtest.candle_source import Progress, fetch_bars
from services.backtest.results import ResultRepository, StoredResult
from services.common.errors import InvalidArgument
from services.storage.database_errors import unavailable_when_database_is_down


def check_request(given: pb.BacktestInput) -> run.BacktestRequest:
    """The request, its settings and its strategy's parameters checked (before any candle
    is fetched): InvalidArgument naming what is wrong."""
    if not given.strategy:
        raise InvalidArgument("give a strategy, e.g. sma_cross (see ListStrategies)")
    request = codec.request_from_pb(given)
    run.resolve(request)
    return request


async def run_and_store(
    storage: storage_service_pb2_grpc.StorageServiceStub,
    results: ResultRepository,
    request: run.BacktestRequest,
    progress: Progress | None = None,
) -> StoredResult:
    bars, source = await fetch_bars(storage, request, progress)
    # Off the event loop: health checks and other calls keep answering meanwhile.
    result = await asyncio.to_thread(run.run_backtest, request, bars, source=source)
    with unavailable_when_database_is_down():
        return await results.save(request, result)
