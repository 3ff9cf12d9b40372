"""A replay stopped mid-way resumes where its events stopped reaching the bus instead of
starting over: the second run reads far fewer lines than the file holds, and storage ends
with every trade of the file exactly once."""

from __future__ import annotations

import asyncpg
import grpc
import pytest

from quantflow.market.v1 import ingest_service_pb2, ingest_service_pb2_grpc
from services.common.trades import Trade
from services.ingest import service as ingest_service
from services.ingest.binance import parse_message
from services.ingest.recordings import read_recording
from services.storage import service as storage_service
from tests.conftest import HFT_CAPTURE
from tests.integration.helpers import eventually, running, service_settings

pytestmark = pytest.mark.integration

LINES = sum(1 for _ in read_recording(HFT_CAPTURE))
TRADE_IDS = sorted(
    {
        v.trade_id
        for r in read_recording(HFT_CAPTURE)
        if isinstance(v := parse_message(r.text), Trade)
    }
)


async def _status(target: str) -> ingest_service_pb2.GetIngestStatusResponse:
    async with grpc.aio.insecure_channel(target) as channel:
        stub = ingest_service_pb2_grpc.IngestServiceStub(channel)
        reply: ingest_service_pb2.GetIngestStatusResponse = await stub.GetIngestStatus(
            ingest_service_pb2.GetIngestStatusRequest(), timeout=5
        )
    return reply


async def _stored_trade_ids(database_url: str) -> list[int]:
    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch("SELECT trade_id FROM trades ORDER BY trade_id")
    finally:
        await conn.close()
    return [row[0] for row in rows]


async def test_a_replay_stopped_mid_way_resumes_after_what_it_published(
    database_url: str, nats_url: str, namespace: str
) -> None:
    # Paced, so the first run is surely stopped mid-way; the second runs flat out.
    first = service_settings(
        database_url, nats_url, namespace, source=f"replay:{HFT_CAPTURE}", replay_speed=20.0
    )
    second = first.model_copy(update={"replay_speed": 0.0})
    async with running(storage_service.run, first, first.storage_grpc_port):
        async with running(ingest_service.run, first, first.ingest_grpc_port):

            async def some_published() -> bool:
                return bool((await _status(first.ingest_target)).events_published >= 8000)

            await eventually(some_published)
            stopped_at = await _status(first.ingest_target)
        assert not stopped_at.source_finished

        async with running(ingest_service.run, second, second.ingest_grpc_port):

            async def finished() -> bool:
                return bool((await _status(second.ingest_target)).source_finished)

            await eventually(finished, timeout=120)
            resumed = await _status(second.ingest_target)

        async def all_stored() -> bool:
            return len(await _stored_trade_ids(database_url)) >= len(TRADE_IDS)

        await eventually(all_stored, timeout=60)
    # Nothing the first run had not published was skipped, and far from all was read again.
    assert stopped_at.messages_received + resumed.messages_received >= LINES
    assert resumed.messages_received <= LINES - 5000
    assert await _stored_trade_ids(database_url) == TRADE_IDS
