"""The demo run twice on one database and bus: the second run continues after the first.

Real storage and ingest services in-process, real PostgreSQL and JetStream; the demo at
50 × recorded pace so a few passes over the capture take a second or two.
"""

from __future__ import annotations

import logging

import asyncpg
import pytest
from nats.aio.client import Client as NatsClient
from prometheus_client import REGISTRY

from services.common import names
from services.common.codec import decode_message
from services.common.settings import Settings
from services.common.trades import Trade
from services.ingest import service as ingest_service
from services.ingest.binance import parse_message
from services.ingest.recordings import read_recording
from services.storage import service as storage_service
from tests.conftest import SAMPLE_CAPTURE
from tests.integration.helpers import (
    bus_events,
    eventually,
    running,
    service_settings,
    trade_publisher,
)

pytestmark = pytest.mark.integration


def _capture_trades() -> list[Trade]:
    verdicts = (parse_message(r.text) for r in read_recording(SAMPLE_CAPTURE))
    return [verdict for verdict in verdicts if isinstance(verdict, Trade)]


def _published() -> float:
    """Ingest's own count of trades JetStream acknowledged (duplicates included)."""
    sample = REGISTRY.get_sample_value("quantflow_ingest_events_published_total", {"kind": "trade"})
    return sample or 0.0


async def _fetch(database_url: str, query: str) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(database_url)
    try:
        return list(await conn.fetch(query))
    finally:
        await conn.close()


async def _stored(database_url: str) -> tuple[int, int]:
    """(rows, highest trade id) of BTCUSDT in the trades table."""
    [row] = await _fetch(
        database_url,
        "SELECT count(*) AS n, coalesce(max(trade_id), 0) AS top FROM trades"
        " WHERE symbol = 'BTCUSDT'",
    )
    return int(row["n"]), int(row["top"])


async def _demo_run(settings: Settings, until: int, database_url: str) -> None:
    """Run the demo until storage holds a trade id above ``until``, then stop it cleanly."""
    async with running(ingest_service.run, settings, settings.ingest_grpc_port):

        async def moved_past() -> bool:
            return (await _stored(database_url))[1] > until

        await eventually(moved_past)


async def test_a_second_demo_run_continues_after_what_the_first_stored(
    database_url: str, nats_url: str, namespace: str, nats_client: NatsClient
) -> None:
    capture = _capture_trades()
    settings = service_settings(database_url, nats_url, namespace, source="demo", replay_speed=50)
    async with running(storage_service.run, settings, settings.storage_grpc_port):
        await _demo_run(settings, capture[0].trade_id + 2 * len(capture), database_url)
        js = nats_client.jetstream()
        on_stream = len(
            await bus_events(js, namespace, names.trade_subject("BTCUSDT", namespace=namespace))
        )

        async def first_run_stored() -> bool:
            return bool((await _stored(database_url))[0] == on_stream)

        await eventually(first_run_stored)
        rows_before, latest_before = await _stored(database_url)
        published_before = _published()

        # The stored price moves on at once: the first trade of this run is the next id.
        await _demo_run(settings, latest_before, database_url)
        published = _published() - published_before

        async def second_run_stored() -> bool:
            return (await _stored(database_url))[0] == rows_before + published

        # Every trade the second run published was new: none was a stored duplicate.
        await eventually(second_run_stored)

    rows = await _fetch(database_url, "SELECT trade_id, trade_time FROM trades ORDER BY 1")
    ids = [row["trade_id"] for row in rows]
    assert ids == list(range(capture[0].trade_id, capture[0].trade_id + len(ids)))  # no gap
    times = [row["trade_time"] for row in rows]
    assert times == sorted(times)  # time never runs backwards across the two runs


async def test_with_storage_unreachable_the_demo_resumes_after_the_bus_last_trade(
    database_url: str,
    nats_url: str,
    namespace: str,
    nats_client: NatsClient,
    caplog: pytest.LogCaptureFixture,
) -> None:
    capture = _capture_trades()
    js, publisher = await trade_publisher(nats_client, namespace)
    ahead = capture[0].trade_id + 10_000
    ahead_ms = capture[-1].trade_time_ms + 3_600_000
    await publisher.publish(Trade("binance", "BTCUSDT", ahead, "1", "1", ahead_ms, ahead_ms, False))
    await publisher.flush()
    # Nothing listens on storage's port: ingest runs without storage.
    settings = service_settings(database_url, nats_url, namespace, source="demo", replay_speed=50)

    with caplog.at_level(logging.INFO, logger="services.ingest.demo_resume"):
        async with running(ingest_service.run, settings, settings.ingest_grpc_port):

            async def demo_published() -> bool:
                info = await js.stream_info(names.market_stream(namespace))
                return bool(info.state.messages > 1)

            await eventually(demo_published)

    # The first trade after the one published above (the capture's book tickers come too).
    after = await js.get_msg(
        names.market_stream(namespace),
        2,
        subject=names.trade_subject("BTCUSDT", namespace=namespace),
        next=True,
    )
    first, *_ = decode_message(names.TRADE, after.data or b"", after.headers)
    assert isinstance(first, Trade)
    assert first.trade_id == ahead + 1
    assert first.trade_time_ms == ahead_ms + 1
    assert f"storage at {settings.storage_target} did not answer" in caplog.text
    assert f"BTCUSDT continues after trade {ahead}" in caplog.text
