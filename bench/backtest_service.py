"""Backtests through the service: GraphQL ``runBacktest`` over HTTP on stored 1m candles
(issue 9: 100,000 of them, data fetch included, under 1 s), with storage, the backtest
service and the gateway running as `quantflow up` runs them; beside it the same run over
gRPC (BacktestService.RunBacktest) and the candle fetch alone (StorageService.GetOhlc)."""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import AsyncIterator

import grpc
import httpx

from bench.infra import fresh_database, unique_name
from bench.ohlc import MINUTE_MS, START_MS, _iso, _load
from bench.report import Result
from quantflow.backtest.v1 import backtest_service_pb2 as pb
from quantflow.backtest.v1 import backtest_service_pb2_grpc
from quantflow.storage.v1 import storage_service_pb2 as storage_pb
from quantflow.storage.v1 import storage_service_pb2_grpc
from services.cli.up import Component
from services.common.embedded import free_port

CANDLES = 100_000
_REPEATS = 3
_CHANNEL = [("grpc.max_receive_message_length", 64 * 1024 * 1024)]


@contextlib.asynccontextmanager
async def _serving(url: str, nats_url: str) -> AsyncIterator[tuple[str, str, str]]:
    """(storage target, backtest target, GraphQL URL) of a running stack."""
    storage, backtest, graph_grpc, graph = (free_port() for _ in range(4))
    env = {
        **os.environ,
        "QUANTFLOW_DATABASE_URL": url,
        "QUANTFLOW_NATS_URL": nats_url,
        "QUANTFLOW_NAMESPACE": unique_name("b"),
        "QUANTFLOW_LOG_LEVEL": "WARNING",
        "QUANTFLOW_STORAGE_GRPC_PORT": str(storage),
        "QUANTFLOW_STORAGE_TARGET": f"127.0.0.1:{storage}",
        "QUANTFLOW_STORAGE_METRICS_PORT": "0",
        "QUANTFLOW_BACKTEST_GRPC_PORT": str(backtest),
        "QUANTFLOW_BACKTEST_TARGET": f"127.0.0.1:{backtest}",
        "QUANTFLOW_BACKTEST_METRICS_PORT": "0",
        "QUANTFLOW_GRAPH_GRPC_PORT": str(graph_grpc),
        "QUANTFLOW_GRAPH_PORT": str(graph),
    }
    components = [
        Component("storage", storage, env),
        Component("backtest", backtest, env),
        Component("graph", graph_grpc, env),
    ]
    try:
        for component in components:
            await component.start()
            await component.wait_ready()
        yield f"127.0.0.1:{storage}", f"127.0.0.1:{backtest}", f"http://127.0.0.1:{graph}/graphql"
    finally:
        for component in reversed(components):
            await component.stop()


def _document(candles: int) -> str:
    return (
        'mutation { runBacktest(input: {symbol: "BTCUSDT", interval: "1m", '
        f'from: "{_iso(START_MS)}", to: "{_iso(START_MS + candles * MINUTE_MS)}", '
        'strategy: "sma_cross", params: {fast: 10, slow: 30}}) { id fill '
        "metrics { totalReturn sharpe maxDrawdown trades entries } dataQuality { bars holes } "
        "equity(points: 500) { time value } tradeList(first: 100) { totalCount } } }"
    )


async def run(admin_url: str, nats_url: str, candles: int = CANDLES) -> list[Result]:
    results: list[Result] = []
    async with fresh_database(admin_url) as url:
        await _load(url, candles)
        async with _serving(url, nats_url) as (storage_target, backtest_target, graphql_url):
            async with grpc.aio.insecure_channel(storage_target) as channel:
                stub = storage_service_pb2_grpc.StorageServiceStub(channel)
                request = storage_pb.GetOhlcRequest(
                    symbol="BTCUSDT",
                    interval="1m",
                    from_ms=START_MS,
                    to_ms=START_MS + candles * MINUTE_MS,
                )
                times = []
                for _ in range(_REPEATS):
                    started = time.perf_counter()
                    count = sum([len(c.open_time) async for c in stub.GetOhlc(request)])
                    times.append(time.perf_counter() - started)
            if count != candles:
                raise RuntimeError(f"GetOhlc: {count} candles, expected {candles}")
            results.append(
                Result("backtest", "service: gRPC GetOhlc 1m (fetch alone)", candles, min(times))
            )
            given = pb.BacktestInput(
                symbol="BTCUSDT",
                interval="1m",
                from_ms=START_MS,
                to_ms=START_MS + candles * MINUTE_MS,
                strategy="sma_cross",
            )
            given.params.update({"fast": 10, "slow": 30})
            async with grpc.aio.insecure_channel(backtest_target, options=_CHANNEL) as channel:
                backtests = backtest_service_pb2_grpc.BacktestServiceStub(channel)
                times = []
                for _ in range(_REPEATS):
                    started = time.perf_counter()
                    reply = await backtests.RunBacktest(pb.RunBacktestRequest(input=given))
                    times.append(time.perf_counter() - started)
            if reply.result.data_quality.bars != candles:
                raise RuntimeError(f"RunBacktest: {reply.result.data_quality}")
            results.append(
                Result(
                    "backtest",
                    "service: gRPC RunBacktest (fetch, run, store)",
                    candles,
                    min(times),
                    f"sma_cross 10/30, {reply.result.metrics.entries} trades",
                )
            )
            async with httpx.AsyncClient(timeout=120) as client:
                times = []
                for _ in range(_REPEATS):
                    started = time.perf_counter()
                    answer = await client.post(graphql_url, json={"query": _document(candles)})
                    times.append(time.perf_counter() - started)
                    result = answer.json().get("data", {}) or {}
                    if (result.get("runBacktest") or {}).get("dataQuality", {}).get(
                        "bars"
                    ) != candles:
                        raise RuntimeError(f"GraphQL: {answer.text[:300]}")
            results.append(
                Result(
                    "backtest",
                    "service: GraphQL runBacktest (fetch, run, store)",
                    candles,
                    min(times),
                    f"first {times[0]:.2f}s; target < 1 s",
                )
            )
    return results
