"""ListMissingTradeIds over gRPC against real storage: what a backfill still has to fetch."""

from __future__ import annotations

import dataclasses

import asyncpg
import grpc
import pytest

from quantflow.storage.v1 import storage_service_pb2 as pb
from quantflow.storage.v1 import storage_service_pb2_grpc
from services.storage import service as storage_service
from services.storage.migrations import migrate
from services.storage.repository import TradeRepository, prepare_connection
from tests.integration.helpers import running, service_settings, trade

pytestmark = pytest.mark.integration


async def test_missing_ids_are_listed_as_ranges_within_the_range_asked(
    database_url: str, nats_url: str, namespace: str
) -> None:
    settings = service_settings(database_url, nats_url, namespace)
    async with running(storage_service.run, settings, settings.storage_grpc_port):
        conn = await asyncpg.connect(database_url)
        await migrate(conn)
        await conn.close()
        pool = await asyncpg.create_pool(
            database_url, min_size=1, max_size=1, init=prepare_connection
        )
        stored = [*range(10, 20), *range(25, 30), 40]
        futures = [dataclasses.replace(trade(i), venue="binance_usdm") for i in range(0, 100)]
        await TradeRepository(pool).write_trades([trade(i) for i in stored] + futures)
        await pool.close()
        async with grpc.aio.insecure_channel(settings.storage_target) as channel:
            stub = storage_service_pb2_grpc.StorageServiceStub(channel)

            async def missing(first: int, last: int) -> list[tuple[int, int]]:
                reply = await stub.ListMissingTradeIds(
                    pb.ListMissingTradeIdsRequest(symbol="BTCUSDT", first_id=first, last_id=last)
                )
                assert reply.missing_count == sum(r.last_id - r.first_id + 1 for r in reply.missing)
                return [(r.first_id, r.last_id) for r in reply.missing]

            assert await missing(5, 45) == [(5, 9), (20, 24), (30, 39), (41, 45)]
            assert await missing(10, 19) == []
            assert await missing(40, 40) == []
            assert await missing(0, 0) == [(0, 0)]
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await missing(9, 5)
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
