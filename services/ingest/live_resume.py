"""Where each live series stands at start-up, so a restarted ingest finds the hole between
what it stored before and what the exchange sends now, and backfills it.

Trades: the same two records as the demo's resume (services.ingest.demo_resume): storage's
highest stored trade id (``GetLatestPrice``: its row is the trade with the highest id,
updated in the same transaction as the trades) and the bus's last trade (published, maybe
not stored). AggTrades and final klines: storage's last stored id (``GetLastStoredId``);
what was on the bus but not stored yet is fetched again, harmlessly.
"""

from __future__ import annotations

import logging

import grpc
from nats.js import JetStreamContext
from pydantic import SecretStr

from quantflow.storage.v1 import storage_service_pb2 as storage_pb
from quantflow.storage.v1 import storage_service_pb2_grpc
from services.common import names
from services.common.intervals import IDS, SeriesStep
from services.common.names import VENUE_BINANCE
from services.common.service_token import service_channel
from services.ingest.backfill import GapFiller, step_of
from services.ingest.demo_resume import StorageUnreachable, last_on_bus, stored_latest
from services.ingest.gaps import Gap, SeriesKey

log = logging.getLogger(__name__)

# How far below the highest stored id (in steps: ids, or candles) start-up looks for holes
# an earlier run left (it stopped while filling a gap). Older holes are for `quantflow
# backfill`.
HOLE_LOOKBACK_IDS = 1_000_000
_STORAGE_TIMEOUT_S = 10.0


async def resume_trade_series(
    filler: GapFiller,
    storage_target: str,
    js: JetStreamContext,
    namespace: str,
    symbols: tuple[str, ...],
    service_token: SecretStr | None = None,
) -> None:
    """Tell ``filler`` the highest known trade id of each live (spot) symbol."""
    for symbol in symbols:
        ids: list[int] = []
        try:
            stored = await stored_latest(storage_target, symbol, service_token)
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
                key = filler.key(VENUE_BINANCE, symbol)
                for gap in await _stored_holes(
                    storage_target, key, stored.trade_id, IDS, service_token
                ):
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


async def resume_id_series(
    filler: GapFiller,
    storage_target: str,
    streams: list[str],
    service_token: SecretStr | None = None,
) -> None:
    """Tell ``filler`` the last stored aggTrade id and final kline open time of each live
    stream (``btcusdt@aggTrade``, ``btcusdt@kline_1m`` …), and fill the holes below it."""
    for stream in streams:
        lower, _, stream_kind = stream.partition("@")
        kind = names.stream_kind(stream_kind)
        step = step_of(kind)
        if kind == names.TRADE or step is None:
            continue
        key = filler.key(VENUE_BINANCE, lower.upper(), kind)
        last = await _last_stored(storage_target, key, service_token)
        if last is None:
            continue
        for gap in await _stored_holes(storage_target, key, last, step, service_token):
            filler.open_gap(gap)
        filler.detector.resume(key, last)
        log.info(
            "%s %s continue after %d; a hole up to the live feed is backfilled",
            key.symbol,
            key.kind,
            last,
        )


async def _last_stored(
    target: str, key: SeriesKey, service_token: SecretStr | None = None
) -> int | None:
    async with service_channel(target, service_token) as channel:
        stub = storage_service_pb2_grpc.StorageServiceStub(channel)
        try:
            reply = await stub.GetLastStoredId(
                storage_pb.GetLastStoredIdRequest(
                    symbol=key.symbol, venue=key.venue, kind=key.kind
                ),
                timeout=_STORAGE_TIMEOUT_S,
            )
        except grpc.aio.AioRpcError as error:
            if error.code() != grpc.StatusCode.NOT_FOUND:
                log.warning(
                    "storage at %s did not say where %s %s stand (%s); they continue from "
                    "the live feed",
                    target,
                    key.symbol,
                    key.kind,
                    error.details(),
                )
            return None
    return int(reply.last_id)


async def _stored_holes(
    target: str,
    key: SeriesKey,
    highest_id: int,
    step: SeriesStep,
    service_token: SecretStr | None = None,
) -> list[Gap]:
    # Back as far as the lookback, but not before id 0 (the epoch, for open times).
    first = step.advance(highest_id, -min(HOLE_LOOKBACK_IDS, step.count(0, highest_id) - 1))
    async with service_channel(target, service_token) as channel:
        stub = storage_service_pb2_grpc.StorageServiceStub(channel)
        try:
            reply = await stub.ListMissingIds(
                storage_pb.ListMissingIdsRequest(
                    symbol=key.symbol,
                    venue=key.venue,
                    kind=key.kind,
                    first_id=first,
                    last_id=highest_id,
                ),
                timeout=_STORAGE_TIMEOUT_S,
            )
        except grpc.aio.AioRpcError as error:
            log.warning(
                "could not ask storage for holes in %s %s: %s",
                key.symbol,
                key.kind,
                error.details(),
            )
            return []
    # The lowest stored id is not known here: a "hole" from the window's start up to it is
    # only history never captured, not a gap.
    return [Gap(key, r.first_id, r.last_id) for r in reply.missing if r.first_id != first]
