"""A year of 1m klines (525,600 rows) aggregated to 1h and returned through GraphQL ``ohlc``
over HTTP, with storage and the gateway running as `quantflow up` runs them; beside it the
same candles over gRPC alone (StorageService.GetOhlc) and the SQL alone."""

from __future__ import annotations

import contextlib
import io
import os
import time
from collections.abc import AsyncIterator

import asyncpg
import grpc
import httpx
import numpy as np

from bench.infra import fresh_database, unique_name
from bench.report import Result
from quantflow.storage.v1 import storage_service_pb2 as pb
from quantflow.storage.v1 import storage_service_pb2_grpc
from services.cli.up import Component
from services.common.embedded import free_port
from services.storage.candle_queries import CandleQuery, CandleRepository
from services.storage.migrations import migrate

START_MS = 1_672_531_200_000  # 2023-01-01T00:00:00Z
MINUTE_MS = 60_000
YEAR_MINUTES = 525_600
_REPEATS = 3


def _kline_rows(count: int, seed: int = 11) -> bytes:
    """``count`` consecutive 1m klines of a seeded random walk, as COPY text (open time in
    ms; storage's own columns are filled from it in SQL)."""
    rng = np.random.default_rng(seed)
    close = np.round(20_000 * np.exp(np.cumsum(rng.normal(0, 0.0008, count))), 2)
    opened = np.concatenate(([close[0]], close[:-1]))
    high = np.round(np.maximum(opened, close) + rng.random(count) * 5, 2)
    low = np.round(np.minimum(opened, close) - rng.random(count) * 5, 2)
    volume = np.round(rng.random(count) * 50, 5)
    trades = rng.integers(100, 2000, count)
    lines = [
        f"{START_MS + i * MINUTE_MS}\t{o:.2f}\t{h:.2f}\t{lo:.2f}\t{c:.2f}\t{v:.5f}\t{n}\n"
        for i, (o, h, lo, c, v, n) in enumerate(
            zip(opened, high, low, close, volume, trades, strict=True)
        )
    ]
    return "".join(lines).encode()


async def _load(url: str, count: int) -> None:
    conn = await asyncpg.connect(url)
    try:
        await migrate(conn)
        await conn.execute(
            "CREATE TEMP TABLE raw (open_ms bigint, open numeric, high numeric, low numeric, "
            "close numeric, volume numeric, trades bigint)"
        )
        await conn.copy_to_table("raw", source=io.BytesIO(_kline_rows(count)))
        await conn.execute(
            """INSERT INTO klines (venue, symbol, interval, open_time, close_time, open, high,
                   low, close, volume, quote_volume, trades, first_trade_id, last_trade_id,
                   taker_buy_volume, taker_buy_quote_volume)
               SELECT 'binance', 'BTCUSDT', '1m',
                   timestamptz 'epoch' + open_ms * interval '1 millisecond',
                   timestamptz 'epoch' + (open_ms + 59999) * interval '1 millisecond',
                   open, high, low, close, volume, round(volume * close, 8), trades, -1, -1, 0, 0
               FROM raw"""
        )
        await conn.execute("VACUUM ANALYZE klines")
    finally:
        await conn.close()


@contextlib.asynccontextmanager
async def _serving(url: str, nats_url: str) -> AsyncIterator[tuple[str, str]]:
    """Storage and the gateway as `quantflow up` runs them: (storage target, GraphQL URL)."""
    storage_port, graph_grpc_port, graph_port = free_port(), free_port(), free_port()
    env = {
        **os.environ,
        "QUANTFLOW_DATABASE_URL": url,
        "QUANTFLOW_NATS_URL": nats_url,
        "QUANTFLOW_NAMESPACE": unique_name("b"),
        "QUANTFLOW_LOG_LEVEL": "WARNING",
        "QUANTFLOW_STORAGE_GRPC_PORT": str(storage_port),
        "QUANTFLOW_STORAGE_TARGET": f"127.0.0.1:{storage_port}",
        "QUANTFLOW_STORAGE_METRICS_PORT": "0",
        "QUANTFLOW_GRAPH_GRPC_PORT": str(graph_grpc_port),
        "QUANTFLOW_GRAPH_PORT": str(graph_port),
    }
    components = [Component("storage", storage_port, env), Component("graph", graph_grpc_port, env)]
    try:
        for component in components:
            await component.start()
            await component.wait_ready()
        yield f"127.0.0.1:{storage_port}", f"http://127.0.0.1:{graph_port}/graphql"
    finally:
        for component in reversed(components):
            await component.stop()


def _document(interval: str, minutes: int) -> str:
    end = START_MS + minutes * MINUTE_MS
    return (
        f'{{ ohlc(symbol: "BTCUSDT", interval: "{interval}", from: "{_iso(START_MS)}", '
        f'to: "{_iso(end)}") {{ source openTime open high low close volume quoteVolume '
        "trades } }"
    )


def _iso(ms: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ms // 1000))


async def run(admin_url: str, nats_url: str, minutes: int = YEAR_MINUTES) -> list[Result]:
    hours = minutes // 60
    results: list[Result] = []
    async with fresh_database(admin_url) as url:
        started = time.perf_counter()
        await _load(url, minutes)
        load_s = time.perf_counter() - started
        pool = await asyncpg.create_pool(url, min_size=1, max_size=2)
        try:
            repository = CandleRepository(pool)
            query = CandleQuery(
                "binance", "BTCUSDT", "1h", START_MS, START_MS + minutes * MINUTE_MS
            )
            times = []
            for _ in range(_REPEATS):
                started = time.perf_counter()
                source = await repository.source(query)
                found = [row async for rows in repository.candles(query, source) for row in rows]
                times.append(time.perf_counter() - started)
            if len(found) != hours or source != "kline_1m":
                raise RuntimeError(f"SQL: {len(found)} candles from {source}, expected {hours}")
            results.append(
                Result(
                    "ohlc",
                    "SQL: 1m klines -> 1h candles",
                    minutes,
                    min(times),
                    f"{hours} candles; load {load_s:.1f}s",
                )
            )
        finally:
            await pool.close()
        async with _serving(url, nats_url) as (storage_target, graphql_url):
            request = pb.GetOhlcRequest(
                symbol="BTCUSDT",
                interval="1h",
                from_ms=START_MS,
                to_ms=START_MS + minutes * MINUTE_MS,
            )
            async with grpc.aio.insecure_channel(storage_target) as channel:
                stub = storage_service_pb2_grpc.StorageServiceStub(channel)
                times = []
                for _ in range(_REPEATS):
                    started = time.perf_counter()
                    count = sum([len(c.open_time) async for c in stub.GetOhlc(request)])
                    times.append(time.perf_counter() - started)
            if count != hours:
                raise RuntimeError(f"gRPC: {count} candles, expected {hours}")
            results.append(Result("ohlc", "gRPC GetOhlc 1h over 1m klines", minutes, min(times)))
            async with httpx.AsyncClient(timeout=60) as client:
                times = []
                for _ in range(_REPEATS):
                    started = time.perf_counter()
                    reply = await client.post(graphql_url, json={"query": _document("1h", minutes)})
                    times.append(time.perf_counter() - started)
                    series = reply.json()["data"]["ohlc"]
                    if len(series["openTime"]) != hours:
                        raise RuntimeError(f"GraphQL: {reply.text[:200]}")
            results.append(
                Result(
                    "ohlc",
                    "GraphQL ohlc 1h over HTTP (columnar)",
                    minutes,
                    min(times),
                    f"first {times[0]:.2f}s; target < 1 s",
                )
            )
    return results
