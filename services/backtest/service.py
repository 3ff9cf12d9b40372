"""The backtest service: candles from storage over gRPC, results in PostgreSQL, gRPC and
metrics, and one job worker on the JOBS work queue."""

from __future__ import annotations

import asyncio
import contextlib
import logging

import asyncpg

from quantflow.backtest.v1 import backtest_service_pb2, backtest_service_pb2_grpc
from quantflow.storage.v1 import storage_service_pb2_grpc
from services.backtest.job_events import JobEventPublisher
from services.backtest.job_rpc import JobDesk, JobServicer
from services.backtest.job_runner import JobRunner
from services.backtest.job_store import JobStore
from services.backtest.results import ResultRepository
from services.backtest.worker import JobWorker
from services.common import bus
from services.common.grpc_server import start_grpc_server
from services.common.runtime import MetricsServer, require_url
from services.common.service_token import service_channel
from services.common.settings import Settings
from services.storage.migrations import open_migrated_pool

log = logging.getLogger(__name__)

SERVICE_NAME = backtest_service_pb2.DESCRIPTOR.services_by_name["BacktestService"].full_name
# Candles of a million-bar backtest arrive in chunks far below this; a whole result (up to
# 10,000 equity points and every trade) may not.
MAX_MESSAGE_BYTES = 64 * 1024 * 1024
CHANNEL_OPTIONS = [
    ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
    ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
]


async def _pool(dsn: str) -> asyncpg.Pool:
    return await open_migrated_pool(dsn, min_size=1, max_size=4)


async def run(settings: Settings, stop: asyncio.Event) -> None:
    dsn = require_url(settings.database_dsn(), "QUANTFLOW_DATABASE_URL")
    pool = await _pool(dsn)
    channel = service_channel(settings.storage_target, settings.service_token, CHANNEL_OPTIONS)
    storage = storage_service_pb2_grpc.StorageServiceStub(channel)
    results, jobs = ResultRepository(pool), JobStore(pool)
    nc = await bus.connect(require_url(settings.nats_url, "QUANTFLOW_NATS_URL"), "backtest")
    js = nc.jetstream()
    await bus.ensure_jobs_stream(js, settings.namespace)
    worker = JobWorker(
        js,
        jobs,
        JobEventPublisher(nc, settings.namespace),
        JobRunner(storage, results),
        settings.namespace,
        ack_wait_s=settings.backtest_job_ack_wait_s,
        max_attempts=settings.backtest_job_max_attempts,
    )
    desk = JobDesk(jobs, js, settings.namespace)
    grpc_server = await start_grpc_server(
        settings.grpc_host,
        settings.backtest_grpc_port,
        lambda server: backtest_service_pb2_grpc.add_BacktestServiceServicer_to_server(
            JobServicer(storage, results, desk, nc, settings.namespace), server
        ),
        [SERVICE_NAME],
        options=CHANNEL_OPTIONS,
        service_token=settings.service_token,
    )
    metrics = MetricsServer(settings.grpc_host, settings.backtest_metrics_port)
    log.info(
        "backtest: storage %s, gRPC :%d, metrics :%d",
        settings.storage_target,
        grpc_server.port,
        metrics.port,
    )
    working = asyncio.create_task(worker.run(stop))
    try:
        await stop.wait()
    finally:
        # The worker hands a running job back to the queue at its next step.
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(working, 30)
        await grpc_server.stop()
        await nc.drain()
        metrics.stop()
        await channel.close()
        await pool.close()
