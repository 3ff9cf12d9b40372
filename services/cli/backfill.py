"""``quantflow backfill SYMBOL --kind trade|aggTrade|kline_<interval> --from … --to …``:
history from Binance REST into the same tables as live data.

The fetched events take the one write path there is (REST → the same validation → the bus
→ storage), so nothing can be stored differently from live data and a rerun duplicates
nothing. What to fetch is asked of storage (``ListMissingIds``): a rerun after Ctrl-C
fetches only what is still missing, and a run over a stored range fetches nothing. So a
running stack (``quantflow up``, or servers given by ``QUANTFLOW_NATS_URL`` and
``QUANTFLOW_STORAGE_TARGET``) is needed: storage is the one writer.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from datetime import UTC, datetime

import grpc
from pydantic import SecretStr

from quantflow.storage.v1 import storage_service_pb2 as storage_pb
from quantflow.storage.v1 import storage_service_pb2_grpc
from services.cli.progress import Progress
from services.cli.up import read_run_file, running_service_token
from services.common import bus, names
from services.common.deadletter import DeadLetterPublisher
from services.common.errors import QuantflowError
from services.common.intervals import (
    IDS,
    SeriesStep,
    first_open_at_or_after,
    last_open_at_or_before,
)
from services.common.names import VENUE_BINANCE
from services.common.service_token import service_channel
from services.common.settings import Settings
from services.ingest.backfill import Unfillable, fill_for, fill_range, publish_exchange_holes
from services.ingest.gap_events import GapEventPublisher
from services.ingest.gaps import SeriesKey
from services.ingest.publisher import EventPublisher
from services.ingest.rest import BinanceRest

# How long a run waits for a Retry-After or ban before giving up with the time to retry.
_MAX_REST_WAIT_S = 300.0
# How long the end of a run waits for storage to have written what was published.
_STORED_WAIT_S = 120.0


class BackfillError(Exception):
    """An expected failure: one line for the user."""


@dataclass(frozen=True, slots=True)
class Targets:
    nats_url: str
    storage_target: str
    service_token: SecretStr | None = None


def targets(settings: Settings) -> Targets:
    """Where the running stack is: the run file of ``quantflow up``, else the settings."""
    state = read_run_file(settings.data_dir)
    if state is not None:
        nats = state["nats"]
        components = state["components"]
        assert isinstance(nats, dict) and isinstance(components, list)
        storage = next(c["grpc"] for c in components if c["name"] == "storage")
        return Targets(str(nats["url"]), str(storage), running_service_token(settings))
    if settings.nats_url:
        return Targets(settings.nats_url, settings.storage_target, settings.service_token)
    raise BackfillError(
        f"no running QuantFlow found (no run file in {settings.data_dir.resolve()}) and "
        "QUANTFLOW_NATS_URL is not set; start `quantflow up` first, or give --data-dir"
    )


@dataclass(frozen=True, slots=True)
class Bound:
    """One end of ``--from``/``--to``: an id, or an instant (epoch ms, UTC)."""

    value: int
    is_time: bool


def parse_bound(text: str, flag: str, *, end: bool) -> Bound:
    """``123456`` (an id), ``2024-08-08`` or ``2024-08-08T23:54:15[.123][Z|+00:00]`` (UTC
    unless an offset is given). A date alone as ``--to`` means the end of that day."""
    if text.isdigit():
        return Bound(int(text), is_time=False)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise BackfillError(
            f"{flag} {text!r} is neither an id nor an ISO-8601 date or time "
            "(e.g. 2024-08-08 or 2024-08-08T23:54:15Z)"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    epoch_ms = int(moment.timestamp() * 1000)
    if end and len(text) == len("2024-08-08"):
        epoch_ms += 86_400_000 - 1
    return Bound(epoch_ms, is_time=True)


@dataclass(frozen=True, slots=True)
class Kind:
    """What a backfill fetches: the ``--kind`` given, its bus kind and how it is shown."""

    name: str
    bus_kind: str
    label: str
    step: SeriesStep = IDS

    @property
    def interval(self) -> str | None:
        prefix = names.KLINE_PREFIX
        return self.bus_kind.removeprefix(prefix) if self.bus_kind.startswith(prefix) else None

    def show(self, series_id: int) -> str:
        if self.interval is None:
            return str(series_id)
        return datetime.fromtimestamp(series_id / 1000, UTC).strftime("%Y-%m-%dT%H:%MZ")


def parse_kind(text: str) -> Kind:
    """``trade``, ``aggTrade`` or ``kline_<interval>`` (``kline_1M``: calendar months)."""
    if text == "trade":
        return Kind(text, names.TRADE, "trades")
    if text == "aggTrade":
        return Kind(text, names.AGGTRADE, "aggTrades")
    if text.startswith("kline_"):
        interval = text.removeprefix("kline_")
        try:
            step = SeriesStep.of_interval(interval)
        except ValueError as error:
            raise BackfillError(f"--kind {text}: {error}") from None
        return Kind(text, names.kline_kind(interval), f"{interval} klines", step)
    raise BackfillError(
        f"--kind {text!r}: give trade, aggTrade or kline_<interval> (e.g. kline_1m); "
        "book tickers and tickers have no history on Binance REST"
    )


async def resolve_range(
    rest: BinanceRest, symbol: str, kind: Kind, first: Bound, last: Bound, now_ms: int
) -> tuple[int, int] | None:
    """The ids (klines: open times) ``--from`` … ``--to`` stand for; None when the exchange
    has nothing in that time range."""
    interval = kind.interval
    if interval is not None:
        if not (first.is_time and last.is_time):
            raise BackfillError("klines are backfilled by time: give --from/--to as ISO-8601")
        # Only candles that have closed: the open one is the live stream's to finish.
        newest_closed = kind.step.before(last_open_at_or_before(interval, now_ms))
        return (
            first_open_at_or_after(interval, first.value),
            min(last_open_at_or_before(interval, last.value), newest_closed),
        )
    # Times become ids through aggTrades (weight 4): each carries the first and last
    # trade id it aggregates, so one item at a time answers for both kinds.
    field = "a" if kind.bus_kind == names.AGGTRADE else "f"
    first_id = first.value
    if first.is_time:
        after = await rest.agg_trades(symbol, start_ms=first.value, limit=1)
        if not after:
            return None
        first_id = int(after[0][field])
    last_id = last.value
    if last.is_time:
        later = await rest.agg_trades(symbol, start_ms=last.value + 1, limit=1)
        if later:
            last_id = int(later[0][field]) - 1
        else:  # nothing after --to yet: up to the newest
            newest = await rest.agg_trades(symbol, limit=1)
            last_id = int(newest[0]["a" if field == "a" else "l"]) if newest else -1
    return first_id, last_id


async def missing_ranges(
    target: str,
    symbol: str,
    kind: str,
    first_id: int,
    last_id: int,
    service_token: SecretStr | None = None,
) -> list[tuple[int, int]]:
    async with service_channel(target, service_token) as channel:
        stub = storage_service_pb2_grpc.StorageServiceStub(channel)
        try:
            reply = await stub.ListMissingIds(
                storage_pb.ListMissingIdsRequest(
                    symbol=symbol,
                    venue=VENUE_BINANCE,
                    kind=kind,
                    first_id=first_id,
                    last_id=last_id,
                ),
                timeout=30,
            )
        except grpc.aio.AioRpcError as error:
            raise BackfillError(
                f"storage at {target} did not answer ({error.code().name}: {error.details()})"
            ) from None
    return [(r.first_id, r.last_id) for r in reply.missing]


async def backfill(
    settings: Settings, symbol: str, kind_name: str, first_text: str, last_text: str
) -> str:
    """Fetch and publish what storage lacks of ``symbol``'s ``kind`` between ``--from`` and
    ``--to``; return the summary line once storage holds it all."""
    kind = parse_kind(kind_name)
    first = parse_bound(first_text, "--from", end=False)
    last = parse_bound(last_text, "--to", end=True)
    if first.is_time == last.is_time and first.value > last.value:
        raise BackfillError("--from is after --to")
    where = targets(settings)
    rest = BinanceRest(settings.binance_rest_url, max_wait_s=_MAX_REST_WAIT_S)
    try:
        try:
            span = await resolve_range(rest, symbol, kind, first, last, time.time_ns() // 10**6)
        except QuantflowError as error:
            raise BackfillError(str(error)) from None
        if span is None or span[1] < span[0]:
            return f"{symbol} {kind.label} {first_text} to {last_text}: Binance has none"
        first_id, last_id = span
        shown = f"{symbol} {kind.label} {kind.show(first_id)}-{kind.show(last_id)}"
        missing = await missing_ranges(
            where.storage_target, symbol, kind.bus_kind, first_id, last_id, where.service_token
        )
        if not missing:
            return f"{shown}: all stored already, nothing to fetch"
        total = _count(missing, kind.step)
        problems = await _fetch(settings, where, rest, symbol, kind, missing, total)
    finally:
        await rest.aclose()
    deadline = time.monotonic() + _STORED_WAIT_S
    while True:
        left = await missing_ranges(
            where.storage_target, symbol, kind.bus_kind, first_id, last_id, where.service_token
        )
        if not left or problems or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.5)
    if problems:
        raise BackfillError(
            f"{_count(left, kind.step):,} {kind.label} still missing: {'; '.join(problems)}"
        )
    if left:
        raise BackfillError(
            f"{_count(left, kind.step):,} published {kind.label} not stored after "
            f"{_STORED_WAIT_S:.0f}s; is storage running? run the command again to finish"
        )
    return f"{shown}: {total:,} fetched, all stored"


async def _fetch(
    settings: Settings,
    where: Targets,
    rest: BinanceRest,
    symbol: str,
    kind: Kind,
    missing: list[tuple[int, int]],
    total: int,
) -> list[str]:
    """Publish every missing range; the reasons of those the exchange could not fill."""
    progress = Progress(f"{symbol} {kind.label}", total)
    nc = await bus.connect(where.nats_url, "backfill")
    problems: list[str] = []
    try:
        js = nc.jetstream()
        await bus.ensure_streams(js, settings.namespace, settings.market_max_age_hours * 3600)
        dead_letters = DeadLetterPublisher(js, settings.namespace, VENUE_BINANCE)
        series = fill_for(kind.bus_kind, EventPublisher(nc, settings.namespace, dead_letters))
        for first, last in missing:
            try:
                await fill_range(
                    rest, series, dead_letters, VENUE_BINANCE, symbol, first, last, progress.advance
                )
            except Unfillable as error:
                problems.append(str(error))
                await publish_exchange_holes(
                    GapEventPublisher(js, settings.namespace),
                    SeriesKey(VENUE_BINANCE, symbol, kind.bus_kind),
                    error,
                )
    except QuantflowError as error:
        raise BackfillError(str(error)) from None
    finally:
        progress.finish()
        await nc.drain()
    return problems


def _count(ranges: list[tuple[int, int]], step: SeriesStep) -> int:
    return sum(step.count(first, last) for first, last in ranges)
