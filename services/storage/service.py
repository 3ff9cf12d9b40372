"""The storage service: migrations, the JetStream consumer, the latest-price cache,
retention, gRPC and metrics."""

from __future__ import annotations

import asyncio
import contextlib
import logging

import asyncpg

from quantflow.storage.v1 import storage_service_pb2, storage_service_pb2_grpc
from services.common import bus, names
from services.common.clock import SystemClock
from services.common.deadletter import DeadLetterPublisher
from services.common.errors import InvalidArgument, Unavailable
from services.common.grpc_server import start_grpc_server
from services.common.runtime import MetricsServer, require_url
from services.common.settings import Settings, mask_password
from services.storage.candle_queries import CandleRepository
from services.storage.consumer import MarketConsumer
from services.storage.database_errors import DATABASE_UNAVAILABLE_ERRORS
from services.storage.migrations import prepare_schema
from services.storage.price_cache import LatestPriceCache
from services.storage.repository import TradeRepository, prepare_connection
from services.storage.retention import RetentionPolicy, check_rollups, parse_retention
from services.storage.retention_job import RetentionJob
from services.storage.rpc import StorageServicer
from services.storage.storage_mode import StorageMode
from services.storage.timescale_retention import apply_retention_policies

log = logging.getLogger(__name__)

SERVICE_NAME = storage_service_pb2.DESCRIPTOR.services_by_name["StorageService"].full_name
# How storage's connections show in pg_stat_activity (to watch, or to terminate, them).
SERVER_SETTINGS = {"application_name": "quantflow-storage"}


async def _connect(dsn: str) -> asyncpg.Connection:
    """The first connection; a database that refuses it is a one-line startup failure."""
    try:
        return await asyncpg.connect(dsn, timeout=10, server_settings=SERVER_SETTINGS)
    except (*DATABASE_UNAVAILABLE_ERRORS, asyncpg.PostgresError) as error:
        raise Unavailable(
            f"cannot reach PostgreSQL at {mask_password(dsn)}: {error or type(error).__name__}; "
            "check QUANTFLOW_DATABASE_URL"
        ) from error


async def _retention_policy(settings: Settings, repository: TradeRepository) -> RetentionPolicy:
    """QUANTFLOW_RETENTION, refused (naming the variable) when it does not parse or would
    delete what a rollup needs; stored kinds are those captured and those present."""
    try:
        policy = parse_retention(settings.retention)
        if policy.keep:
            captured = {names.stream_kind(stream) for stream in settings.streams}
            check_rollups(policy, captured | set(await repository.stored_kinds()))
    except ValueError as error:
        raise InvalidArgument(f"QUANTFLOW_RETENTION: {error}") from None
    return policy


async def run(settings: Settings, stop: asyncio.Event) -> None:
    dsn = require_url(settings.database_dsn(), "QUANTFLOW_DATABASE_URL")
    conn = await _connect(dsn)
    try:
        mode, schema_version = await prepare_schema(conn)
    finally:
        await conn.close()
    # A connection the server drops is replaced by the pool; what was being written on it
    # is retried by the consumer (see database_errors).
    pool = await asyncpg.create_pool(
        dsn, min_size=1, max_size=4, init=prepare_connection, server_settings=SERVER_SETTINGS
    )
    repository = TradeRepository(pool, mode)
    try:
        policy = await _retention_policy(settings, repository)
        if mode is StorageMode.TIMESCALEDB:
            # TimescaleDB drops whole chunks of the hypertables by its own policies; the
            # service's batched deletes keep only what has no hypertable (ticker history).
            async with pool.acquire() as conn:
                await apply_retention_policies(conn, policy.keep)
            policy = RetentionPolicy({k: v for k, v in policy.keep.items() if k == names.TICKER})
        # One small read (a row per venue and symbol); from here on the consumer keeps it.
        prices = LatestPriceCache(await repository.latest_prices())
    except BaseException:
        await pool.close()
        raise
    retention = RetentionJob(
        repository, policy, SystemClock(), settings.retention_every_s, settings.retention_batch_size
    )
    nc = await bus.connect(require_url(settings.nats_url, "QUANTFLOW_NATS_URL"), "storage")
    js = nc.jetstream()
    await bus.ensure_streams(js, settings.namespace, settings.market_max_age_hours * 3600)
    consumer = MarketConsumer(
        js,
        repository,
        settings.namespace,
        DeadLetterPublisher(js, settings.namespace, "storage"),
        settings.storage_batch_size,
        settings.storage_ack_wait_s,
        prices,
    )
    backend, version = await repository.backend()
    grpc_server = await start_grpc_server(
        settings.grpc_host,
        settings.storage_grpc_port,
        lambda server: storage_service_pb2_grpc.add_StorageServiceServicer_to_server(
            StorageServicer(
                repository, consumer, schema_version, prices, retention, CandleRepository(pool)
            ),
            server,
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
    expiring = asyncio.create_task(retention.run(stop))
    try:
        await consumer.run(stop)
    finally:
        expiring.cancel()  # mid-delete is fine: each batch is its own transaction
        with contextlib.suppress(asyncio.CancelledError):
            await expiring
        await grpc_server.stop()
        metrics.stop()
        await nc.drain()
        await pool.close()
