"""Filling holes from Binance REST through the same validation, publisher and bus as live
data: a backfilled event carries the exchange's identity as its ``Nats-Msg-Id`` and its
storage key, so filling twice (or filling what the live stream also delivered) duplicates
nothing.

Generic over the kind of series: :class:`SeriesFill` says how to fetch a page of a kind
from REST, parse an item, and publish the event: :class:`TradeFill`, :class:`AggTradeFill`
and :class:`KlineFill` (ids = open times, stepping by the interval, ``1M`` by month).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any, Protocol, TypeVar

from prometheus_client import Counter

from services.common import names
from services.common.deadletter import DeadLetterPublisher
from services.common.errors import QuantflowError, Unavailable
from services.common.events import AggTrade, Event, Kline
from services.common.intervals import IDS, SeriesStep
from services.common.trades import Trade
from services.ingest.binance import Malformed
from services.ingest.gap_events import GapEventPublisher, GapState
from services.ingest.gaps import Gap, GapDetector, OpenGaps, SeriesKey
from services.ingest.publisher import EventPublisher
from services.ingest.rest import MAX_LIMIT, BinanceRest
from services.ingest.rest_payloads import parse_rest_agg_trade, parse_rest_kline, parse_rest_trade

log = logging.getLogger(__name__)

GAPS = Counter("quantflow_ingest_gaps", "Gaps in exchange series, by state", ["state"])

EventT = TypeVar("EventT")
# A REST outage during a live backfill is retried this often, backing off, before the gap
# is declared unfillable (429/418 waits happen inside the REST client and do not count).
_ATTEMPTS = 6
_FIRST_RETRY_S = 1.0


class Unfillable(Exception):
    """The exchange cannot supply (all of) a range; the message says why.
    ``exchange_holes``: the id ranges (both inclusive) Binance answered for and has no
    data in (an outage on its side), as opposed to a failure to ask."""

    def __init__(self, message: str, exchange_holes: Sequence[tuple[int, int]] = ()) -> None:
        super().__init__(message)
        self.exchange_holes = list(exchange_holes)


class SeriesFill(Protocol[EventT]):
    """One kind of series, as far as backfilling it goes: its ids follow ``step``."""

    kind: str
    step: SeriesStep
    # Whether a page covers a fixed window of ids (klines: startTime to endTime), so an
    # empty page proves the exchange has nothing in it; fromId pages (trades) do not.
    windowed: bool

    async def page(self, rest: BinanceRest, symbol: str, from_id: int, limit: int) -> list[Any]: ...

    def parse(self, item: Any, venue: str, symbol: str) -> EventT | Malformed: ...

    def id_of(self, event: EventT) -> int: ...

    async def publish(self, event: EventT) -> None: ...

    async def flush(self) -> None:
        """Return once everything published is acknowledged by JetStream."""
        ...


class _PublishedFill:
    """What every kind shares: its events take the one publisher, like live ones."""

    step = IDS
    windowed = False

    def __init__(self, publisher: EventPublisher) -> None:
        self._publisher = publisher

    async def publish(self, event: Event) -> None:
        await self._publisher.publish(event)

    async def flush(self) -> None:
        await self._publisher.flush()


class TradeFill(_PublishedFill):
    """Trades, from ``/api/v3/historicalTrades?fromId=``."""

    kind = names.TRADE

    async def page(self, rest: BinanceRest, symbol: str, from_id: int, limit: int) -> list[Any]:
        return await rest.historical_trades(symbol, from_id, limit)

    def parse(self, item: Any, venue: str, symbol: str) -> Trade | Malformed:
        return parse_rest_trade(item, venue, symbol, _now_us())

    def id_of(self, event: Trade) -> int:
        return event.trade_id


class AggTradeFill(_PublishedFill):
    """Aggregate trades, from ``/api/v3/aggTrades?fromId=`` (spec §7.2)."""

    kind = names.AGGTRADE

    async def page(self, rest: BinanceRest, symbol: str, from_id: int, limit: int) -> list[Any]:
        return await rest.agg_trades(symbol, from_id=from_id, limit=limit)

    def parse(self, item: Any, venue: str, symbol: str) -> AggTrade | Malformed:
        return parse_rest_agg_trade(item, venue, symbol, _now_us())

    def id_of(self, event: AggTrade) -> int:
        return event.agg_id


class KlineFill(_PublishedFill):
    """Final klines of one interval, from ``/api/v3/klines?startTime=`` (spec §7.1): ids
    are open times, ``step`` the interval. Candles that have not closed yet are left out:
    only the WebSocket's ``x: true`` or a later fill may store them.
    :class:`~services.common.intervals.NoFixedStep` for ``1M``."""

    def __init__(self, publisher: EventPublisher, interval: str) -> None:
        super().__init__(publisher)
        self.interval = interval
        self.kind = names.kline_kind(interval)
        self.step = SeriesStep.of_interval(interval)
        self.windowed = True

    async def page(self, rest: BinanceRest, symbol: str, from_id: int, limit: int) -> list[Any]:
        items = await rest.klines(
            symbol, self.interval, from_id, self.step.advance(from_id, limit - 1), limit
        )
        now = _now_us() // 1000
        return [item for item in items if not _still_open(item, now)]

    def parse(self, item: Any, venue: str, symbol: str) -> Kline | Malformed:
        return parse_rest_kline(item, venue, symbol, self.interval, _now_us())

    def id_of(self, event: Kline) -> int:
        return event.open_time_ms


def _still_open(item: Any, now_ms: int) -> bool:
    """A REST kline whose close time (position 6) has not passed; anything else is left
    to the parser to accept or dead-letter."""
    close = item[6] if isinstance(item, list) and len(item) > 6 else None
    return isinstance(close, int) and close >= now_ms


def _now_us() -> int:
    return time.time_ns() // 1000


def series_of(event: Event) -> tuple[SeriesKey, int, SeriesStep] | None:
    """The gap-checked series ``event`` belongs to, its id in it and the series' step; None
    for what has no consecutive ids (tickers, book tickers, in-progress klines)."""
    if isinstance(event, Trade):
        return SeriesKey(event.venue, event.symbol, names.TRADE), event.trade_id, IDS
    if isinstance(event, AggTrade):
        return SeriesKey(event.venue, event.symbol, names.AGGTRADE), event.agg_id, IDS
    if isinstance(event, Kline) and event.closed:
        key = SeriesKey(event.venue, event.symbol, event.kind)
        return key, event.open_time_ms, SeriesStep.of_interval(event.interval)
    return None


def step_of(kind: str) -> SeriesStep | None:
    """How a gap-checked kind's ids follow each other; None for a kind that is not
    gap-checked."""
    if kind in (names.TRADE, names.AGGTRADE):
        return IDS
    if kind.startswith(names.KLINE_PREFIX):
        return SeriesStep.of_interval(kind.removeprefix(names.KLINE_PREFIX))
    return None


def fill_for(kind: str, publisher: EventPublisher) -> SeriesFill[Any]:
    """The fill of one bus kind (``trade``, ``aggtrade``, ``kline_<interval>``); ValueError
    for a kind that cannot be filled."""
    if kind == names.TRADE:
        return TradeFill(publisher)
    if kind == names.AGGTRADE:
        return AggTradeFill(publisher)
    if kind.startswith(names.KLINE_PREFIX):
        return KlineFill(publisher, kind.removeprefix(names.KLINE_PREFIX))
    raise ValueError(f"{kind} has no consecutive ids to fill; trade, aggtrade and klines do")


async def fill_range(
    rest: BinanceRest,
    series: SeriesFill[EventT],
    dead_letters: DeadLetterPublisher,
    venue: str,
    symbol: str,
    first_id: int,
    last_id: int,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Fetch ids ``first_id`` … ``last_id`` (each ``series.step`` apart) page by page and
    publish each; returns how many were published; ``progress`` gets the count of ids each
    page settled. Raises :class:`Unfillable` (after publishing what it could) when the
    exchange lacks some of them (the ids it answered around are its ``exchange_holes``) or
    sends items that fail validation (dead-lettered)."""
    step = series.step
    next_id, published, problems = first_id, 0, []
    holes: list[tuple[int, int]] = []
    while next_id <= last_id:
        limit = min(MAX_LIMIT, step.count(next_id, last_id))
        items = await series.page(rest, symbol, next_id, limit)
        if not items and series.windowed:
            window_end = step.advance(next_id, limit - 1)
            problems.append(
                f"Binance has no {series.kind} of {symbol} in ids {next_id}-{window_end}"
            )
            holes.append((next_id, window_end))
            if progress is not None:
                progress(limit)
            next_id = step.after(window_end)
            continue
        if not items:
            problems.append(f"Binance has no {series.kind} of {symbol} from id {next_id}")
            break
        page_end = next_id
        for item in items:
            event = series.parse(item, venue, symbol)
            if isinstance(event, Malformed):
                await dead_letters.publish(json.dumps(item), event.reason)
                problems.append(event.reason)
                continue
            event_id = series.id_of(event)
            if event_id < next_id or event_id > last_id:
                continue
            if event_id > page_end:
                skipped = (page_end, step.before(event_id))
                problems.append(f"Binance skipped {series.kind} ids {skipped[0]}-{skipped[1]}")
                holes.append(skipped)
            await series.publish(event)
            published += 1
            page_end = step.after(event_id)
        if page_end == next_id:  # nothing usable: asking again would get the same page
            if not problems:
                problems.append(f"Binance has no {series.kind} of {symbol} in the range")
            break
        if progress is not None:
            progress(step.count(next_id, step.before(page_end)))
        next_id = page_end
    await series.flush()
    if problems:
        reason = "; ".join(problems[:3]) + (" …" if len(problems) > 3 else "")
        raise Unfillable(reason, _merged(holes, step))
    return published


