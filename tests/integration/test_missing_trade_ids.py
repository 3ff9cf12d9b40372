"""ListMissingIds over gRPC against real storage: what a backfill still has to fetch."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import asyncpg
import grpc
import pytest

from quantflow.storage.v1 import storage_service_pb2 as pb
from quantflow.storage.v1 import storage_service_pb2_grpc
from services.common.events import AggTrade, Kline
from services.storage import service as storage_service
from services.storage import tables
from services.storage.migrations import migrate
from services.storage.repository import SeriesSpec, TradeRepository, prepare_connection
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
                reply = await stub.ListMissingIds(
                    pb.ListMissingIdsRequest(
                        symbol="BTCUSDT", kind="trade", first_id=first, last_id=last
                    )
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


async def test_missing_agg_ids_and_kline_open_times_are_listed_per_kind(
    database_url: str, nats_url: str, namespace: str
) -> None:
    settings = service_settings(database_url, nats_url, namespace)
    minute = 60_000
    day = 1_660_435_200_000  # 2022-08-14 00:00 UTC
    async with running(storage_service.run, settings, settings.storage_grpc_port):
        pool = await asyncpg.create_pool(
            database_url, min_size=1, max_size=1, init=prepare_connection
        )
        repository = TradeRepository(pool)
        await repository.write(
            tables.AGG_TRADES, [_agg(i) for i in (*range(10, 20), 25)] + [_agg(12, "ETHUSDT")]
        )
        await repository.write(
            tables.KLINES,
            [_kline(day + n * minute) for n in (0, 1, 2, 5, 9)] + [_kline(day + 3 * minute, "5m")],
        )
        await pool.close()
        async with grpc.aio.insecure_channel(settings.storage_target) as channel:
            stub = storage_service_pb2_grpc.StorageServiceStub(channel)

            async def missing(
                kind: str, first: int, last: int
            ) -> tuple[list[tuple[int, int]], int]:
                reply = await stub.ListMissingIds(
                    pb.ListMissingIdsRequest(
                        symbol="BTCUSDT", kind=kind, first_id=first, last_id=last
                    )
                )
                return [(r.first_id, r.last_id) for r in reply.missing], reply.missing_count

            assert await missing("aggtrade", 5, 30) == ([(5, 9), (20, 24), (26, 30)], 15)
            assert await missing("trade", 10, 12) == ([(10, 12)], 3)
            assert await missing("kline_1m", day, day + 10 * minute) == (
                [
                    (day + 3 * minute, day + 4 * minute),
                    (day + 6 * minute, day + 8 * minute),
                    (day + 10 * minute, day + 10 * minute),
                ],
                6,
            )

            async def last(kind: str, symbol: str = "BTCUSDT") -> int:
                reply = await stub.GetLastStoredId(
                    pb.GetLastStoredIdRequest(symbol=symbol, kind=kind)
                )
                return int(reply.last_id)

            assert await last("aggtrade") == 25
            assert await last("aggtrade", "ETHUSDT") == 12
            assert await last("kline_1m") == day + 9 * minute
            assert await last("kline_5m") == day + 3 * minute
            with pytest.raises(grpc.aio.AioRpcError) as absent:
                await last("kline_1h")
            assert absent.value.code() == grpc.StatusCode.NOT_FOUND
            for kind in ("book", "kline_2m"):
                with pytest.raises(grpc.aio.AioRpcError) as refused:
                    await missing(kind, 0, 1)
                assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
                assert kind.removeprefix("kline_") in (refused.value.details() or "")


def _agg(agg_id: int, symbol: str = "BTCUSDT") -> AggTrade:
    return AggTrade(
        venue="binance",
        symbol=symbol,
        agg_id=agg_id,
        price="58001.03000000",
        quantity="0.08620500",
        first_trade_id=agg_id * 2,
        last_trade_id=agg_id * 2 + 1,
        trade_time_ms=1617566591314 + agg_id,
        event_time_ms=1617566591315 + agg_id,
        buyer_is_maker=True,
    )


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


def _month(year: int, month: int) -> int:
    return int(datetime(year, month, 1, tzinfo=UTC).timestamp()) * 1000


async def test_missing_monthly_klines_are_whole_calendar_months_in_any_session_time_zone(
    database_url: str, nats_url: str, namespace: str
) -> None:
    settings = service_settings(database_url, nats_url, namespace)
    stored = [_month(2023, 11), _month(2023, 12), _month(2024, 3)]
    async with running(storage_service.run, settings, settings.storage_grpc_port):
        # A session in New York: a month added to its local midnight crosses a DST change.
        pool = await asyncpg.create_pool(
            database_url,
            min_size=1,
            max_size=1,
            init=prepare_connection,
            server_settings={"timezone": "America/New_York"},
        )
        repository = TradeRepository(pool)
        await repository.write(tables.KLINES, [_kline(open_ms, "1M") for open_ms in stored])
        direct = await repository.missing_ids(
            SeriesSpec.of("kline_1M"), "binance", "BTCUSDT", _month(2023, 10), _month(2024, 4), 10
        )
        await pool.close()
        async with grpc.aio.insecure_channel(settings.storage_target) as channel:
            stub = storage_service_pb2_grpc.StorageServiceStub(channel)
            reply = await stub.ListMissingIds(
                pb.ListMissingIdsRequest(
                    symbol="BTCUSDT",
                    kind="kline_1M",
                    first_id=_month(2023, 10),
                    last_id=_month(2024, 4),
                )
            )
            stored_only = await stub.ListMissingIds(
                pb.ListMissingIdsRequest(
                    symbol="BTCUSDT",
                    kind="kline_1M",
                    first_id=_month(2023, 11),
                    last_id=_month(2023, 12),
                )
            )
    expected = [
        (_month(2023, 10), _month(2023, 10)),
        (_month(2024, 1), _month(2024, 2)),  # 31 days, then 29
        (_month(2024, 4), _month(2024, 4)),
    ]
    assert direct == expected
    assert [(r.first_id, r.last_id) for r in reply.missing] == expected
    assert reply.missing_count == 4
    assert list(stored_only.missing) == [] and stored_only.missing_count == 0
