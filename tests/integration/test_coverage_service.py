"""Coverage through gRPC, GraphQL and ``quantflow audit``, against real storage: stored
runs, the holes between them, and which holes are Binance's own (found by a backfill)."""

from __future__ import annotations

from pathlib import Path

import asyncpg
import grpc
import pytest
from nats.aio.client import Client as NatsClient

from quantflow.storage.v1 import storage_service_pb2 as pb
from quantflow.storage.v1 import storage_service_pb2_grpc
from services.cli.audit import audit
from services.cli.backfill import BackfillError, backfill
from services.storage import service as storage_service
from services.storage.repository import TradeRepository, prepare_connection
from tests.conftest import FIXTURES
from tests.fakes.binance_rest import FakeBinanceRest, klines_from_csv
from tests.integration.graph_helpers import error_codes, gateway, graphql
from tests.integration.helpers import eventually, running, service_settings, trade

pytestmark = pytest.mark.integration

KLINES = klines_from_csv(FIXTURES / "ETHUSDT-1m-2022-08-14.csv")
DAY = 1_660_435_200_000  # 2022-08-14T00:00Z, the first open time of KLINES
MINUTE = 60_000
# Minutes 10:00-10:19 the fake exchange has no candles for, like a real Binance outage.
OUTAGE = range(600, 620)


def _ranges(reply: pb.GetCoverageResponse) -> list[tuple[int, int, int]]:
    return [(r.first_id, r.last_id, r.count) for r in reply.ranges]


def _holes(reply: pb.GetCoverageResponse) -> list[tuple[int, int, int, str]]:
    return [
        (h.first_id, h.last_id, h.missing, pb.HoleCause.Name(h.cause).removeprefix("HOLE_CAUSE_"))
        for h in reply.holes
    ]


async def test_a_trade_range_with_one_missing_id_reports_exactly_that_id(
    database_url: str, nats_url: str, namespace: str, nats_client: NatsClient
) -> None:
    settings = service_settings(database_url, nats_url, namespace)
    async with (
        running(storage_service.run, settings, settings.storage_grpc_port),
        gateway(settings),
    ):
        pool = await asyncpg.create_pool(
            database_url, min_size=1, max_size=1, init=prepare_connection
        )
        await TradeRepository(pool).write_trades(
            [trade(i) for i in range(10, 31) if i != 15] + [trade(40), trade(3, symbol="ETHUSDT")]
        )
        await pool.close()
        async with grpc.aio.insecure_channel(settings.storage_target) as channel:
            stub = storage_service_pb2_grpc.StorageServiceStub(channel)
            whole = await stub.GetCoverage(pb.GetCoverageRequest(symbol="BTCUSDT", kind="trade"))
            # Trade times follow ids (helpers.trade): [time of 12, time of 31) holds 12 … 30.
            window = await stub.GetCoverage(
                pb.GetCoverageRequest(
                    symbol="BTCUSDT",
                    kind="trade",
                    from_ms=trade(12).trade_time_ms,
                    to_ms=trade(31).trade_time_ms,
                )
            )
            kinds = await stub.ListSeries(pb.ListSeriesRequest(symbol="BTCUSDT"))
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await stub.GetCoverage(
                    pb.GetCoverageRequest(symbol="BTCUSDT", kind="trade", from_ms=5, to_ms=5)
                )
        answer = await graphql(
            settings,
            '{ coverage(symbol: "BTCUSDT", kind: "trade", from: "2024-08-08T23:54:15.012Z", '
            'to: "2024-08-08T23:54:15.031Z") { kind ranges { from to count } '
            "holes { from to missing cause } stored missing exchangeMissing } }",
        )
        bad_kind = await graphql(settings, '{ coverage(symbol: "BTCUSDT", kind: "book") { kind } }')
    assert _ranges(whole) == [(10, 14, 5), (16, 30, 15), (40, 40, 1)]
    assert _holes(whole) == [(15, 15, 1, "MISSING"), (31, 39, 9, "MISSING")]
    assert (whole.stored_count, whole.missing_count, whole.exchange_missing_count) == (21, 10, 0)
    assert _ranges(window) == [(12, 14, 3), (16, 30, 15)]
    assert _holes(window) == [(15, 15, 1, "MISSING")]
    assert list(kinds.kinds) == ["trade"]
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert answer == {
        "data": {
            "coverage": {
                "kind": "trade",
                "ranges": [
                    {"from": "12", "to": "14", "count": "3"},
                    {"from": "16", "to": "30", "count": "15"},
                ],
                "holes": [{"from": "15", "to": "15", "missing": "1", "cause": "MISSING"}],
                "stored": "18",
                "missing": "1",
                "exchangeMissing": "0",
            }
        }
    }
    assert error_codes(bad_kind) == ["INVALID_ARGUMENT"]
    assert "'book'" in bad_kind["errors"][0]["message"]


