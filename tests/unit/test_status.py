"""services/cli/status.py: what `quantflow status` says about ingest."""

from __future__ import annotations

from quantflow.market.v1 import ingest_service_pb2 as pb
from services.cli.status import ingest_summary


def test_live_ingest_line_shows_streams_connections_rotations_and_stalls() -> None:
    status = pb.GetIngestStatusResponse(
        source="binance",
        messages_received=10,
        events_published=9,
        streams=1025,
        connections=2,
        rotations=3,
        stalls=1,
    )
    assert ingest_summary(status, "connected") == (
        "source binance (connected), 10 messages, 9 published, 0 dead-lettered, "
        "1025 streams on 2 connections, 3 rotations, 1 stalls"
    )


def test_replay_ingest_line_has_no_connection_figures() -> None:
    status = pb.GetIngestStatusResponse(source="replay:x.jsonl", messages_received=4)
    assert ingest_summary(status, "finished") == (
        "source replay:x.jsonl (finished), 4 messages, 0 published, 0 dead-lettered"
    )
