"""Ingest shards (QUANTFLOW_SHARD_INDEX / QUANTFLOW_SHARD_COUNT), as the chart's StatefulSet
runs them: each shard subscribes only its own symbols at the exchange, and refuses run-time
subscription changes it could not apply alone (fake exchange WebSocket and REST on
loopback, real JetStream and gRPC)."""

from __future__ import annotations

import grpc
import pytest

from quantflow.market.v1 import ingest_service_pb2 as pb
from quantflow.market.v1 import ingest_service_pb2_grpc
from services.ingest import service as ingest_service
from tests.fakes.binance_exchange_info import FakeExchangeInfo
from tests.fakes.binance_server import FakeBinanceServer
from tests.fakes.trade_tapes import trade_tape
from tests.integration.helpers import eventually, running, service_settings

pytestmark = pytest.mark.integration

SYMBOLS = ("BTCUSDT", "ETHUSDT", "DOTUSDT")


async def test_two_shards_subscribe_every_symbol_exactly_once(
    database_url: str, nats_url: str, namespace: str
) -> None:
    async with (
        FakeBinanceServer(trade_tape(SYMBOLS, 10)) as fake,
        FakeExchangeInfo() as rest,
    ):
        shards = [
            service_settings(
                database_url,
                nats_url,
                namespace,
                binance_ws_url=fake.ws_url,
                binance_rest_url=rest.url,
                symbols=SYMBOLS,
                streams=("trade",),
                shard_index=index,
                shard_count=2,
            )
            for index in range(2)
        ]
        async with (
            running(ingest_service.run, shards[0], shards[0].ingest_grpc_port),
            running(ingest_service.run, shards[1], shards[1].ingest_grpc_port),
        ):

            async def both_subscribed() -> bool:
                return len(fake.active_subscriptions()) == len(SYMBOLS)

            await eventually(both_subscribed)
            subscribed = sorted(fake.active_subscriptions())
            statuses = []
            for settings in shards:
                async with grpc.aio.insecure_channel(settings.ingest_target) as channel:
                    stub = ingest_service_pb2_grpc.IngestServiceStub(channel)
                    statuses.append(await stub.GetIngestStatus(pb.GetIngestStatusRequest()))
                    with pytest.raises(grpc.aio.AioRpcError) as refused:
                        await stub.SubscribeMarketData(
                            pb.SubscribeMarketDataRequest(symbols=["XRPUSDT"], streams=["trade"])
                        )
                    assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION
                    assert "QUANTFLOW_SHARD_COUNT" in (refused.value.details() or "")
    assert subscribed == ["btcusdt@trade", "dotusdt@trade", "ethusdt@trade"]
    # Sorted symbols dealt in turn: shard 0 BTCUSDT and ETHUSDT, shard 1 DOTUSDT.
    assert [list(s.symbols) for s in statuses] == [["BTCUSDT", "ETHUSDT"], ["DOTUSDT"]]
    assert rest.requests == [["BTCUSDT", "ETHUSDT"], ["DOTUSDT"]]
