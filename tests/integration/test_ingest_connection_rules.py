"""Ingest keeps Binance's connection rules end to end: the fake exchange on loopback, real
gRPC, real JetStream."""

from __future__ import annotations

import asyncio

import grpc
import pytest
from nats.aio.client import Client as NatsClient
from prometheus_client import REGISTRY

from quantflow.market.v1 import ingest_service_pb2 as pb
from quantflow.market.v1 import ingest_service_pb2_grpc
from services.common import names
from services.ingest import service as ingest_service
from tests.fakes.binance_server import FakeBinanceServer
from tests.fakes.trade_tapes import trade_ids, trade_tape
from tests.integration.helpers import bus_events, eventually, running, service_settings

pytestmark = pytest.mark.integration


async def _status(target: str) -> pb.GetIngestStatusResponse:
    async with grpc.aio.insecure_channel(target) as channel:
        stub = ingest_service_pb2_grpc.IngestServiceStub(channel)
        return await stub.GetIngestStatus(pb.GetIngestStatusRequest(), timeout=5)


async def _stored_ids(nats_client: NatsClient, namespace: str, symbol: str) -> list[int]:
    subject = names.trade_subject(symbol, namespace=namespace)
    return [e.sequence()[1] for e in await bus_events(nats_client.jetstream(), namespace, subject)]


async def test_server_shutdown_rotation_loses_and_duplicates_no_trade_on_the_bus(
    database_url: str, nats_url: str, namespace: str, nats_client: NatsClient
) -> None:
    tape = trade_tape(("BTCUSDT",), 1500)
    # Live like the exchange: a trade sent while no connection is subscribed is gone.
    async with FakeBinanceServer(tape, live_interval_s=0.002) as fake:
        settings = service_settings(
            database_url,
            nats_url,
            namespace,
            binance_ws_url=fake.ws_url,
            symbols=("BTCUSDT",),
            streams=("trade",),
        )
        target = f"127.0.0.1:{settings.ingest_grpc_port}"
        async with running(ingest_service.run, settings, settings.ingest_grpc_port):

            async def some_published() -> bool:
                return bool((await _status(target)).events_published >= 100)

            await eventually(some_published)
            await fake.send_server_shutdown()
            await asyncio.wait_for(fake.live_finished.wait(), 30)

            async def all_on_the_bus() -> bool:
                on_bus = await bus_events(nats_client.jetstream(), namespace)
                return len(on_bus) >= len(fake.live_sent)

            await eventually(all_on_the_bus)
            status = await _status(target)
    sent = {int(m.data.split('"t":')[1].split(",")[0]) for m in fake.live_sent}
    ids = await _stored_ids(nats_client, namespace, "BTCUSDT")
    assert sorted(ids) == sorted(sent) == sorted(trade_ids(tape, "BTCUSDT"))
    assert fake.connections_total == 2
    assert status.rotations == 1 and status.connections == 1 and status.streams == 1


async def test_a_stall_is_detected_counted_and_recovered(
    database_url: str, nats_url: str, namespace: str
) -> None:
    tape = trade_tape(("BTCUSDT",), 3000)
    before = (
        REGISTRY.get_sample_value("quantflow_ingest_stalls_total", {"stream": "btcusdt@trade"})
        or 0.0
    )
    async with FakeBinanceServer(tape, live_interval_s=0.01) as fake:
        settings = service_settings(
            database_url,
            nats_url,
            namespace,
            binance_ws_url=fake.ws_url,
            symbols=("BTCUSDT",),
            streams=("trade",),
            binance_stall_timeout_s=0.5,
        )
        target = f"127.0.0.1:{settings.ingest_grpc_port}"
        async with running(ingest_service.run, settings, settings.ingest_grpc_port):

            async def flowing() -> bool:
                return bool((await _status(target)).messages_received >= 10)

            await eventually(flowing)
            fake.stall(["btcusdt@trade"])

            async def replaced() -> bool:
                status = await _status(target)
                return bool(status.stalls >= 1 and status.rotations >= 1)

            await eventually(replaced)
            received = (await _status(target)).messages_received

            async def flowing_again() -> bool:
                return bool((await _status(target)).messages_received >= received + 10)

            await eventually(flowing_again)
    after = REGISTRY.get_sample_value("quantflow_ingest_stalls_total", {"stream": "btcusdt@trade"})
    assert after is not None and after >= before + 1
    assert fake.connections_total >= 2
