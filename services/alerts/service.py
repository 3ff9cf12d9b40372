"""The alerts service: rules and channels over gRPC, the evaluator on the market stream, the
scheduler (expiry, stale feeds), metrics, and the delivery worker sending from the outbox.

Stopping: gRPC stops taking calls, then the evaluator finishes its batch (what it did not
commit it did not ack: the bus delivers it again), the scheduler and the worker stop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

import asyncpg
import httpx

from quantflow.alerts.v1 import alerts_service_pb2, alerts_service_pb2_grpc
from quantflow.storage.v1 import storage_service_pb2_grpc
from services.alerts.channels.email import SmtpServer
from services.alerts.channels.retry_policy import RetryPolicy
from services.alerts.channels.senders import senders
from services.alerts.delivery import DeliverySettings, DeliveryWorker
from services.alerts.evaluator import Evaluator
from services.alerts.market_data import SymbolCatalogue
from services.alerts.metrics import OutboxGauges
from services.alerts.rpc import AlertsServicer
from services.alerts.scheduler import Scheduler
from services.common import bus
from services.common.grpc_server import GrpcServer, start_grpc_server
from services.common.runtime import MetricsServer, require_url
from services.common.service_token import service_channel
from services.common.settings import Settings
from services.storage.migrations import open_migrated_pool

log = logging.getLogger(__name__)

# How the service's connections show in pg_stat_activity.
APPLICATION_NAME = "quantflow-alerts"
SERVICE_NAME = alerts_service_pb2.DESCRIPTOR.services_by_name["AlertsService"].full_name


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def smtp_server(settings: Settings) -> SmtpServer:
    password = settings.smtp_password
    return SmtpServer(
        host=settings.smtp_host,
        port=settings.smtp_port,
        sender=settings.smtp_sender,
        username=settings.smtp_username,
        password=None if password is None else password.get_secret_value(),
        starttls=settings.smtp_starttls,
    )


async def open_pool(dsn: str) -> asyncpg.Pool:
    return await open_migrated_pool(dsn, min_size=2, max_size=8, application_name=APPLICATION_NAME)


async def _serve_when_consuming(evaluator: Evaluator, server: GrpcServer) -> None:
    await evaluator.consuming.wait()
    await server.serve()
    log.info("alerts: evaluating the market; SERVING")


async def run(settings: Settings, stop: asyncio.Event) -> None:
    dsn = require_url(settings.database_dsn(), "QUANTFLOW_DATABASE_URL")
    pool = await open_pool(dsn)
    channel = service_channel(settings.storage_target, settings.service_token)
    storage = storage_service_pb2_grpc.StorageServiceStub(channel)
    http = httpx.AsyncClient(timeout=httpx.Timeout(15.0, connect=5.0))
    policy = RetryPolicy(
        base_s=settings.alerts_retry_base_s,
        cap_s=max(300.0, settings.alerts_retry_base_s),
        max_attempts=settings.alerts_retry_max_attempts,
    )
    # Shared by test sends and the delivery worker, so both keep to one set of rate limits.
    by_kind = senders(
        http,
        smtp_server(settings),
        telegram_api_url=settings.telegram_api_url,
        policy=policy,
    )
    nc = await bus.connect(require_url(settings.nats_url, "QUANTFLOW_NATS_URL"), "alerts")
    js = nc.jetstream()
    await bus.ensure_streams(js, settings.namespace, settings.market_max_age_hours * 3600)
    await bus.ensure_alerts_stream(js, settings.namespace)
    evaluator = Evaluator(pool, dsn, js, settings.namespace, storage=storage)
    scheduler = Scheduler(pool, js, settings.namespace, now_ms)
    delivery = DeliveryWorker(
        pool, by_kind, DeliverySettings(poll_s=settings.alerts_delivery_poll_s)
    )
    servicer = AlertsServicer(
        pool, storage, SymbolCatalogue(storage, settings.symbols), by_kind, now_ms
    )
    grpc_server = await start_grpc_server(
        settings.grpc_host,
        settings.alerts_grpc_port,
        lambda server: alerts_service_pb2_grpc.add_AlertsServiceServicer_to_server(
            servicer, server
        ),
        [SERVICE_NAME],
        service_token=settings.service_token,
        # SERVING once the evaluator's durable consumer exists: before it, trades on the bus
        # would reach no rule.
        serving=False,
    )
    metrics = MetricsServer(settings.grpc_host, settings.alerts_metrics_port)
    gauges = OutboxGauges(pool)
    log.info(
        "alerts: storage %s, gRPC :%d, metrics :%d",
        settings.storage_target,
        grpc_server.port,
        metrics.port,
    )
    tasks = [
        asyncio.create_task(evaluator.run(stop), name="alerts-evaluator"),
        asyncio.create_task(scheduler.run(stop), name="alerts-scheduler"),
        asyncio.create_task(gauges.run(stop), name="alerts-outbox-gauges"),
        asyncio.create_task(delivery.run(stop), name="alerts-delivery"),
    ]
    stopping = asyncio.create_task(stop.wait())
    serving = asyncio.create_task(_serve_when_consuming(evaluator, grpc_server))
    try:
        # A task that ends before the stop has failed: the service ends with its error.
        await asyncio.wait([stopping, *tasks], return_when=asyncio.FIRST_COMPLETED)
        for task in tasks:
            if task.done():
                task.result()
                raise RuntimeError(f"{task.get_name()} ended before the service was stopped")
    finally:
        stop.set()
        stopping.cancel()
        serving.cancel()
        await grpc_server.stop()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                await asyncio.wait_for(task, 30)
        await nc.drain()
        metrics.stop()
        await http.aclose()
        await channel.close()
        await pool.close()
