"""The GraphQL API under load: issue 11's cross-service query (latest price, 500 1h candles,
two indicators over them, coverage, the last 5 backtests, alert rules: storage, backtest and
alerts in one request) from 50 concurrent HTTP clients for a bounded time, beside a plain
small query (no upstream call) on the same server. Storage, backtest, alerts and the gateway
run as `quantflow up` runs them, each its own process; the clients share this process.

Figures: requests/s and latency percentiles over the whole run (every request timed)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

import asyncpg
import httpx

from bench.infra import fresh_database, unique_name
from bench.report import Result
from services.cli.up import Component
from services.common.embedded import free_port
from services.common.trades import Trade
from services.storage import tables
from services.storage.migrations import migrate
from services.storage.repository import TradeRepository, prepare_connection

CANDLES = 500
CLIENTS = 50
DURATION_S = 20.0
START_MS = 1_672_531_200_000  # 2023-01-01T00:00:00Z
HOUR_MS = 3_600_000
_FROM = "2023-01-01T00:00:00Z"


def _iso(ms: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ms // 1000))


CROSS_SERVICE = (
    '{ symbol(name: "BTCUSDT") { latest { price tradeTime } '
    f'ohlc(interval: "1h", from: "{_FROM}", to: "{_iso(START_MS + CANDLES * HOUR_MS)}") '
    "{ openTime close } "
    f'indicators(interval: "1h", from: "{_FROM}", to: "{_iso(START_MS + CANDLES * HOUR_MS)}", '
    'specs: ["rsi(14)", "sma(50)"]) { series { spec values } } '
    'coverage(kind: "kline_1h") { holes { from to cause } } '
    "backtests(last: 5) { strategy metrics { sharpe maxDrawdown totalReturn } } "
    "alertRules { id condition state } } }"
)
PLAIN = '{ symbol(name: "BTCUSDT") { name venue } }'


async def _load(url: str) -> None:
    """500 hourly klines of a smooth wave, and one trade for `latest`."""
    conn = await asyncpg.connect(url)
    try:
        await migrate(conn)
        await conn.execute(
            """INSERT INTO klines (venue, symbol, interval, open_time, close_time, open, high,
                   low, close, volume, quote_volume, trades, first_trade_id, last_trade_id,
                   taker_buy_volume, taker_buy_quote_volume)
               SELECT 'binance', 'BTCUSDT', '1h',
                   to_timestamp(($1::bigint + i * $2::bigint) / 1000.0),
                   to_timestamp(($1::bigint + (i + 1) * $2::bigint - 1) / 1000.0),
                   c, c + 20, c - 20, c + 5 * sin(i), 10, 10 * c, 100, -1, -1, 0, 0
               FROM (SELECT i, round((20000 + 400 * sin(i / 9.0))::numeric, 2) AS c
                     FROM generate_series(0, $3::int - 1) AS i) AS wave""",
            START_MS,
            HOUR_MS,
            CANDLES,
        )
    finally:
        await conn.close()
    pool = await asyncpg.create_pool(url, min_size=1, max_size=1, init=prepare_connection)
    try:
        last = START_MS + CANDLES * HOUR_MS - 1
        await TradeRepository(pool).write(
            tables.TRADES,
            [Trade("binance", "BTCUSDT", 1, "20100.00", "0.5", last, last + 1, False)],
        )
    finally:
        await pool.close()


@contextlib.asynccontextmanager
async def _serving(url: str, nats_url: str) -> AsyncIterator[str]:
    """Storage, backtest, alerts and the gateway, as `quantflow up` runs them: the GraphQL
    URL."""
    ports = {name: free_port() for name in ("storage", "backtest", "alerts", "graph_grpc")}
    graph_port = free_port()
    env = {
        **os.environ,
        "QUANTFLOW_DATABASE_URL": url,
        "QUANTFLOW_NATS_URL": nats_url,
        "QUANTFLOW_NAMESPACE": unique_name("b"),
        "QUANTFLOW_LOG_LEVEL": "WARNING",
        "QUANTFLOW_GRAPH_GRPC_PORT": str(ports["graph_grpc"]),
        "QUANTFLOW_GRAPH_PORT": str(graph_port),
    }
    for name in ("storage", "backtest", "alerts"):
        env[f"QUANTFLOW_{name.upper()}_GRPC_PORT"] = str(ports[name])
        env[f"QUANTFLOW_{name.upper()}_TARGET"] = f"127.0.0.1:{ports[name]}"
        env[f"QUANTFLOW_{name.upper()}_METRICS_PORT"] = "0"
    components = [
        Component("storage", ports["storage"], env),
        Component("backtest", ports["backtest"], env),
        Component("alerts", ports["alerts"], env),
        Component("graph", ports["graph_grpc"], env),
    ]
    try:
        for component in components:
            await component.start()
            await component.wait_ready()
        yield f"http://127.0.0.1:{graph_port}/graphql"
    finally:
        for component in reversed(components):
            await component.stop()


async def _prepare(client: httpx.AsyncClient, url: str) -> None:
    """Five stored backtests and two alert rules on BTCUSDT; then check the query answers
    every part."""
    for fast, slow in ((5, 20), (8, 21), (10, 30), (12, 40), (20, 50)):
        reply = await client.post(
            url,
            json={
                "query": 'mutation { runBacktest(input: { symbol: "BTCUSDT", interval: '
                f'"1h", from: "{_FROM}", to: "{_iso(START_MS + CANDLES * HOUR_MS)}", '
                f'strategy: "sma_cross", params: {{fast: {fast}, slow: {slow}}} }}) {{ id }} }}'
            },
        )
        if "errors" in reply.json():
            raise RuntimeError(f"runBacktest: {reply.text[:300]}")
    for condition in ("price > 30000", "price crosses_below 15000"):
        reply = await client.post(
            url,
            json={
                "query": 'mutation { createAlertRule(input: {symbol: "BTCUSDT", '
                f'condition: "{condition}"}}) {{ id }} }}'
            },
        )
        if "errors" in reply.json():
            raise RuntimeError(f"createAlertRule: {reply.text[:300]}")
    answer = (await client.post(url, json={"query": CROSS_SERVICE})).json()
    market = (answer.get("data") or {}).get("symbol")
    if (
        "errors" in answer
        or market is None
        or len(market["ohlc"]["openTime"]) != CANDLES
        or len(market["backtests"]) != 5
        or len(market["alertRules"]) != 2
        or market["latest"] is None
    ):
        raise RuntimeError(f"the cross-service query: {str(answer)[:300]}")


@dataclass(frozen=True)
class Load:
    requests: int
    errors: int
    seconds: float
    latencies: list[float]

    def percentile(self, fraction: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


async def _load_test(url: str, document: str, clients: int, duration_s: float) -> Load:
    """``clients`` loops, each posting ``document`` and waiting for the answer, until
    ``duration_s`` has passed; every request timed."""
    latencies: list[float] = []
    errors = 0
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(timeout=60, limits=limits) as client:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + duration_s

        async def one_client() -> None:
            nonlocal errors
            while loop.time() < deadline:
                started = time.perf_counter()
                try:
                    reply = await client.post(url, json={"query": document})
                except httpx.TransportError:
                    # A connection the server dropped counts as a failed request, timed.
                    latencies.append(time.perf_counter() - started)
                    errors += 1
                    continue
                latencies.append(time.perf_counter() - started)
                if reply.status_code != 200 or b'"errors"' in reply.content:
                    errors += 1

        started = time.perf_counter()
        await asyncio.gather(*(one_client() for _ in range(clients)))
        elapsed = time.perf_counter() - started
    return Load(len(latencies), errors, elapsed, latencies)


def _result(case: str, load: Load, note: str = "") -> Result:
    return Result(
        "graph",
        case,
        load.requests,
        load.seconds,
        f"p50 {load.percentile(0.5) * 1000:.0f} ms, p99 {load.percentile(0.99) * 1000:.0f} ms, "
        f"{load.errors} errors{note}",
    )


async def run(admin_url: str, nats_url: str, duration_s: float = DURATION_S) -> list[Result]:
    async with fresh_database(admin_url) as url:
        await _load(url)
        async with _serving(url, nats_url) as graphql_url:
            async with httpx.AsyncClient(timeout=120) as client:
                await _prepare(client, graphql_url)
            await _load_test(graphql_url, CROSS_SERVICE, CLIENTS, 2.0)  # warm up
            cross = await _load_test(graphql_url, CROSS_SERVICE, CLIENTS, duration_s)
            plain = await _load_test(graphql_url, PLAIN, CLIENTS, duration_s)
    return [
        _result(
            f"cross-service query, {CANDLES} candles, {CLIENTS} clients",
            cross,
            "; target p99 < 100 ms",
        ),
        _result(f"plain small query, {CLIENTS} clients", plain),
    ]
