"""BacktestService over gRPC: a thin layer over runner, run and results."""

from __future__ import annotations

import grpc
from prometheus_client import Counter, Histogram

from quantflow.backtest.v1 import backtest_service_pb2 as pb
from quantflow.backtest.v1 import backtest_service_pb2_grpc
from quantflow.storage.v1 import storage_service_pb2_grpc
from services.backtest import codec, run
from services.backtest.results import ResultRepository, StoredResult
from services.backtest.runner import check_request, run_and_store
from services.common import names
from services.common.errors import QuantflowError
from services.storage.database_errors import unavailable_when_database_is_down

RUNS = Counter(
    "quantflow_backtest_runs",
    "RunBacktest calls by outcome (ok, or the status code of the error)",
    ["outcome"],
)
RUN_SECONDS = Histogram(
    "quantflow_backtest_run_seconds",
    "RunBacktest time: candle fetch, simulation and storing the result",
    buckets=(0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0),
)
BARS = Counter("quantflow_backtest_bars", "Candles simulated by RunBacktest")


def _stored_to_pb(stored: StoredResult) -> pb.BacktestResult:
    return codec.result_to_pb(stored.result, stored.id, stored.request, stored.created_ms)


class BacktestServicer(backtest_service_pb2_grpc.BacktestServiceServicer):  # type: ignore[misc]
    def __init__(
        self, storage: storage_service_pb2_grpc.StorageServiceStub, results: ResultRepository
    ) -> None:
        self._storage = storage
        self._results = results

    async def ListStrategies(
        self, request: pb.ListStrategiesRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListStrategiesResponse:
        return pb.ListStrategiesResponse(
            strategies=[codec.strategy_to_pb(info) for info in run.catalogue()]
        )

    async def RunBacktest(
        self, request: pb.RunBacktestRequest, context: grpc.aio.ServicerContext
    ) -> pb.RunBacktestResponse:
        try:
            with RUN_SECONDS.time():
                stored = await self._run(request.input)
        except QuantflowError as error:
            RUNS.labels(error.code).inc()
            raise
        RUNS.labels("ok").inc()
        BARS.inc(stored.result.data_quality.bars)
        return pb.RunBacktestResponse(result=_stored_to_pb(stored))

    async def _run(self, given: pb.BacktestInput) -> StoredResult:
        return await run_and_store(self._storage, self._results, check_request(given))

    async def GetBacktest(
        self, request: pb.GetBacktestRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetBacktestResponse:
        with unavailable_when_database_is_down():
            stored = await self._results.get(request.id)
        return pb.GetBacktestResponse(result=_stored_to_pb(stored))

    async def ListBacktests(
        self, request: pb.ListBacktestsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListBacktestsResponse:
        markets = [(m.symbol.upper(), m.venue or names.VENUE_BINANCE) for m in request.markets]
        with unavailable_when_database_is_down():
            found = await self._results.latest(
                list(dict.fromkeys(markets)), request.limit, summary=request.summary
            )
        return pb.ListBacktestsResponse(
            markets=[
                pb.MarketBacktests(
                    market=pb.MarketKey(symbol=symbol, venue=venue),
                    results=[_stored_to_pb(stored) for stored in found[(symbol, venue)]],
                )
                for symbol, venue in markets
            ]
        )
