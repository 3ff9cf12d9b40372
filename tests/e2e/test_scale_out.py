"""The system scaled out on one machine the way the Helm chart runs it: two ingest shards
(QUANTFLOW_SHARD_INDEX/COUNT, the StatefulSet's ordinals), two storage workers on the shared
durable consumer, two backtest workers on the JOBS work queue, one NATS, one PostgreSQL —
every component a `quantflow serve` process. One of each is killed with SIGKILL mid-run
(the killed ingest shard is started again, as its StatefulSet would: its symbols have no
other owner); every trade of every symbol ends up stored exactly once and every job
finishes.

The fake exchange replays its tape from the start on each connection, so a restarted shard
is sent what it missed again (gaps of a real feed are filled from REST, which
tests/integration/test_gap_backfill.py covers)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import asyncpg
import grpc
import pytest

from quantflow.backtest.v1 import backtest_service_pb2_grpc
from services.common.embedded import free_port
from services.common.grpc_server import check_health
from services.storage import tables
from services.storage.repository import TradeRepository, prepare_connection
from tests.e2e.conftest import CliProcess, base_env
from tests.e2e.test_backtest_jobs import BARS, _klines, _optimize
from tests.fakes.binance_rest import FakeBinanceRest
from tests.fakes.binance_server import FakeBinanceServer
from tests.fakes.trade_tapes import trade_ids, trade_tape

pytestmark = pytest.mark.e2e

SYMBOLS = ("BTCUSDT", "ETHUSDT", "DOTUSDT")
TRADES_PER_SYMBOL = 3000
JOBS = 3


async def _healthy(target: str, process: CliProcess, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while await check_health(target, timeout=1) != "SERVING":
        assert process.process.poll() is None, process.output()[-3000:]
        assert time.monotonic() < deadline, process.output()[-3000:]
        await asyncio.sleep(0.2)


async def _stored(pool: asyncpg.Pool) -> dict[str, list[int]]:
    rows = await pool.fetch("SELECT symbol, trade_id FROM trades ORDER BY symbol, trade_id")
    stored: dict[str, list[int]] = {symbol: [] for symbol in SYMBOLS}
    for row in rows:
        stored[row["symbol"]].append(row["trade_id"])
    return stored


async def _until(check: Any, what: str, timeout: float = 180.0) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        assert time.monotonic() < deadline, what
        await asyncio.sleep(0.2)


async def test_one_of_each_killed_loses_and_duplicates_nothing(
    cli: Any, database_url: str, nats_url: str, namespace: str
) -> None:
    tape = trade_tape(SYMBOLS, TRADES_PER_SYMBOL)
    expected = {symbol: sorted(trade_ids(tape, symbol)) for symbol in SYMBOLS}
    # A trade every millisecond of exchange time, replayed at a tenth of that: ~30 s a pass.
    async with FakeBinanceServer(tape, speed=0.1) as exchange, FakeBinanceRest() as rest:
        storage_ports = [free_port(), free_port()]
        common = {
            "database_url": database_url,
            "nats_url": nats_url,
            "namespace": namespace,
            "binance_ws_url": exchange.ws_url,
            "binance_rest_url": rest.url,
            "symbols": ",".join(SYMBOLS),
            "streams": "trade",
            "shard_count": "2",
            "storage_target": f"127.0.0.1:{storage_ports[0]}",
            "storage_ack_wait_s": "2",
            "storage_batch_size": "100",
            "backtest_job_ack_wait_s": "2",
            "storage_metrics_port": "0",
            "ingest_metrics_port": "0",
            "backtest_metrics_port": "0",
        }

        def start(service: str, name: str, **own: str) -> CliProcess:
            process: CliProcess = cli(["serve", service], base_env(**common, **own), name=name)
            return process

        storages = [
            start("storage", f"storage-{i}", storage_grpc_port=str(port))
            for i, port in enumerate(storage_ports)
        ]
        for port, process in zip(storage_ports, storages, strict=True):
            await _healthy(f"127.0.0.1:{port}", process)
        pool = await asyncpg.create_pool(
            database_url, min_size=1, max_size=2, init=prepare_connection
        )
        try:
            assert await TradeRepository(pool).write(tables.KLINES, _klines(BARS)) == BARS

            ingest_ports = [free_port(), free_port()]

            def start_shard(index: int, name: str) -> CliProcess:
                return start(
                    "ingest",
                    name,
                    shard_index=str(index),
                    ingest_grpc_port=str(ingest_ports[index]),
                )

            shards = [start_shard(i, f"ingest-{i}") for i in range(2)]
            worker_ports = [free_port(), free_port()]
            workers = [
                start("backtest", f"backtest-{i}", backtest_grpc_port=str(port))
                for i, port in enumerate(worker_ports)
            ]
            for port, process in zip(worker_ports, workers, strict=True):
                await _healthy(f"127.0.0.1:{port}", process)

            async with grpc.aio.insecure_channel(f"127.0.0.1:{worker_ports[0]}") as channel:
                stub = backtest_service_pb2_grpc.BacktestServiceStub(channel)
                jobs = [(await stub.Optimize(_optimize("60", "200"))).job.id for _ in range(JOBS)]

            async def count_stored() -> int:
                return sum(map(len, (await _stored(pool)).values()))

            async def both_running() -> bool:
                running = await pool.fetchval(
                    "SELECT count(*) FROM jobs WHERE state = 'RUNNING' AND progress > 0.05"
                )
                return int(running) >= 2

            # Mid-run: a third of the trades stored, and both workers busy with a job.
            await _until(lambda: _more_than(count_stored, len(SYMBOLS) * 1000), "no trades")
            await _until(both_running, "the two workers never both ran a job")
            for victim in (storages[1], shards[1], workers[1]):
                victim.process.kill()  # SIGKILL: no drain, no goodbye
                victim.process.wait()
            at_kill = await count_stored()
            assert at_kill < len(SYMBOLS) * TRADES_PER_SYMBOL, "killed too late to prove anything"
            shards[1] = start_shard(1, "ingest-1-again")

            async def all_stored() -> bool:
                return await count_stored() >= len(SYMBOLS) * TRADES_PER_SYMBOL

            await _until(all_stored, "not every trade was stored")
            await asyncio.sleep(3.0)  # redeliveries after the ack wait must add nothing
            stored = await _stored(pool)
            assert stored == expected  # each symbol: every trade, once

            async def jobs_ended() -> bool:
                states = await pool.fetch("SELECT state FROM jobs WHERE id = ANY($1::uuid[])", jobs)
                return all(row["state"] not in ("QUEUED", "RUNNING") for row in states)

            await _until(jobs_ended, "jobs did not end", timeout=300)
            rows = await pool.fetch(
                "SELECT state, attempts, result IS NOT NULL AS has_result FROM jobs "
                "WHERE id = ANY($1::uuid[])",
                jobs,
            )
            assert [row["state"] for row in rows] == ["SUCCEEDED"] * JOBS
            assert all(row["has_result"] for row in rows)
            assert max(row["attempts"] for row in rows) == 2  # the killed worker's job
        finally:
            await pool.close()
    for process in (storages[0], shards[0], shards[1], workers[0]):
        assert await process.interrupt() == 0, process.output()[-3000:]


async def _more_than(count: Any, threshold: int) -> bool:
    return bool(await count() > threshold)