async def test_kline_holes_binance_also_lacks_are_exchange_holes_and_the_rest_missing(
    database_url: str, nats_url: str, namespace: str, nats_client: NatsClient, tmp_path: Path
) -> None:
    exchange = [k for n, k in enumerate(KLINES) if n not in OUTAGE]
    async with FakeBinanceRest(klines={("ETHUSDT", "1m"): exchange}) as rest:
        settings = service_settings(
            database_url, nats_url, namespace, binance_rest_url=rest.url, data_dir=tmp_path
        )
        async with running(storage_service.run, settings, settings.storage_grpc_port):
            # The backfill stores what Binance has and reports the outage it ran into.
            with pytest.raises(BackfillError, match="Binance skipped"):
                await backfill(settings, "ETHUSDT", "kline_1m", "2022-08-14", "2022-08-14")
            conn = await asyncpg.connect(database_url)
            try:

                async def all_stored() -> bool:
                    count = await conn.fetchval("SELECT count(*) FROM klines")
                    return bool(count == len(exchange))

                await eventually(all_stored)
                # A candle Binance has and we lost: ours to fetch again.
                await conn.execute(
                    "DELETE FROM klines WHERE open_time = to_timestamp($1::bigint / 1000.0)",
                    DAY + 100 * MINUTE,
                )
            finally:
                await conn.close()
            async with grpc.aio.insecure_channel(settings.storage_target) as channel:
                stub = storage_service_pb2_grpc.StorageServiceStub(channel)
                request = pb.GetCoverageRequest(symbol="ETHUSDT", kind="kline_1m")

                async def outage_known() -> bool:
                    reply = await stub.GetCoverage(request)
                    return bool(reply.exchange_missing_count > 0)

                await eventually(outage_known)
                reply = await stub.GetCoverage(request)
            report = await audit(settings, "ETHUSDT", "binance")
    assert _ranges(reply) == [
        (DAY, DAY + 99 * MINUTE, 100),
        (DAY + 101 * MINUTE, DAY + 599 * MINUTE, 499),
        (DAY + 620 * MINUTE, DAY + 1439 * MINUTE, 820),
    ]
    assert _holes(reply) == [
        (DAY + 100 * MINUTE, DAY + 100 * MINUTE, 1, "MISSING"),
        (DAY + 600 * MINUTE, DAY + 619 * MINUTE, 20, "EXCHANGE"),
    ]
    assert (reply.stored_count, reply.missing_count, reply.exchange_missing_count) == (1419, 21, 20)
    text = "\n".join(report)
    assert "ETHUSDT kline_1m (open times)" in text
    assert "2022-08-14T10:00Z  2022-08-14T10:19Z       20  EXCHANGE" in text
    assert "2022-08-14T01:40Z  2022-08-14T01:40Z        1   MISSING" in text
    assert "total: 3 ranges, 1,419 stored; 2 holes, 21 missing (1 MISSING, 20 EXCHANGE)" in text
