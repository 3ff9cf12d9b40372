"""Ingest reports an unreachable or lost Binance through GetIngestStatus (real gRPC, real
JetStream; the exchange is the fake Binance server, or a port nobody listens on)."""

from __future__ import annotations

import logging

import grpc
import pytest

from quantflow.market.v1 import ingest_service_pb2 as pb
from quantflow.market.v1 import ingest_service_pb2_grpc
from services.common.embedded import free_port
from services.ingest import service as ingest_service
from tests.conftest import SAMPLE_CAPTURE
from tests.fakes.binance_server import FakeBinanceServer, Tape
from tests.integration.helpers import eventually, running, service_settings

pytestmark = pytest.mark.integration


async def _status(target: str) -> pb.GetIngestStatusResponse:
    async with grpc.aio.insecure_channel(target) as channel:
        stub = ingest_service_pb2_grpc.IngestServiceStub(channel)
        return await stub.GetIngestStatus(pb.GetIngestStatusRequest(), timeout=5)


async def test_unreachable_binance_is_reported_as_never_connected_with_its_error(
    database_url: str, nats_url: str, namespace: str, caplog: pytest.LogCaptureFixture
) -> None:
    closed = f"ws://127.0.0.1:{free_port()}"  # nothing listens there
    settings = service_settings(database_url, nats_url, namespace, binance_ws_url=closed)
    target = f"127.0.0.1:{settings.ingest_grpc_port}"
    caplog.set_level(logging.WARNING, logger="services.ingest.sources")
    async with running(ingest_service.run, settings, settings.ingest_grpc_port):

        async def failed_once() -> bool:
            return bool((await _status(target)).last_error)

        await eventually(failed_once)
        status = await _status(target)
    assert not status.connected and not status.ever_connected
    assert status.connections_opened == 0
    assert "ConnectionRefusedError" in status.last_error
    assert status.disconnected_for_ms > 0
    assert f"cannot reach Binance at {closed}: ConnectionRefusedError" in caplog.text
    assert "offline? try `quantflow up --demo`" in caplog.text
    assert "connection lost" not in caplog.text


async def test_lost_binance_connection_is_reported_with_time_since(
    database_url: str, nats_url: str, namespace: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="services.ingest.sources")
    async with FakeBinanceServer(Tape.from_file(SAMPLE_CAPTURE)) as fake:
        settings = service_settings(database_url, nats_url, namespace, binance_ws_url=fake.ws_url)
        target = f"127.0.0.1:{settings.ingest_grpc_port}"
        async with running(ingest_service.run, settings, settings.ingest_grpc_port):

            async def connected() -> bool:
                return bool((await _status(target)).connected)

            await eventually(connected)
            status = await _status(target)
            assert status.ever_connected and status.disconnected_for_ms == 0
            assert status.last_error == ""
            await fake.__aexit__(None, None, None)  # the exchange goes away

            async def lost() -> bool:
                status = await _status(target)
                return not status.connected and status.disconnected_for_ms > 0

            await eventually(lost)
            status = await _status(target)
    assert status.ever_connected
    # (The REST check of the symbols at start, on a closed port here, warns "cannot reach
    # Binance REST at": another message.)
    assert "cannot reach Binance at" not in caplog.text
