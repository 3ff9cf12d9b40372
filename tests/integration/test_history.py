"""Trade history: storage's StreamTrades and GraphQL's ``history`` connection, against real
storage and PostgreSQL."""

from __future__ import annotations

import dataclasses
from typing import Any

import asyncpg
import grpc
import pytest
from nats.aio.client import Client as NatsClient

from quantflow.storage.v1 import storage_service_pb2 as pb
from quantflow.storage.v1 import storage_service_pb2_grpc
from services.common.settings import Settings
from services.storage import service as storage_service
from services.storage.repository import TradeRepository, prepare_connection
from tests.integration.graph_helpers import error_codes, gateway, graphql
from tests.integration.helpers import running, service_settings, trade

pytestmark = pytest.mark.integration


async def _store(database_url: str, trades: list[Any]) -> None:
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=1, init=prepare_connection)
    await TradeRepository(pool).write_trades(trades)
    await pool.close()


async def _page(settings: Settings, arguments: str) -> dict[str, Any]:
    answer = await graphql(
        settings,
        f'{{ history(symbol: "BTCUSDT"{arguments}) {{ edges {{ cursor node {{ tradeId price }} }} '
        "pageInfo { hasNextPage endCursor } } }",
    )
    assert "errors" not in answer, answer
    page: dict[str, Any] = answer["data"]["history"]
    return page


async def test_history_pages_through_every_trade_by_cursor_and_keeps_to_its_window(
    database_url: str, nats_url: str, namespace: str, nats_client: NatsClient
) -> None:
    settings = service_settings(database_url, nats_url, namespace)
    async with (
        running(storage_service.run, settings, settings.storage_grpc_port),
        gateway(settings),
    ):
        others = [trade(7, symbol="ETHUSDT"), dataclasses.replace(trade(8), venue="binance_usdm")]
        await _store(database_url, [trade(i) for i in range(1, 251) if i != 120] + others)
        seen: list[int] = []
        pages = 0
        after = ""
        while True:
            page = await _page(settings, f", first: 100{after}")
            pages += 1
            seen += [int(edge["node"]["tradeId"]) for edge in page["edges"]]
            assert page["pageInfo"]["endCursor"] == page["edges"][-1]["cursor"]
            if not page["pageInfo"]["hasNextPage"]:
                break
            after = f', after: "{page["pageInfo"]["endCursor"]}"'
        # helpers.trade: trade i happened at 2024-08-08T23:54:15.000Z + i ms.
        window = await _page(
            settings, ', from: "2024-08-08T23:54:15.050Z", to: "2024-08-08T23:54:15.060Z"'
        )
        default = await _page(settings, "")
        refused = {
            name: await graphql(
                settings,
                f'{{ history(symbol: "BTCUSDT"{arguments}) {{ pageInfo {{ hasNextPage }} }} }}',
            )
            for name, arguments in {
                "1001": ", first: 1001",
                "-1": ", first: -1",
                "'nonsense'": ', after: "nonsense"',
                "not before": ', from: "2024-08-09T00:00:00Z", to: "2024-08-08T00:00:00Z"',
            }.items()
        }
    assert seen == [i for i in range(1, 251) if i != 120]
    assert pages == 3
    assert [int(e["node"]["tradeId"]) for e in window["edges"]] == list(range(50, 60))
    assert window["pageInfo"]["hasNextPage"] is False
    assert window["edges"][0]["node"]["price"] == "61583.01000000"
    assert len(default["edges"]) == 100 and default["pageInfo"]["hasNextPage"] is True
    for named, answer in refused.items():
        assert error_codes(answer) == ["INVALID_ARGUMENT"], answer
        assert named in answer["errors"][0]["message"]


async def test_stream_trades_sends_a_long_history_in_chunks_in_trade_id_order(
    database_url: str, nats_url: str, namespace: str
) -> None:
    settings = service_settings(database_url, nats_url, namespace)
    async with running(storage_service.run, settings, settings.storage_grpc_port):
        await _store(database_url, [trade(i) for i in range(12_345)])
        async with grpc.aio.insecure_channel(settings.storage_target) as channel:
            stub = storage_service_pb2_grpc.StorageServiceStub(channel)
            chunks = [
                [t.trade_id for t in reply.trades]
                async for reply in stub.StreamTrades(pb.StreamTradesRequest(symbol="BTCUSDT"))
            ]
            limited = [
                t.trade_id
                async for reply in stub.StreamTrades(
                    pb.StreamTradesRequest(symbol="BTCUSDT", after_trade_id=9_990, limit=7_000)
                )
                for t in reply.trades
            ]
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                async for _ in stub.StreamTrades(pb.StreamTradesRequest(symbol="BTC USDT")):
                    pass
    assert [len(chunk) for chunk in chunks] == [5_000, 5_000, 2_345]
    assert [i for chunk in chunks for i in chunk] == list(range(12_345))
    assert limited == list(range(9_991, 12_345))
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
