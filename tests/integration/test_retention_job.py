"""Retention in the storage service on plain PostgreSQL: what expires is deleted in
batches on a schedule and counted; a setting that starves a rollup stops start-up."""

from __future__ import annotations

import asyncio
import dataclasses
import time

import asyncpg
import grpc
import pytest

from quantflow.storage.v1 import storage_service_pb2 as pb
from quantflow.storage.v1 import storage_service_pb2_grpc
from services.common.errors import InvalidArgument
from services.common.events import Kline
from services.storage import service as storage_service
from services.storage import tables
from services.storage.repository import TradeRepository, prepare_connection
from tests.integration.helpers import eventually, running, service_settings, trade

pytestmark = pytest.mark.integration

HOUR_MS = 3_600_000


def _kline(open_ms: int, interval: str = "1m") -> Kline:
    return Kline(
        venue="binance",
        symbol="BTCUSDT",
        interval=interval,
        open_time_ms=open_ms,
        close_time_ms=open_ms + 59_999,
        open="1982.23",
        high="1985.00",
        low="1980.00",
        close="1984.10",
        volume="10.5",
        quote_volume="20000.1",
        trades=42,
        first_trade_id=-1,
        last_trade_id=-1,
        taker_buy_volume="5.1",
        taker_buy_quote_volume="10000.0",
        closed=True,
        event_time_ms=open_ms + 60_000,
    )


async def test_rows_older_than_their_kinds_retention_are_deleted_in_batches_and_counted(
    database_url: str, nats_url: str, namespace: str
) -> None:
    settings = service_settings(
        database_url,
        nats_url,
        namespace,
        retention="trade=1d,kline_1m=30d",
        retention_every_s=0.2,
        retention_batch_size=7,
    )
    now_ms = time.time_ns() // 1_000_000
    minute_now = now_ms // 60_000 * 60_000
    async with running(storage_service.run, settings, settings.storage_grpc_port):
        pool = await asyncpg.create_pool(
            database_url, min_size=1, max_size=1, init=prepare_connection
        )
        repository = TradeRepository(pool)
        # helpers.trade happened in 2024: long expired. Recent ones stay.
        old = [trade(i) for i in range(20)]
        recent = [dataclasses.replace(trade(i), trade_time_ms=now_ms - HOUR_MS) for i in (20, 21)]
        await repository.write_trades(old + recent)
        await repository.write(
            tables.KLINES,
            [_kline(minute_now - (31 * 24 + n) * HOUR_MS) for n in range(9)]  # expired
            + [_kline(minute_now - 29 * 24 * HOUR_MS)]  # kept: 29 days old
            + [_kline(minute_now - 400 * 24 * HOUR_MS, "1h")],  # 1h is kept forever
        )
        await pool.close()
        async with grpc.aio.insecure_channel(settings.storage_target) as channel:
            stub = storage_service_pb2_grpc.StorageServiceStub(channel)

            async def expired() -> bool:
                status = await stub.GetStorageStatus(pb.GetStorageStatusRequest())
                return dict(status.rows_expired) == {"trade": 20, "kline_1m": 9}

            await eventually(expired)
            status = await stub.GetStorageStatus(pb.GetStorageStatusRequest())
        conn = await asyncpg.connect(database_url)
        try:
            trade_ids = [r["trade_id"] for r in await conn.fetch("SELECT trade_id FROM trades")]
            klines = await conn.fetch("SELECT interval, count(*) FROM klines GROUP BY 1 ORDER BY 1")
        finally:
            await conn.close()
    assert sorted(trade_ids) == [20, 21]
    assert [(r["interval"], r["count"]) for r in klines] == [("1h", 1), ("1m", 1)]
    assert (status.backend, status.retention_mode) == ("postgresql", "batched delete")
    assert status.retention == "trade=1d,kline_1m=30d"


async def test_storage_refuses_to_start_with_a_retention_that_deletes_what_a_rollup_needs(
    database_url: str, nats_url: str, namespace: str
) -> None:
    # Captured by default: trade, aggTrade, kline_1m. Hourly candles are not stored, so they
    # would be built from 1m klines or trades, both deleted long before a year.
    settings = service_settings(
        database_url, nats_url, namespace, retention="trade=7d,kline_1m=30d,kline_1h=365d"
    )
    with pytest.raises(InvalidArgument) as refused:
        await asyncio.wait_for(storage_service.run(settings, asyncio.Event()), 30)
    message = str(refused.value)
    assert message.startswith("QUANTFLOW_RETENTION: retention kline_1h=365d")
    assert "kline_1m (30d)" in message and "trade (1w)" in message

    bad = service_settings(database_url, nats_url, namespace, retention="trades=7d")
    with pytest.raises(InvalidArgument, match="QUANTFLOW_RETENTION: retention kind 'trades'"):
        await asyncio.wait_for(storage_service.run(bad, asyncio.Event()), 30)
