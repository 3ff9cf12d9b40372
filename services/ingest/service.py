"""The ingest service: wires source, pipeline, JetStream, gRPC and metrics together."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from nats.js import JetStreamContext

from quantflow.market.v1 import ingest_service_pb2, ingest_service_pb2_grpc
from services.common import bus
from services.common.deadletter import DeadLetterPublisher
from services.common.grpc_server import start_grpc_server
from services.common.names import VENUE_BINANCE
from services.common.runtime import MetricsServer, require_url
from services.common.settings import Settings
from services.ingest.backfill import GapFiller
from services.ingest.connections import ConnectionSettings
from services.ingest.demo_resume import known_trades
from services.ingest.gap_events import GapEventPublisher
from services.ingest.live_resume import resume_id_series, resume_trade_series
from services.ingest.pipeline import IngestPipeline
from services.ingest.publisher import EventPublisher
from services.ingest.replay_checkpoint import ReplayCheckpoint
from services.ingest.rest import BinanceRest
from services.ingest.rpc import IngestServicer
from services.ingest.sources import (
    BinanceLiveSource,
    DemoSource,
    ReplaySource,
    Source,
    source_from_settings,
)
from services.ingest.subscription_store import PersistedSubscriptions
from services.ingest.symbol_catalog import ExchangeSymbolCatalog, check_configured_symbols

log = logging.getLogger(__name__)

# How long a clean stop waits for JetStream to confirm what is in flight: within the
# 15 s `quantflow up` gives a component before killing it.
_LAST_FLUSH_S = 10.0

SERVICE_NAME = ingest_service_pb2.DESCRIPTOR.services_by_name["IngestService"].full_name


async def run(settings: Settings, stop: asyncio.Event) -> None:
    """Run ingest until ``stop`` is set; a finished replay leaves the service up and idle.

    One of several replicas (``QUANTFLOW_SHARD_COUNT``) captures its share of the symbols
    only, and takes no run-time subscription changes: each replica would apply them all."""
    symbols = settings.shard_symbols()
    source = source_from_settings(
        settings.source,
        base_url=settings.binance_ws_url,
        symbols=symbols,
        speed=settings.replay_speed,
        loop=settings.replay_loop,
        venue=None if settings.venue == "auto" else settings.venue,
        connections=ConnectionSettings(
            rotate_after_s=settings.binance_rotate_after_s,
            stall_timeout_s=settings.binance_stall_timeout_s,
        ),
        streams=settings.streams,
    )
    rest = BinanceRest(settings.binance_rest_url)
    try:
        if isinstance(source, BinanceLiveSource):
            # Before anything connects: Binance would take an unknown symbol and send nothing.
            await check_configured_symbols(
                ExchangeSymbolCatalog(rest), symbols, "QUANTFLOW_SYMBOLS"
            )
        nc = await bus.connect(require_url(settings.nats_url, "QUANTFLOW_NATS_URL"), "ingest")
    except BaseException:
        await rest.aclose()
        raise
    js = nc.jetstream()
    await bus.ensure_streams(js, settings.namespace, settings.market_max_age_hours * 3600)
    if isinstance(source, DemoSource):
        source.resume_after(
            await known_trades(
                settings.storage_target,
                js,
                settings.namespace,
                source.capture_symbols,
                settings.service_token,
            )
        )
    dead_letters = DeadLetterPublisher(js, settings.namespace, VENUE_BINANCE)
    publisher = EventPublisher(nc, settings.namespace, dead_letters)
    # Only the live feed has holes to fill: a replay is what was recorded, gaps included.
    gaps: GapFiller | None = None
    subscriptions: PersistedSubscriptions | None = None
    if isinstance(source, BinanceLiveSource):
        if settings.shard_count == 1:
            # Before resuming series: the streams users added at run time have series too.
            subscriptions = await PersistedSubscriptions.open(js, settings.namespace, source)
            await subscriptions.restore()
        gaps = GapFiller(rest, publisher, GapEventPublisher(js, settings.namespace), dead_letters)
        await resume_trade_series(
            gaps,
            settings.storage_target,
            js,
            settings.namespace,
            source.symbols,
            settings.service_token,
        )
        await resume_id_series(
            gaps, settings.storage_target, source.streams, settings.service_token
        )
    checkpoint = await _replay_checkpoint(source, js, settings)
    pipeline = IngestPipeline(source, publisher, dead_letters, gaps, checkpoint)
    grpc_server = await start_grpc_server(
        settings.grpc_host,
        settings.ingest_grpc_port,
        lambda server: ingest_service_pb2_grpc.add_IngestServiceServicer_to_server(
            IngestServicer(pipeline, ExchangeSymbolCatalog(rest), gaps, subscriptions),
            server,
        ),
        [SERVICE_NAME],
        service_token=settings.service_token,
    )
    metrics = MetricsServer(settings.grpc_host, settings.ingest_metrics_port)
    log.info(
        "ingest: source %s, gRPC :%d, metrics :%d",
        source.description,
        grpc_server.port,
        metrics.port,
    )
    work = asyncio.create_task(pipeline.run())
    filling = asyncio.create_task(gaps.run()) if gaps else None
    stopped = asyncio.create_task(stop.wait())
    try:
        done, _ = await asyncio.wait({work, stopped}, return_when=asyncio.FIRST_COMPLETED)
        if work in done:
            work.result()  # a crash surfaces here and ends the process
            await stopped
    finally:
        for task in (work, filling):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        await rest.aclose()
        await pipeline.events.close(_LAST_FLUSH_S)
        await grpc_server.stop()
        metrics.stop()
        await nc.drain()


async def _replay_checkpoint(
    source: Source, js: JetStreamContext, settings: Settings
) -> ReplayCheckpoint | None:
    """A replay continues after what an earlier run of the same file already published.
    (The demo moves its ids past what is stored instead, see demo_resume.)"""
    if not isinstance(source, ReplaySource) or isinstance(source, DemoSource):
        return None
    checkpoint = await ReplayCheckpoint.open(
        js, settings.namespace, source.path, settings.market_max_age_hours * 3600
    )
    position = await checkpoint.load()
    if position is not None:
        source.continue_after(position.pass_index, position.line)
    return checkpoint
