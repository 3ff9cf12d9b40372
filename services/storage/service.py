"""The storage service: migrations, the JetStream consumer, gRPC and metrics."""

from __future__ import annotations

import asyncio
import logging

import asyncpg

from quantflow.storage.v1 import storage_service_pb2, storage_service_pb2_grpc
from services.common import bus
from services.common.deadletter import DeadLetterPublisher
from services.common.errors import Unavailable
from services.common.grpc_server import start_grpc_server
from services.common.runtime import MetricsServer, require_url
from services.common.settings import Settings, mask_password
from services.storage.consumer import MarketConsumer
from services.storage.migrations import prepare_schema
from services.storage.repository import TradeRepository, prepare_connection
from services.storage.rpc import StorageServicer

log = logging.getLogger(__name__)

SERVICE_NAME = storage_service_pb2.DESCRIPTOR.services_by_name["StorageService"].full_name


async def _connect(dsn: str) -> asyncpg.Connection:
    """The first connection; a database that refuses it is a one-line startup failure."""
    try:
        return await asyncpg.connect(dsn, timeout=10)
    except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
        raise Unavailable(
            f"cannot reach PostgreSQL at {mask_password(dsn)}: {error or type(error).__name__}; "
            "check QUANTFLOW_DATABASE_URL"
        ) from error


async def run(settings: Settings, stop: asyncio.Event) -> None:
    dsn = require_url(settings.database_dsn(), "QUANTFLOW_DATABASE_URL")
    conn = await _connect(dsn)
    try:
        mode, schema_version = await prepare_schema(conn)
    finally:
        await conn.close()
    pool = await asyncpg.create_pool(dsn, min_size=1, max_size=4, init=prepare_connection)
    nc = await bus.connect(require_url(settings.nats_url, "QUANTFLOW_NATS_URL"), "storage")
    js = nc.jetstream()
    await bus.ensure_streams(js, settings.namespace, settings.market_max_age_hours * 3600)
    repository = TradeRepository(pool, mode)
    consumer = MarketConsumer(
        js,
        repository,
        settings.namespace,
        DeadLetterPublisher(js, settings.namespace, "storage"),
        settings.storage_batch_size,
        settings.storage_ack_wait_s,
    )
    backend, version = await repository.backend()
    grpc_server = await start_grpc_server(
        settings.grpc_host,
        settings.storage_grpc_port,
        lambda server: storage_service_pb2_grpc.add_StorageServiceServicer_to_server(
            StorageServicer(repository, consumer, schema_version), server
        ),
        [SERVICE_NAME],
    )
    metrics = MetricsServer(settings.grpc_host, settings.storage_metrics_port)
    log.info(
        "storage: %s %s, schema v%d, gRPC :%d, metrics :%d",
        backend,
        version,
        schema_version,
        grpc_server.port,
        metrics.port,
    )
    try:
        await consumer.run(stop)
    finally:
        await grpc_server.stop()
        metrics.stop()
        await nc.drain()
        await pool.close()
