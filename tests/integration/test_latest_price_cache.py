"""``price``/``prices`` answer from storage's in-memory latest prices: moved by every
committed batch, seeded at start-up, and never read from PostgreSQL per request."""

from __future__ import annotations

import asyncpg
import grpc
import pytest
from nats.aio.client import Client as NatsClient

from quantflow.storage.v1 import storage_service_pb2 as pb
from quantflow.storage.v1 import storage_service_pb2_grpc
from services.common.settings import Settings
from services.storage import service as storage_service
from tests.integration.helpers import eventually, running, service_settings, trade, trade_publisher

pytestmark = pytest.mark.integration


async def _price(settings: Settings, symbol: str = "BTCUSDT") -> str | None:
    async with grpc.aio.insecure_channel(settings.storage_target) as channel:
        stub = storage_service_pb2_grpc.StorageServiceStub(channel)
        try:
            reply = await stub.GetLatestPrice(pb.GetLatestPriceRequest(symbol=symbol))
        except grpc.aio.AioRpcError as error:
            assert error.code() == grpc.StatusCode.NOT_FOUND
            return None
        listed = await stub.ListLatestPrices(pb.ListLatestPricesRequest(symbols=[symbol]))
    assert [p.price for p in listed.prices] == [reply.price.price]
    return str(reply.price.price)


async def test_the_price_moves_with_each_committed_batch_without_reading_the_tables(
    database_url: str, nats_url: str, namespace: str, nats_client: NatsClient
) -> None:
    settings = service_settings(database_url, nats_url, namespace)
    _, publisher = await trade_publisher(nats_client, namespace)
    conn = await asyncpg.connect(database_url)
    try:
        async with running(storage_service.run, settings, settings.storage_grpc_port):
            await publisher.publish(trade(1, "100.00"))
            await publisher.flush()

            async def moved_to(price: str) -> bool:
                return await _price(settings) == price

            await eventually(lambda: moved_to("100.00"))
            # Empty both tables a read could come from: the answer cannot change, so it
            # is not read from them.
            await conn.execute("DELETE FROM latest_prices; DELETE FROM trades")
            assert await _price(settings) == "100.00"

            for trade_id, price in ((3, "103.00"), (2, "102.00")):  # a late, older trade too
                await publisher.publish(trade(trade_id, price))
            await publisher.flush()
            await eventually(lambda: moved_to("103.00"))
            stored = await conn.fetchval("SELECT count(*) FROM trades")
        # A restart seeds the cache from latest_prices (kept by each batch).
        await conn.execute("UPDATE latest_prices SET price = 99.5")
        async with running(storage_service.run, settings, settings.storage_grpc_port):
            after_restart = await _price(settings)
            unknown = await _price(settings, "ETHUSDT")
    finally:
        await conn.close()
    assert stored == 2
    assert after_restart == "99.5"
    assert unknown is None