def _merged(holes: list[tuple[int, int]], step: SeriesStep) -> list[tuple[int, int]]:
    """Adjacent holes (an empty window right after a skip) as one."""
    merged: list[tuple[int, int]] = []
    for first, last in holes:
        if merged and step.after(merged[-1][1]) == first:
            merged[-1] = (merged[-1][0], last)
        else:
            merged.append((first, last))
    return merged


class GapFiller:
    """Watches every series with consecutive ids (trades, aggTrades, final klines) for gaps
    (:meth:`observe`) and fills each from REST in the background (:meth:`run`), announcing
    OPENED and then FILLED or UNFILLABLE."""

    def __init__(
        self,
        rest: BinanceRest,
        publisher: EventPublisher,
        events: GapEventPublisher,
        dead_letters: DeadLetterPublisher,
        first_retry_s: float = _FIRST_RETRY_S,
    ) -> None:
        self._rest = rest
        self._publisher = publisher
        self._fills: dict[str, SeriesFill[Any]] = {}
        self._events = events
        self._dead_letters = dead_letters
        self._first_retry_s = first_retry_s
        self.detector = GapDetector()
        self.open = OpenGaps()
        self._queue: asyncio.Queue[Gap] = asyncio.Queue()
        self.filled = 0
        self.unfillable = 0

    def key(self, venue: str, symbol: str, kind: str = names.TRADE) -> SeriesKey:
        return SeriesKey(venue, symbol, kind)

    def observe(self, event: Event) -> None:
        """Note a published event; a hole before it is filled."""
        series = series_of(event)
        if series is None:
            return
        key, event_id, step = series
        gap = self.detector.observe(key, event_id, step)
        if gap is not None:
            self.open_gap(gap)

    def _fill_of(self, kind: str) -> SeriesFill[Any]:
        if kind not in self._fills:
            self._fills[kind] = fill_for(kind, self._publisher)
        return self._fills[kind]

    def open_gap(self, gap: Gap) -> None:
        """Fill ``gap`` (found live, or left in storage by an earlier run)."""
        log.warning(
            "gap in %s %s %ss: ids %d-%d missing; backfilling from REST",
            gap.key.venue,
            gap.key.symbol,
            gap.key.kind,
            gap.first_id,
            gap.last_id,
        )
        self.open.opened(gap)
        GAPS.labels("opened").inc()
        self._queue.put_nowait(gap)

    async def run(self) -> None:
        while True:
            gap = await self._queue.get()
            await self._events.publish(gap, GapState.OPENED)
            try:
                count = await self._fill(gap)
            except Unfillable as error:
                self.unfillable += 1
                GAPS.labels("unfillable").inc()
                log.error(
                    "gap %s %s %d-%d unfillable: %s",
                    gap.key.symbol,
                    gap.key.kind,
                    gap.first_id,
                    gap.last_id,
                    error,
                )
                self.open.settled(gap)
                await self._events.publish(gap, GapState.UNFILLABLE, str(error))
                await publish_exchange_holes(self._events, gap.key, error)
                continue
            self.filled += 1
            GAPS.labels("filled").inc()
            log.info("gap %s %s %d-%d filled (%d events)", *_label(gap), count)
            self.open.settled(gap)
            await self._events.publish(gap, GapState.FILLED)

    async def _fill(self, gap: Gap) -> int:
        delay = self._first_retry_s
        first = gap.first_id
        series = self._fill_of(gap.key.kind)

        def advance(count: int) -> None:
            nonlocal first
            # A retry after an outage starts after the last page.
            first = series.step.advance(first, count)

        attempt = 0
        while True:
            attempt += 1
            try:
                return await fill_range(
                    self._rest,
                    series,
                    self._dead_letters,
                    gap.key.venue,
                    gap.key.symbol,
                    first,
                    gap.last_id,
                    advance,
                )
            except Unavailable as error:
                if attempt == _ATTEMPTS:
                    raise Unfillable(f"Binance REST unavailable: {error}") from error
                log.warning("backfill paused (%s); retrying in %.0fs", error, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)
            except QuantflowError as error:
                raise Unfillable(str(error)) from error


async def publish_exchange_holes(
    events: GapEventPublisher, key: SeriesKey, error: Unfillable
) -> None:
    """Tell storage which ids Binance has no data for (GAP_STATE_EXCHANGE_HOLE), so
    coverage reports them as the exchange's holes, not ours."""
    for first, last in error.exchange_holes:
        await events.publish(Gap(key, first, last), GapState.EXCHANGE_HOLE, str(error))


def _label(gap: Gap) -> tuple[str, str, int, int]:
    return gap.key.symbol, gap.key.kind, gap.first_id, gap.last_id
