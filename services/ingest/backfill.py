"""Filling holes from Binance REST through the same validation, publisher and bus as live
data: a backfilled event carries the exchange's identity as its ``Nats-Msg-Id`` and its
storage key, so filling twice (or filling what the live stream also delivered) duplicates
nothing.

Generic over the kind of series: :class:`SeriesFill` says how to fetch a page of a kind
from REST, parse an item, and publish the event. Trades are :class:`TradeFill`; aggTrades
(``/api/v3/aggTrades?fromId=``) and klines (``/api/v3/klines?startTime=``, ids = open
times, step = the interval) are one more class each once their events exist.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

from prometheus_client import Counter

from services.common.deadletter import DeadLetterPublisher
from services.common.errors import QuantflowError, Unavailable
from services.common.trades import Trade
from services.ingest.binance import Malformed
from services.ingest.gap_events import GapEventPublisher, GapState
from services.ingest.gaps import Gap, GapDetector, OpenGaps, SeriesKey
from services.ingest.publisher import EventPublisher
from services.ingest.rest import MAX_LIMIT, BinanceRest
from services.ingest.rest_payloads import parse_rest_trade

log = logging.getLogger(__name__)

GAPS = Counter("quantflow_ingest_gaps", "Gaps in exchange series, by state", ["state"])

Event = TypeVar("Event")
# A REST outage during a live backfill is retried this often, backing off, before the gap
# is declared unfillable (429/418 waits happen inside the REST client and do not count).
_ATTEMPTS = 6
_FIRST_RETRY_S = 1.0


class Unfillable(Exception):
    """The exchange cannot supply (all of) a range; the message says why."""


class SeriesFill(Protocol[Event]):
    """One kind of series, as far as backfilling it goes."""

    kind: str

    async def page(self, rest: BinanceRest, symbol: str, from_id: int, limit: int) -> list[Any]: ...

    def parse(self, item: Any, venue: str, symbol: str) -> Event | Malformed: ...

    def id_of(self, event: Event) -> int: ...

    async def publish(self, event: Event) -> None: ...

    async def flush(self) -> None:
        """Return once everything published is acknowledged by JetStream."""
        ...


class TradeFill:
    """Trades, from ``/api/v3/historicalTrades?fromId=``."""

    kind = "trade"

    def __init__(self, publisher: EventPublisher) -> None:
        self._publisher = publisher

    async def page(self, rest: BinanceRest, symbol: str, from_id: int, limit: int) -> list[Any]:
        return await rest.historical_trades(symbol, from_id, limit)

    def parse(self, item: Any, venue: str, symbol: str) -> Trade | Malformed:
        return parse_rest_trade(item, venue, symbol, time.time_ns() // 1000)

    def id_of(self, event: Trade) -> int:
        return event.trade_id

    async def publish(self, event: Trade) -> None:
        await self._publisher.publish(event)

    async def flush(self) -> None:
        await self._publisher.flush()


async def fill_range(
    rest: BinanceRest,
    series: SeriesFill[Event],
    dead_letters: DeadLetterPublisher,
    venue: str,
    symbol: str,
    first_id: int,
    last_id: int,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Fetch ids ``first_id`` … ``last_id`` page by page and publish each; returns how many
    were published. Raises :class:`Unfillable` (after publishing what it could) when the
    exchange lacks some of them or sends items that fail validation (dead-lettered)."""
    next_id, published, problems = first_id, 0, []
    while next_id <= last_id:
        items = await series.page(rest, symbol, next_id, min(MAX_LIMIT, last_id - next_id + 1))
        if not items:
            problems.append(f"Binance has no {series.kind}s of {symbol} from id {next_id}")
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
                problems.append(f"Binance skipped {series.kind} ids {page_end}-{event_id - 1}")
            await series.publish(event)
            published += 1
            page_end = event_id + 1
        if page_end == next_id:  # nothing usable: asking again would get the same page
            if not problems:
                problems.append(f"Binance has no {series.kind}s of {symbol} in the range")
            break
        if progress is not None:
            progress(page_end - next_id)
        next_id = page_end
    await series.flush()
    if problems:
        raise Unfillable("; ".join(problems[:3]) + (" …" if len(problems) > 3 else ""))
    return published


class GapFiller:
    """Watches one kind of series for gaps (:meth:`observe`) and fills each from REST in
    the background (:meth:`run`), announcing OPENED and then FILLED or UNFILLABLE."""

    def __init__(
        self,
        rest: BinanceRest,
        series: SeriesFill[Any],
        events: GapEventPublisher,
        dead_letters: DeadLetterPublisher,
        first_retry_s: float = _FIRST_RETRY_S,
    ) -> None:
        self._rest = rest
        self._series = series
        self._events = events
        self._dead_letters = dead_letters
        self._first_retry_s = first_retry_s
        self.detector = GapDetector()
        self.open = OpenGaps()
        self._queue: asyncio.Queue[Gap] = asyncio.Queue()
        self.filled = 0
        self.unfillable = 0

    def key(self, venue: str, symbol: str) -> SeriesKey:
        return SeriesKey(venue, symbol, self._series.kind)

    def observe(self, venue: str, symbol: str, event_id: int) -> None:
        gap = self.detector.observe(self.key(venue, symbol), event_id)
        if gap is not None:
            self.open_gap(gap)

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
                continue
            self.filled += 1
            GAPS.labels("filled").inc()
            log.info("gap %s %s %d-%d filled (%d events)", *_label(gap), count)
            self.open.settled(gap)
            await self._events.publish(gap, GapState.FILLED)

    async def _fill(self, gap: Gap) -> int:
        delay = self._first_retry_s
        first = gap.first_id

        def advance(count: int) -> None:
            nonlocal first
            first += count  # a retry after an outage starts where the last page ended

        attempt = 0
        while True:
            attempt += 1
            try:
                return await fill_range(
                    self._rest,
                    self._series,
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


def _label(gap: Gap) -> tuple[str, str, int, int]:
    return gap.key.symbol, gap.key.kind, gap.first_id, gap.last_id
