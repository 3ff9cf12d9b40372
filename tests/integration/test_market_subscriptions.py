"""Run-time subscriptions: GraphQL mutations → ingest gRPC → Binance SUBSCRIBE, symbols checked
against exchangeInfo (fake exchange WebSocket and REST on loopback, real gRPC and JetStream)."""

from __future__ import annotations

from typing import Any

import grpc
import pytest
from nats.aio.client import Client as NatsClient

from graph.context import Backends, Context
from graph.schema import schema
from quantflow.market.v1 import ingest_service_pb2 as pb
from quantflow.market.v1 import ingest_service_pb2_grpc
from quantflow.storage.v1 import storage_service_pb2_grpc
from services.common import names
from services.common.codec import decode_message
from services.common.trades import Trade
from services.ingest import service as ingest_service
from tests.fakes.binance_exchange_info import FakeExchangeInfo
from tests.fakes.binance_server import FakeBinanceServer
from tests.fakes.trade_tapes import trade_tape
from tests.integration.helpers import eventually, running, service_settings

pytestmark = pytest.mark.integration

SUBSCRIBE = """
mutation($symbols: [String!]!, $streams: [String!]!) {
  subscribeMarketData(symbols: $symbols, streams: $streams) { symbol stream streamName }
}"""
UNSUBSCRIBE = """
mutation($symbols: [String!]!, $streams: [String!]!) {
  unsubscribeMarketData(symbols: $symbols, streams: $streams) { streamName }
}"""


async def _graphql(
    stub: ingest_service_pb2_grpc.IngestServiceStub,
    nats_client: NatsClient,
    namespace: str,
    query: str,
    **variables: Any,
) -> Any:
    storage = storage_service_pb2_grpc.StorageServiceStub(grpc.aio.insecure_channel("127.0.0.1:1"))
    return await schema.execute(
        query,
        variable_values=variables,
        context_value=Context(Backends(storage, nats_client, namespace, ingest=stub)),
    )


async def test_subscribe_mutation_starts_trades_of_a_new_symbol_and_unsubscribe_stops_them(
    database_url: str, nats_url: str, namespace: str, nats_client: NatsClient
) -> None:
    tape = trade_tape(("BTCUSDT", "ETHUSDT"), 2000)
    async with (
        FakeBinanceServer(tape, live_interval_s=0.005) as fake,
        FakeExchangeInfo() as rest,
    ):
        settings = service_settings(
            database_url,
            nats_url,
            namespace,
            binance_ws_url=fake.ws_url,
            binance_rest_url=rest.url,
            symbols=("BTCUSDT",),
            streams=("trade",),
        )
        async with (
            running(ingest_service.run, settings, settings.ingest_grpc_port),
            grpc.aio.insecure_channel(settings.ingest_target) as channel,
        ):
            stub = ingest_service_pb2_grpc.IngestServiceStub(channel)
            listed = await _graphql(
                stub, nats_client, namespace, "{ marketSubscriptions { streamName } }"
            )
            assert listed.data == {"marketSubscriptions": [{"streamName": "btcusdt@trade"}]}
            result = await _graphql(
                stub, nats_client, namespace, SUBSCRIBE, symbols=["ethusdt"], streams=["trade"]
            )
            assert result.errors is None
            assert result.data["subscribeMarketData"] == [
                {"symbol": "BTCUSDT", "stream": "trade", "streamName": "btcusdt@trade"},
                {"symbol": "ETHUSDT", "stream": "trade", "streamName": "ethusdt@trade"},
            ]
            js = nats_client.jetstream()
            eth = await js.subscribe(
                names.trade_subject("ETHUSDT", namespace=namespace),
                stream=names.market_stream(namespace),
                ordered_consumer=True,
            )
            first = await eth.next_msg(timeout=10)
            [*events] = decode_message("trade", first.data, first.headers)
            assert all(isinstance(e, Trade) and e.symbol == "ETHUSDT" for e in events)
            await eventually(lambda: _holds("ethusdt@trade" in fake.active_subscriptions()))
            status = await stub.GetIngestStatus(pb.GetIngestStatusRequest())
            assert list(status.symbols) == ["BTCUSDT", "ETHUSDT"] and status.streams == 2

            result = await _graphql(
                stub, nats_client, namespace, UNSUBSCRIBE, symbols=["ETHUSDT"], streams=["trade"]
            )
            assert result.data == {"unsubscribeMarketData": [{"streamName": "btcusdt@trade"}]}
            await eventually(lambda: _holds(fake.active_subscriptions() == {"btcusdt@trade"}))
    # The configured symbol at start, then the new one once, before subscribing.
    assert rest.requests == [["BTCUSDT"], ["ETHUSDT"]]


