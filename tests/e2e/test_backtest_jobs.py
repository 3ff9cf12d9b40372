"""Backtest jobs across processes: `quantflow serve backtest` workers on the JOBS work
queue, killed with SIGKILL mid-job; storage in-process with synthetic 1m klines."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import asyncpg
import grpc
import numpy as np
import pytest
import pytest_asyncio
from nats.aio.client import Client as NatsClient
from nats.js.errors import NotFoundError

from quantflow.backtest.v1 import backtest_service_pb2 as pb
from quantflow.backtest.v1 import backtest_service_pb2_grpc, jobs_pb2
from services.common import names
from services.common.embedded import free_port
from services.common.events import Kline
from services.common.grpc_server import check_health
from services.common.settings import Settings
from services.storage import service as storage_service
from services.storage import tables
from services.storage.repository import TradeRepository, prepare_connection
from tests.e2e.conftest import CliProcess, base_env
from tests.integration.helpers import running, service_settings

pytestmark = pytest.mark.e2e

START = 1_700_000_000_000 - 1_700_000_000_000 % 60_000
BARS = 20_000


def _klines(count: int) -> list[Kline]:
    rng = np.random.default_rng(9)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.002, count)))
    opens = np.concatenate(([100.0], close[:-1]))
    return [
        Kline(
            venue="binance",
            symbol="BTCUSDT",
            interval="1m",
            open_time_ms=START + i * 60_000,
            close_time_ms=START + i * 60_000 + 59_999,
            open=f"{opens[i]:.6f}",
            high=f"{max(opens[i], close[i]) * 1.001:.6f}",
            low=f"{min(opens[i], close[i]) * 0.999:.6f}",
            close=f"{close[i]:.6f}",
            volume="1",
            quote_volume="100",
            trades=1,
            first_trade_id=-1,
            last_trade_id=-1,
            taker_buy_volume="0",
            taker_buy_quote_volume="0",
            closed=True,
            event_time_ms=START + i * 60_000 + 60_000,
        )
        for i in range(count)
    ]


@dataclass
class Cluster:
    settings: Settings
    start_worker: Callable[[], CliProcess]
    pool: asyncpg.Pool
    nats: NatsClient

    async def stub(self, worker: CliProcess) -> backtest_service_pb2_grpc.BacktestServiceStub:
        port = worker.port  # type: ignore[attr-defined]
        target = f"127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while await check_health(target) != "SERVING":
            assert worker.process.poll() is None, worker.output()[-3000:]
            assert time.monotonic() < deadline, worker.output()[-3000:]
            await asyncio.sleep(0.2)
        channel = grpc.aio.insecure_channel(target)
        return backtest_service_pb2_grpc.BacktestServiceStub(channel)

    async def job(self, job_id: str) -> asyncpg.Record:
        row = await self.pool.fetchrow(
            "SELECT state, attempts, progress, result IS NOT NULL AS has_result, "
            "cancel_requested FROM jobs WHERE id = $1::uuid",
            job_id,
        )
        assert row is not None
        return row

    async def until(self, job_id: str, check: Callable[[asyncpg.Record], bool]) -> asyncpg.Record:
        deadline = time.monotonic() + 120
        while True:
            row = await self.job(job_id)
            if check(row):
                return row
            assert time.monotonic() < deadline, dict(row)
            await asyncio.sleep(0.1)


@pytest_asyncio.fixture
async def cluster(
    database_url: str, nats_url: str, namespace: str, nats_client: NatsClient, tmp_path: Any
) -> AsyncIterator[Cluster]:
    settings = service_settings(database_url, nats_url, namespace)
    started: list[CliProcess] = []

    def start_worker() -> CliProcess:
        port = free_port()
        env = base_env(
            database_url=database_url,
            nats_url=nats_url,
            namespace=namespace,
            storage_target=settings.storage_target,
            backtest_grpc_port=str(port),
            backtest_metrics_port="0",
            backtest_job_ack_wait_s="2",
        )
        worker = CliProcess(["serve", "backtest"], env, tmp_path / f"worker-{len(started)}.log")
        worker.port = port  # type: ignore[attr-defined]
        started.append(worker)
        return worker

    async with running(storage_service.run, settings, settings.storage_grpc_port):
        pool = await asyncpg.create_pool(
            database_url, min_size=1, max_size=2, init=prepare_connection
        )
        try:
            assert await TradeRepository(pool).write(tables.KLINES, _klines(BARS)) == BARS
            yield Cluster(settings, start_worker, pool, nats_client)
        finally:
            for worker in started:
                worker.kill()
            await pool.close()
            try:
                await nats_client.jetstream().delete_stream(names.jobs_stream(namespace))
            except NotFoundError:
                pass


def _optimize(fast: str, slow: str) -> pb.OptimizeRequest:
    backtest = pb.BacktestInput(
        symbol="BTCUSDT",
        interval="1m",
        from_ms=START,
        to_ms=START + BARS * 60_000,
        strategy="sma_cross",
    )
    return pb.OptimizeRequest(
        input=pb.OptimizeInput(
            backtest=backtest,
            ranges=[
                pb.ParamRange(name="fast", start=2, stop=float(fast), step=1),
                pb.ParamRange(name="slow", start=61, stop=float(slow), step=1),
            ],
            constraints=["fast < slow"],
            objective="sharpe",
        )
    )


async def test_worker_killed_mid_job_job_finishes_once_on_another_worker(cluster: Cluster) -> None:
    first = cluster.start_worker()
    stub = await cluster.stub(first)
    job = (await stub.Optimize(_optimize("60", "200"))).job
    assert job.state == jobs_pb2.JOB_STATE_QUEUED
    await cluster.until(job.id, lambda row: row["state"] == "RUNNING" and row["progress"] > 0.1)
    first.process.kill()  # SIGKILL: no chance to hand the job back
    first.process.wait()
    second = cluster.start_worker()
    stub = await cluster.stub(second)
    row = await cluster.until(job.id, lambda row: row["state"] != "RUNNING")
    assert row["state"] == "SUCCEEDED", second.output()[-3000:]
    assert row["attempts"] == 2
    assert row["has_result"]
    finished = (await stub.GetJob(pb.GetJobRequest(id=job.id))).job
    assert len(finished.optimize_result.rows) + finished.optimize_result.skipped == 59 * 140
    assert (
        finished.optimize_result.best.params["fast"] < finished.optimize_result.best.params["slow"]
    )
    assert f"job {job.id}: SUCCEEDED" in second.output()


async def test_progress_events_arrive_in_order_and_cancel_stops_the_job(cluster: Cluster) -> None:
    worker = cluster.start_worker()
    stub = await cluster.stub(worker)
    job = (await stub.Optimize(_optimize("60", "200"))).job
    events: list[jobs_pb2.JobEvent] = []
    async for reply in stub.WatchJob(pb.WatchJobRequest(id=job.id)):
        events.append(reply.event)
        if reply.event.progress > 0.2 and reply.event.state == jobs_pb2.JOB_STATE_RUNNING:
            if not (await cluster.job(job.id))["cancel_requested"]:
                await stub.CancelJob(pb.CancelJobRequest(id=job.id))
    progress = [event.progress for event in events]
    assert progress == sorted(progress)
    assert len(set(progress)) > 3
    assert events[-1].state == jobs_pb2.JOB_STATE_CANCELLED
    row = await cluster.job(job.id)
    assert row["state"] == "CANCELLED" and not row["has_result"]
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await stub.CancelJob(pb.CancelJobRequest(id=job.id))
    assert error.value.code() == grpc.StatusCode.FAILED_PRECONDITION


async def test_optimize_cli_shows_progress_bar_then_best_rows(
    cluster: Cluster, database_url: str, nats_url: str, namespace: str, tmp_path: Any
) -> None:
    worker = cluster.start_worker()
    await cluster.stub(worker)
    env = base_env(
        database_url=database_url,
        nats_url=nats_url,
        namespace=namespace,
        backtest_target=f"127.0.0.1:{worker.port}",  # type: ignore[attr-defined]
    )
    cli = CliProcess(
        [
            "optimize",
            "BTCUSDT",
            "--interval",
            "1m",
            "--from",
            "2023-11-14T22:13:00Z",
            "--to",
            "2023-11-28T19:33:00Z",
            "--range",
            "fast=5:50:5",
            "--range",
            "slow=20:200:20",
            "--constraint",
            "fast < slow",
            "--objective",
            "sharpe",
            "--top",
            "3",
            "--data-dir",
            str(tmp_path / "no-stack"),
        ],
        env,
        tmp_path / "optimize.log",
    )
    assert await cli.run_to_end(120) == 0, cli.output()
    output = cli.output()
    assert "100%" in output and "[##" in output
    assert "parameter sets tried" in output
    table = [line for line in output.splitlines() if line.startswith(("1 ", "2 ", "3 "))]
    assert len(table) == 3
    assert all("fast=" in line and "slow=" in line for line in table)
