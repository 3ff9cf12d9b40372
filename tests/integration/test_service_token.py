"""The shared service token between services: refused without it (unary and streaming),
health open, and every client of a stack run with it (graph, backtest → storage) sending it."""

from __future__ import annotations

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from quantflow.backtest.v1 import backtest_service_pb2 as backtest_pb
from quantflow.backtest.v1 import backtest_service_pb2_grpc
from quantflow.storage.v1 import storage_service_pb2 as storage_pb
from quantflow.storage.v1 import storage_service_pb2_grpc
from services.backtest import service as backtest_service
from services.common.service_token import service_channel
from services.storage import service as storage_service
from tests.integration.graph_helpers import error_codes, gateway, graphql
from tests.integration.helpers import running, service_settings

pytestmark = pytest.mark.integration

TOKEN = "a-service-token-for-this-test-only"


async def test_services_refuse_calls_without_the_token_and_accept_it(
    database_url: str, nats_url: str, namespace: str
) -> None:
    settings = service_settings(database_url, nats_url, namespace, service_token=TOKEN)
    async with (
        running(storage_service.run, settings, settings.storage_grpc_port),
        running(backtest_service.run, settings, settings.backtest_grpc_port),
    ):
        latest = storage_pb.GetLatestPriceRequest(symbol="BTCUSDT")
        for token in (None, "wrong"):
            async with service_channel(settings.storage_target, token) as channel:
                stub = storage_service_pb2_grpc.StorageServiceStub(channel)
                with pytest.raises(grpc.aio.AioRpcError) as refused:
                    await stub.GetLatestPrice(latest, timeout=5)
                assert refused.value.code() is grpc.StatusCode.UNAUTHENTICATED
                # Probes need no secret.
                health = health_pb2_grpc.HealthStub(channel)
                reply = await health.Check(health_pb2.HealthCheckRequest(), timeout=5)
                assert reply.status == health_pb2.HealthCheckResponse.SERVING
            async with service_channel(settings.backtest_target, token) as channel:
                stub = backtest_service_pb2_grpc.BacktestServiceStub(channel)
                watch = stub.WatchJob(backtest_pb.WatchJobRequest(id="0" * 32), timeout=5)
                with pytest.raises(grpc.aio.AioRpcError) as refused:
                    async for _ in watch:
                        pass
                assert refused.value.code() is grpc.StatusCode.UNAUTHENTICATED

        async with service_channel(settings.storage_target, TOKEN) as channel:
            stub = storage_service_pb2_grpc.StorageServiceStub(channel)
            with pytest.raises(grpc.aio.AioRpcError) as answered:
                await stub.GetLatestPrice(latest, timeout=5)
            assert answered.value.code() is grpc.StatusCode.NOT_FOUND  # past the check

        # Backtest reaches storage with the token: storage's own answer comes back.
        run = backtest_pb.RunBacktestRequest(
            input=backtest_pb.BacktestInput(
                symbol="BTCUSDT",
                interval="1m",
                from_ms=1_649_376_000_000,
                to_ms=1_649_462_400_000,
                strategy="sma_cross",
            )
        )
        async with service_channel(settings.backtest_target, TOKEN) as channel:
            stub = backtest_service_pb2_grpc.BacktestServiceStub(channel)
            with pytest.raises(grpc.aio.AioRpcError) as answered:
                await stub.RunBacktest(run, timeout=30)
            assert answered.value.code() is grpc.StatusCode.NOT_FOUND, answered.value.details()

        # The graph sends it too: storage answers NOT_FOUND, not UNAUTHENTICATED.
        async with gateway(settings):
            answer = await graphql(settings, '{ price(symbol: "BTCUSDT") { price } }')
            assert error_codes(answer) == ["NOT_FOUND"]
