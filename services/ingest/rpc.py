"""IngestService over gRPC: a thin view of the running pipeline, and run-time subscriptions."""

from __future__ import annotations

import grpc

from quantflow.market.v1 import gap_event_pb2, ingest_service_pb2, ingest_service_pb2_grpc
from services.common.errors import FailedPrecondition
from services.ingest.backfill import GapFiller
from services.ingest.market_subscriptions import describe_stream, stream_request
from services.ingest.pipeline import IngestPipeline
from services.ingest.sources import BinanceLiveSource
from services.ingest.subscription_store import PersistedSubscriptions
from services.ingest.symbol_catalog import SymbolCatalog


class IngestServicer(ingest_service_pb2_grpc.IngestServiceServicer):  # type: ignore[misc]
    def __init__(
        self,
        pipeline: IngestPipeline,
        catalog: SymbolCatalog,
        gaps: GapFiller | None = None,
        subscriptions: PersistedSubscriptions | None = None,
    ) -> None:
        self._pipeline = pipeline
        self._catalog = catalog
        self._gaps = gaps
        self._subscriptions = subscriptions

    async def GetIngestStatus(
        self,
        request: ingest_service_pb2.GetIngestStatusRequest,
        context: grpc.aio.ServicerContext,
    ) -> ingest_service_pb2.GetIngestStatusResponse:
        source = self._pipeline.source
        stats = self._pipeline.stats
        # Only a live source can be cut off; a replay reads a file it checked at start.
        live = source if isinstance(source, BinanceLiveSource) else None
        return ingest_service_pb2.GetIngestStatusResponse(
            source=source.description,
            symbols=list(source.symbols),
            connected=source.connected,
            source_finished=self._pipeline.finished,
            messages_received=stats.received,
            events_published=self._pipeline.events.published,
            messages_dead_lettered=stats.dead_lettered + self._pipeline.events.dead_lettered,
            messages_skipped=stats.skipped,
            connections_opened=source.connections_opened,
            ever_connected=source.connections_opened > 0,
            last_error=live.last_error if live else "",
            disconnected_for_ms=int(live.disconnected_for_s * 1000) if live else 0,
            rotations=live.pool.rotations if live else 0,
            stalls=live.pool.stalls if live else 0,
            connections=live.pool.open_connections if live else 0,
            streams=len(live.streams) if live else 0,
            open_gaps=[
                gap_event_pb2.GapEvent(
                    venue=gap.key.venue,
                    symbol=gap.key.symbol,
                    kind=gap.key.kind,
                    first_id=gap.first_id,
                    last_id=gap.last_id,
                    state=gap_event_pb2.GAP_STATE_OPENED,
                )
                for gap in (self._gaps.open.list() if self._gaps else [])
            ],
        )

    async def SubscribeMarketData(
        self,
        request: ingest_service_pb2.SubscribeMarketDataRequest,
        context: grpc.aio.ServicerContext,
    ) -> ingest_service_pb2.SubscribeMarketDataResponse:
        live = self._live()
        wanted = stream_request(request.symbols, request.streams)
        await self._catalog.check(wanted.symbols)
        await live.subscribe(wanted.stream_names)
        return ingest_service_pb2.SubscribeMarketDataResponse(subscriptions=_listed(live.source))

    async def UnsubscribeMarketData(
        self,
        request: ingest_service_pb2.UnsubscribeMarketDataRequest,
        context: grpc.aio.ServicerContext,
    ) -> ingest_service_pb2.UnsubscribeMarketDataResponse:
        live = self._live()
        await live.unsubscribe(stream_request(request.symbols, request.streams).stream_names)
        return ingest_service_pb2.UnsubscribeMarketDataResponse(subscriptions=_listed(live.source))

    async def ListMarketSubscriptions(
        self,
        request: ingest_service_pb2.ListMarketSubscriptionsRequest,
        context: grpc.aio.ServicerContext,
    ) -> ingest_service_pb2.ListMarketSubscriptionsResponse:
        source = self._pipeline.source
        listed = _listed(source) if isinstance(source, BinanceLiveSource) else []
        return ingest_service_pb2.ListMarketSubscriptionsResponse(subscriptions=listed)

    def _live(self) -> PersistedSubscriptions:
        if self._subscriptions is None:
            if isinstance(self._pipeline.source, BinanceLiveSource):
                raise FailedPrecondition(
                    "ingest runs as shards (QUANTFLOW_SHARD_COUNT above 1): subscriptions "
                    "change through QUANTFLOW_SYMBOLS and QUANTFLOW_STREAMS only"
                )
            raise FailedPrecondition(
                f"ingest reads {self._pipeline.source.description}, not the live exchange: "
                "subscriptions can change only with QUANTFLOW_SOURCE=binance"
            )
        return self._subscriptions


def _listed(source: BinanceLiveSource) -> list[ingest_service_pb2.MarketSubscription]:
    return [
        ingest_service_pb2.MarketSubscription(symbol=symbol, stream=kind, stream_name=name)
        for name in source.streams
        for symbol, kind in [describe_stream(name)]
    ]
