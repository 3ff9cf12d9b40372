"""IngestService over gRPC: a thin view of the running pipeline."""

from __future__ import annotations

import grpc

from quantflow.market.v1 import ingest_service_pb2, ingest_service_pb2_grpc
from services.ingest.pipeline import IngestPipeline
from services.ingest.sources import BinanceLiveSource


class IngestServicer(ingest_service_pb2_grpc.IngestServiceServicer):  # type: ignore[misc]
    def __init__(self, pipeline: IngestPipeline) -> None:
        self._pipeline = pipeline

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
        )