async def test_run_time_subscriptions_survive_a_restart_of_ingest(
    database_url: str, nats_url: str, namespace: str, nats_client: NatsClient
) -> None:
    tape = trade_tape(("BTCUSDT", "ETHUSDT"), 2000)
    async with (
        FakeBinanceServer(tape, live_interval_s=0.005) as fake,
        FakeExchangeInfo() as rest,
    ):
        settings = service_settings(
            database_url,
            nats_url,
            namespace,
            binance_ws_url=fake.ws_url,
            binance_rest_url=rest.url,
            symbols=("BTCUSDT",),
            streams=("trade", "aggTrade"),
        )
        async with (
            running(ingest_service.run, settings, settings.ingest_grpc_port),
            grpc.aio.insecure_channel(settings.ingest_target) as channel,
        ):
            stub = ingest_service_pb2_grpc.IngestServiceStub(channel)
            added = await _graphql(
                stub, nats_client, namespace, SUBSCRIBE, symbols=["ETHUSDT"], streams=["trade"]
            )
            dropped = await _graphql(
                stub, nats_client, namespace, UNSUBSCRIBE, symbols=["BTCUSDT"], streams=["aggTrade"]
            )
            assert added.errors is None and dropped.errors is None
        wanted = {"btcusdt@trade", "ethusdt@trade"}
        connections_before = fake.connections_total

        async with (
            running(ingest_service.run, settings, settings.ingest_grpc_port),
            grpc.aio.insecure_channel(settings.ingest_target) as channel,
        ):
            stub = ingest_service_pb2_grpc.IngestServiceStub(channel)
            listed = await _graphql(
                stub, nats_client, namespace, "{ marketSubscriptions { streamName } }"
            )
            await eventually(lambda: _holds(fake.active_subscriptions() == wanted))
            status = await stub.GetIngestStatus(pb.GetIngestStatusRequest())
    assert fake.connections_total > connections_before  # the restarted ingest's own socket
    assert listed.data == {"marketSubscriptions": [{"streamName": name} for name in sorted(wanted)]}
    assert list(status.symbols) == ["BTCUSDT", "ETHUSDT"]


async def test_subscribe_that_cannot_be_kept_is_unavailable_and_changes_nothing(
    database_url: str, nats_url: str, namespace: str, nats_client: NatsClient
) -> None:
    async with FakeBinanceServer(trade_tape(("BTCUSDT",), 10)) as fake, FakeExchangeInfo() as rest:
        settings = service_settings(
            database_url,
            nats_url,
            namespace,
            binance_ws_url=fake.ws_url,
            binance_rest_url=rest.url,
            symbols=("BTCUSDT",),
            streams=("trade",),
        )
        async with (
            running(ingest_service.run, settings, settings.ingest_grpc_port),
            grpc.aio.insecure_channel(settings.ingest_target) as channel,
        ):
            stub = ingest_service_pb2_grpc.IngestServiceStub(channel)
            await nats_client.jetstream().delete_key_value(
                names.market_subscriptions_bucket(namespace)
            )
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await stub.SubscribeMarketData(
                    pb.SubscribeMarketDataRequest(symbols=["ETHUSDT"], streams=["trade"])
                )
            listed = await stub.ListMarketSubscriptions(pb.ListMarketSubscriptionsRequest())
    assert refused.value.code() == grpc.StatusCode.UNAVAILABLE
    assert "nothing changed" in (refused.value.details() or "")
    assert [s.stream_name for s in listed.subscriptions] == ["btcusdt@trade"]


@pytest.mark.parametrize(
    ("symbols", "streams", "named"),
    [
        (["BTCUSDT", "NOPEUSDT"], ["trade"], "unknown symbol on Binance: NOPEUSDT"),
        (["BNBBTC"], ["trade"], "BNBBTC is not trading on Binance (status BREAK)"),
        (["BTCUSDT"], ["depth"], "unknown stream 'depth'"),
        (["BTC-USDT"], ["trade"], "BTC-USDT"),
    ],
)
async def test_subscribe_refuses_what_binance_does_not_trade_with_invalid_argument_naming_it(
    database_url: str,
    nats_url: str,
    namespace: str,
    nats_client: NatsClient,
    symbols: list[str],
    streams: list[str],
    named: str,
) -> None:
    async with FakeBinanceServer(trade_tape(("BTCUSDT",), 10)) as fake, FakeExchangeInfo() as rest:
        settings = service_settings(
            database_url,
            nats_url,
            namespace,
            binance_ws_url=fake.ws_url,
            binance_rest_url=rest.url,
            symbols=("BTCUSDT",),
            streams=("trade",),
        )
        async with (
            running(ingest_service.run, settings, settings.ingest_grpc_port),
            grpc.aio.insecure_channel(settings.ingest_target) as channel,
        ):
            stub = ingest_service_pb2_grpc.IngestServiceStub(channel)
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await stub.SubscribeMarketData(
                    pb.SubscribeMarketDataRequest(symbols=symbols, streams=streams)
                )
            result = await _graphql(
                stub, nats_client, namespace, SUBSCRIBE, symbols=symbols, streams=streams
            )
            listed = await stub.ListMarketSubscriptions(pb.ListMarketSubscriptionsRequest())
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert named in (refused.value.details() or "")
    assert result.errors is not None
    assert result.errors[0].extensions == {"code": "INVALID_ARGUMENT"}
    assert named in result.errors[0].message
    assert [s.stream_name for s in listed.subscriptions] == ["btcusdt@trade"]


async def test_subscribe_on_a_replay_source_is_a_failed_precondition(
    database_url: str, nats_url: str, namespace: str, tmp_path: Any
) -> None:
    recording = tmp_path / "one.jsonl"
    recording.write_text("")
    settings = service_settings(database_url, nats_url, namespace, source=f"replay:{recording}")
    async with (
        running(ingest_service.run, settings, settings.ingest_grpc_port),
        grpc.aio.insecure_channel(settings.ingest_target) as channel,
    ):
        stub = ingest_service_pb2_grpc.IngestServiceStub(channel)
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await stub.SubscribeMarketData(
                pb.SubscribeMarketDataRequest(symbols=["BTCUSDT"], streams=["trade"])
            )
    assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "QUANTFLOW_SOURCE=binance" in (refused.value.details() or "")


async def _holds(value: bool) -> bool:
    return value
