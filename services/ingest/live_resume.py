"""Where each live symbol's trade series stands at start-up, so a restarted ingest finds the
hole between what it stored before and what the exchange sends now, and backfills it.

The same two records as the demo's resume (services.ingest.demo_resume): storage's highest
stored trade id (``GetLatestPrice``: its row is the trade with the highest id, updated in
the same transaction as the trades) and the bus's last trade (published, maybe not stored).
"""

from __future__ import annotations

import logging

import grpc
from nats.js import JetStreamContext

from quantflow.storage.v1 import storage_service_pb2 as storage_pb
from quantflow.storage.v1 import storage_service_pb2_grpc
from services.common.names import VENUE_BINANCE
from services.ingest.backfill import GapFiller
from services.ingest.demo_resume import StorageUnreachable, last_on_bus, stored_latest
from services.ingest.gaps import Gap

log = logging.getLogger(__name__)

# How far below the highest stored id start-up looks for holes an earlier run left (it
# stopped while filling a gap). Older holes are for `quantflow backfill`.
HOLE_LOOKBACK_IDS = 1_000_000
_STORAGE_TIMEOUT_S = 10.0


async def resume_trade_series(
    filler: GapFiller,
    storage_target: str,
    js: JetStreamContext,
    namespace: str,
    symbols: tuple[str, ...],
) -> None:
    """Tell ``filler`` the highest known trade id of each live (spot) symbol."""
    for symbol in symbols:
        ids: list[int] = []
        try:
            stored = await stored_latest(storage_target, symbol)
        except StorageUnreachable as error:
            log.warning(
                "storage at %s did not answer (%s); %s resumes after the bus's last trade",
                storage_target,
                error,
                symbol,
            )
        else:
            if stored is not None:
                ids.append(stored.trade_id)
                for gap in await _stored_holes(filler, storage_target, symbol, stored.trade_id):
                    filler.open_gap(gap)
        on_bus = await last_on_bus(js, namespace, symbol)
        ids += [on_bus.trade_id] if on_bus else []
        if ids:
            filler.detector.resume(filler.key(VENUE_BINANCE, symbol), max(ids))
            log.info(
                "%s trades continue after id %d; a hole up to the live feed is backfilled",
                symbol,
                max(ids),
            )


async def _stored_holes(filler: GapFiller, target: str, symbol: str, highest_id: int) -> list[Gap]:
    first = max(0, highest_id - HOLE_LOOKBACK_IDS)
    async with grpc.aio.insecure_channel(target) as channel:
        stub = storage_service_pb2_grpc.StorageServiceStub(channel)
        try:
            reply = await stub.ListMissingTradeIds(
                storage_pb.ListMissingTradeIdsRequest(
                    symbol=symbol, venue=VENUE_BINANCE, first_id=first, last_id=highest_id
                ),
                timeout=_STORAGE_TIMEOUT_S,
            )
        except grpc.aio.AioRpcError as error:
            log.warning("could not ask storage for holes in %s trades: %s", symbol, error.details())
            return []
    key = filler.key(VENUE_BINANCE, symbol)
    # The lowest stored id is not known here: a "hole" from the window's start up to it is
    # only history never captured, not a gap.
    return [Gap(key, r.first_id, r.last_id) for r in reply.missing if r.first_id != first]
