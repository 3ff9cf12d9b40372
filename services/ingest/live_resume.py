"""Where each live symbol's trade series stands at start-up, so a restarted ingest finds the
hole between what it stored before and what the exchange sends now, and backfills it.

The same two records as the demo's resume (services.ingest.demo_resume): storage's highest
stored trade id (``GetLatestPrice``: its row is the trade with the highest id, updated in
the same transaction as the trades) and the bus's last trade (published, maybe not stored).
"""

from __future__ import annotations

import logging

from nats.js import JetStreamContext

from services.common.names import VENUE_BINANCE
from services.ingest.backfill import GapFiller
from services.ingest.demo_resume import StorageUnreachable, last_on_bus, stored_latest

log = logging.getLogger(__name__)


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
            ids += [stored.trade_id] if stored else []
        on_bus = await last_on_bus(js, namespace, symbol)
        ids += [on_bus.trade_id] if on_bus else []
        if ids:
            filler.detector.resume(filler.key(VENUE_BINANCE, symbol), max(ids))
            log.info(
                "%s trades continue after id %d; a hole up to the live feed is backfilled",
                symbol,
                max(ids),
            )
