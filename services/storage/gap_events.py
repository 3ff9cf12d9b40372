"""Gap events from the bus (``market.<venue>.gap.<SYMBOL>``), as storage reads them: only
the exchange holes a backfill found (GAP_STATE_EXCHANGE_HOLE) are kept; the other states
are ingest's progress reports and need nothing stored."""

from __future__ import annotations

from quantflow.market.v1 import gap_event_pb2
from services.storage.coverage import ExchangeHole


def decode_exchange_hole(payload: bytes) -> ExchangeHole | None:
    """The exchange hole a gap event reports, None for any other gap event; ValueError for
    bytes that are not a gap event."""
    try:
        event = gap_event_pb2.GapEvent.FromString(payload)
    except Exception as error:  # protobuf raises its own DecodeError
        raise ValueError(f"not a quantflow.market.v1.GapEvent: {error}") from error
    if event.state != gap_event_pb2.GAP_STATE_EXCHANGE_HOLE:
        return None
    if not event.symbol or not event.kind or event.last_id < event.first_id:
        raise ValueError("exchange hole event lacks symbol or kind, or has last_id < first_id")
    return ExchangeHole(
        event.venue, event.symbol, event.kind, event.first_id, event.last_id, event.reason
    )
