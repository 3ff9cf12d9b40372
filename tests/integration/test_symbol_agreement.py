"""gRPC and GraphQL answer the same symbol the same way: one validation, one verdict."""

from __future__ import annotations

import grpc
import pytest
from nats.aio.client import Client as NatsClient

from graph.context import Backends, Context
from graph.schema import schema
from quantflow.storage.v1 import storage_service_pb2 as pb
from quantflow.storage.v1 import storage_service_pb2_grpc
from services.storage import service as storage_service
from tests.integration.helpers import (
    eventually,
    running,
    service_settings,
    trade,
    trade_publisher,
)

pytestmark = pytest.mark.integration


@pytest.mark.parametrize(
    ("symbol", "code"),
    [
        ("btc", "NOT_FOUND"),
        (" btcusdt ", "OK"),
        ("BTC-USDT", "INVALID_ARGUMENT"),
        ("B", "INVALID_ARGUMENT"),
    ],
)
async def test_get_latest_price_and_graphql_price_agree_on_symbols(
    database_url: str,
    nats_url: str,
    namespace: str,
    nats_client: NatsClient,
    symbol: str,
    code: str,
) -> None:
    settings = service_settings(database_url, nats_url, namespace)
    _, publisher = await trade_publisher(nats_client, namespace)
    await publisher.publish(trade(1))
    await publisher.flush()
    async with (
        running(storage_service.run, settings, settings.storage_grpc_port),
        grpc.aio.insecure_channel(settings.storage_target) as channel,
    ):
        stub = storage_service_pb2_grpc.StorageServiceStub(channel)

        async def stored() -> bool:
            reply = await stub.ListLatestPrices(pb.ListLatestPricesRequest())
            return len(reply.prices) == 1

        await eventually(stored)
        try:
            await stub.GetLatestPrice(pb.GetLatestPriceRequest(symbol=symbol))
            grpc_code = "OK"
        except grpc.aio.AioRpcError as error:
            grpc_code = error.code().name
        result = await schema.execute(
            "query($s: String!) { price(symbol: $s) { symbol } }",
            variable_values={"s": symbol},
            context_value=Context(Backends(stub, nats_client, namespace)),
        )
    graphql_code = result.errors[0].extensions["code"] if result.errors else "OK"  # type: ignore[index]
    assert (grpc_code, graphql_code) == (code, code)
    if code == "OK":
        assert result.data == {"price": {"symbol": "BTCUSDT"}}
