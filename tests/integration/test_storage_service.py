"""The storage service in-process: JetStream in, PostgreSQL and gRPC out."""

from __future__ import annotations

import asyncio
import contextlib

import asyncpg
import grpc
import pytest
from nats.aio.client import Client as NatsClient

from quantflow.storage.v1 import storage_service_pb2 as pb
from quantflow.storage.v1 import storage_service_pb2_grpc
from services.common import names
from services.common.deadletter import REASON_HEADER
from services.common.grpc_server import check_health
from services.storage import service as storage_service
from tests.integration.helpers import (
    bus_events,
    eventually,
    running,
    service_settings,
    trade,
    trade_publisher,
)

pytestmark = pytest.mark.integration


async def _count(database_url: str) -> int:
    conn = await asyncpg.connect(database_url)
    try:
        return int(await conn.fetchval("SELECT count(*) FROM trades"))
    finally:
        await conn.close()


async def test_published_trades_are_stored_once_and_served_over_grpc(
    database_url: str, nats_url: str, namespace: str, nats_client: NatsClient
) -> None:
    settings = service_settings(database_url, nats_url, namespace)
    js, publisher = await trade_publisher(nats_client, namespace)
    for trade_id in range(1, 501):
        await publisher.publish(trade(trade_id))
    for trade_id in range(1, 501):  # a replay: never reaches the bus twice
        await publisher.publish(trade(trade_id))
    await publisher.publish(trade(3, symbol="ETHUSDT", price="2064.10"))
    await publisher.flush()
    assert len(await bus_events(js, namespace)) == 501

    async with running(storage_service.run, settings, settings.storage_grpc_port):
        await eventually(lambda: _has(database_url, 501))
        async with grpc.aio.insecure_channel(settings.storage_target) as channel:
            stub = storage_service_pb2_grpc.StorageServiceStub(channel)
            reply = await stub.GetLatestPrice(pb.GetLatestPriceRequest(symbol="btcusdt"))
            assert (reply.price.symbol, reply.price.trade_id) == ("BTCUSDT", 500)
            assert reply.price.price == "61583.01000000"
            listing = await stub.ListLatestPrices(pb.ListLatestPricesRequest())
            assert [(p.symbol, p.price) for p in listing.prices] == [
                ("BTCUSDT", "61583.01000000"),
                ("ETHUSDT", "2064.10"),
            ]
            status = await stub.GetStorageStatus(pb.GetStorageStatusRequest())
            assert status.trades_written == 501
            assert status.schema_version >= 1
            with pytest.raises(grpc.aio.AioRpcError) as missing:
                await stub.GetLatestPrice(pb.GetLatestPriceRequest(symbol="DOGEUSDT"))
            assert missing.value.code() == grpc.StatusCode.NOT_FOUND
            with pytest.raises(grpc.aio.AioRpcError) as invalid:
                await stub.GetLatestPrice(pb.GetLatestPriceRequest(symbol="not a symbol"))
            assert invalid.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert await check_health(settings.storage_target) == "SERVING"
    assert await _count(database_url) == 501


async def _has(database_url: str, expected: int) -> bool:
    return await _count(database_url) >= expected


async def test_undecodable_event_is_dead_lettered_and_the_rest_stored(
    database_url: str, nats_url: str, namespace: str, nats_client: NatsClient
) -> None:
    settings = service_settings(database_url, nats_url, namespace)
    js, publisher = await trade_publisher(nats_client, namespace)
    await publisher.publish(trade(1))
    await publisher.flush()
    await js.publish(names.trade_subject("BTCUSDT", namespace=namespace), b"\xff\x00 not proto")
    await publisher.publish(trade(2))
    await publisher.flush()

    async with running(storage_service.run, settings, settings.storage_grpc_port):
        await eventually(lambda: _has(database_url, 2))
        dead = await js.subscribe(
            names.deadletter_subject("storage", namespace),
            stream=names.deadletter_stream(namespace),
        )
        letter = await dead.next_msg(timeout=10)
        assert letter.data == b"\xff\x00 not proto"
        assert "Trade" in letter.headers[REASON_HEADER]
        await dead.unsubscribe()
    consumer = await js.consumer_info(
        names.market_stream(namespace), names.storage_market_durable(namespace)
    )
    assert consumer.num_ack_pending == 0 and consumer.num_pending == 0


async def test_restarted_storage_resumes_from_its_durable_consumer(
    database_url: str, nats_url: str, namespace: str, nats_client: NatsClient
) -> None:
    settings = service_settings(database_url, nats_url, namespace)
    _, publisher = await trade_publisher(nats_client, namespace)
    async with running(storage_service.run, settings, settings.storage_grpc_port):
        for trade_id in range(1, 101):
            await publisher.publish(trade(trade_id))
        await publisher.flush()
        await eventually(lambda: _has(database_url, 100))
    for trade_id in range(101, 201):  # published while storage is down
        await publisher.publish(trade(trade_id))
    await publisher.flush()
    async with running(storage_service.run, settings, settings.storage_grpc_port):
        await eventually(lambda: _has(database_url, 200))
    conn = await asyncpg.connect(database_url)
    try:
        ids = [r["trade_id"] for r in await conn.fetch("SELECT trade_id FROM trades ORDER BY 1")]
    finally:
        await conn.close()
    assert ids == list(range(1, 201))


async def test_connections_killed_while_trades_flow_lose_and_double_nothing(
    database_url: str,
    postgres_admin_url: str,
    nats_url: str,
    namespace: str,
    nats_client: NatsClient,
) -> None:
    """PostgreSQL drops storage's connections mid-batch (pg_terminate_backend, as a
    restart or an operator would): storage keeps serving, the pool reconnects, and every
    trade is stored exactly once."""
    settings = service_settings(database_url, nats_url, namespace, storage_batch_size=100)
    _, publisher = await trade_publisher(nats_client, namespace, window=64)
    database = database_url.rsplit("/", 1)[1]
    total = 6000
    killer = await asyncpg.connect(postgres_admin_url)
    dropped = 0

    async def drop_connections() -> None:
        nonlocal dropped
        while True:
            await asyncio.sleep(0.1)
            dropped += len(
                await killer.fetch(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = $1 AND application_name = 'quantflow-storage'",
                    database,
                )
            )

    async with running(storage_service.run, settings, settings.storage_grpc_port):
        dropping = asyncio.create_task(drop_connections())
        try:
            for start in range(1, total + 1, 200):
                for trade_id in range(start, start + 200):
                    await publisher.publish(trade(trade_id))
                await publisher.flush()
                await asyncio.sleep(0.05)
        finally:
            dropping.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await dropping
            await killer.close()
        assert dropped >= 3, f"only {dropped} connections were dropped"
        await eventually(lambda: _has(database_url, total), timeout=90)
        await asyncio.sleep(1.0)  # anything redelivered late must not add rows either
        assert await check_health(settings.storage_target) == "SERVING"
        async with grpc.aio.insecure_channel(settings.storage_target) as channel:
            stub = storage_service_pb2_grpc.StorageServiceStub(channel)
            reply = await stub.GetLatestPrice(pb.GetLatestPriceRequest(symbol="BTCUSDT"))
            assert reply.price.trade_id == total
    conn = await asyncpg.connect(database_url)
    try:
        count, distinct = await conn.fetchrow(
            "SELECT count(*), count(DISTINCT trade_id) FROM trades"
        )
        ids = [r["trade_id"] for r in await conn.fetch("SELECT trade_id FROM trades ORDER BY 1")]
    finally:
        await conn.close()
    assert count == distinct == total
    assert ids == list(range(1, total + 1))
