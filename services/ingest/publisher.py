"""Publishing market events to JetStream with their exchange identity as ``Nats-Msg-Id``.

Every event (any kind: each knows its subject and message id) handed to
:meth:`EventPublisher.publish` stays queued until JetStream acknowledges it or refuses it
for good (then it is dead-lettered). A flush settles the queue from its head and removes an
event only once it is settled, so a flush cancelled half-way leaves the rest, ack futures
intact, for the next flush: nothing is dropped unconfirmed.

Runs of trades, aggregate trades and book tickers of one symbol go out several to a message
(a ``market.v1.EventBatch``, see :mod:`services.common.codec`): one event per message caps
JetStream's publish and fetch + ack near 11–18k messages/s on two cores, while 200 a
message move over a million events/s (bench/README.md). A batch is sent when it is full, when
the next event does not continue its run, or at the latest :data:`LINGER_S` after it opened
(:meth:`EventPublisher.send_due`, which the ingest loop calls), so batching adds a bounded
delay. A batch of one goes out as the bare event, with the event's own message id.
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import logging
import operator
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from nats.aio.client import Client as NatsClient
from nats.errors import BadSubjectError, MaxPayloadError
from nats.errors import Error as NatsError
from nats.js.errors import APIError
from prometheus_client import Counter

from services.common import names
from services.common.codec import BATCH_HEADER, encode_batch, encode_event
from services.common.deadletter import DeadLetterPublisher
from services.common.events import AggTrade, BookTicker, Event
from services.common.trades import Trade
from services.ingest.seen_ids import SeenIds

log = logging.getLogger(__name__)

_ACK_TIMEOUT_S = 5.0
_FIRST_RETRY_S = 0.2
_LAST_RETRY_S = 5.0
# A dead letter keeps the start of a refused event: the whole may be what was too big.
_DEAD_LETTER_SAMPLE_BYTES = 64 * 1024

# Events per bus message at most, and how long a batch may wait for more (bench/README.md).
BATCH_EVENTS = 200
LINGER_S = 0.02

PUBLISHED = Counter(
    "quantflow_ingest_events_published", "Events acknowledged by JetStream, by kind", ["kind"]
)
_published = functools.cache(PUBLISHED.labels)
REFUSED = Counter(
    "quantflow_ingest_events_refused", "Events JetStream refused for good, dead-lettered"
)


def is_permanent(error: BaseException) -> bool:
    """True for a publish error the same event would meet on every retry.

    Too big and bad subjects never pass; a JetStream API error below 500 is the stream
    rejecting this message. Timeouts, no responders (no stream, or JetStream restarting),
    5xx answers and connection trouble may pass later, so they are retried.
    """
    if isinstance(error, MaxPayloadError | BadSubjectError):
        return True
    if isinstance(error, APIError):
        return error.code is not None and error.code < 500
    return False


def describe_ids(events: Iterable[Event]) -> str:
    """``binance:BTCUSDT 101-140, 150; binance:BTCUSDT:aggtrade 7``: each series' ids (trade
    ids, agg ids, open times …) as consecutive runs."""
    by_symbol: dict[str, list[int]] = {}
    for event in events:
        series, number = event.sequence()
        by_symbol.setdefault(series, []).append(number)
    parts = []
    for symbol, ids in by_symbol.items():
        runs = []
        ordered = sorted(set(ids))
        for _, run in itertools.groupby(enumerate(ordered), lambda pair: pair[1] - pair[0]):
            first, *rest = [number for _, number in run]
            runs.append(f"{first}-{rest[-1]}" if rest else str(first))
        parts.append(f"{symbol} {', '.join(runs)}")
    return "; ".join(parts)


_CONSECUTIVE_KINDS = frozenset({names.TRADE, names.AGGTRADE})


def _continues(kind: str, last: int, following: int) -> bool:
    """Whether an event numbered ``following`` may join a batch ending at ``last``.

    Trade and aggregate trade ids are consecutive, and a batch of them is one unbroken
    run, so its id (first and last) names exactly the events it holds: a resend or a replay
    with the same boundaries is dropped by JetStream, and one with other boundaries only
    overlaps (storage's keys make that harmless). Book ticker update ids only increase.
    """
    if kind in _CONSECUTIVE_KINDS:
        return following == last + 1
    return following > last


# Kinds sent in batches: the high-rate series with one id per event. Klines (updates of an
# open candle share their open time) and tickers (one a second) stay one per message.
_BATCHED_KINDS = frozenset({names.TRADE, names.AGGTRADE, names.BOOK})
# Each batched kind's id (what Event.sequence() gives, without building its series name).
_NUMBERS: dict[type[Event], Callable[[Any], int]] = {
    Trade: operator.attrgetter("trade_id"),
    AggTrade: operator.attrgetter("agg_id"),
    BookTicker: operator.attrgetter("update_id"),
}


@dataclass(slots=True)
class _Open:
    """A batch still taking events: consecutive events of one subject."""

    events: list[Event]
    opened: float


@dataclass(slots=True)
class _Queued:
    # One bus message: a single event, or a batch of a subject's events.
    events: list[Event]
    # The ack of the asynchronous send; None when that send failed and a flush must resend.
    ack: asyncio.Future[object] | None
    # When the ack is due (loop time): counted from the send, so after an outage the acks
    # lost with it time out together instead of one after another.
    due: float


class EventPublisher:
    """Publishes asynchronously in windows; an event whose ack does not come is sent again
    (the msg id makes a resend harmless) until JetStream acknowledges it, and one JetStream
    refuses for good goes to the dead letters instead of being retried for ever."""

    def __init__(
        self,
        nc: NatsClient,
        namespace: str,
        dead_letters: DeadLetterPublisher,
        window: int = 512,
        batch_events: int = BATCH_EVENTS,
    ) -> None:
        self._nc = nc
        self._js = nc.jetstream()
        self._namespace = namespace
        self._dead_letters = dead_letters
        self._window = window
        self._batch_events = batch_events
        # By (venue, kind, symbol), which is the subject without building it per event.
        self._open: dict[tuple[str, str, str], _Open] = {}
        self._queue: deque[_Queued] = deque()
        self._flushing = asyncio.Lock()
        self._seen = SeenIds()
        self.published = 0
        # Trades and aggregate trades dropped as repeats of ones published before.
        self.repeats_dropped = 0
        self.dead_lettered = 0

    def _headers(self, events: list[Event]) -> dict[str, str]:
        if len(events) == 1:
            return {"Nats-Msg-Id": events[0].msg_id()}
        first, last = events[0], events[-1]
        msg_id = names.batch_msg_id(
            first.venue, first.symbol, first.kind, first.sequence()[1], last.sequence()[1]
        )
        return {"Nats-Msg-Id": msg_id, BATCH_HEADER: str(len(events))}

    def _subject(self, events: list[Event]) -> str:
        return events[0].subject(self._namespace)

    def _payload(self, events: list[Event]) -> bytes:
        return encode_event(events[0]) if len(events) == 1 else encode_batch(events)

    def _too_big(self, payload: bytes, headers: dict[str, str]) -> bool:
        # Checked here, not left to nats-py: its publish_async raises after taking a
        # pending-ack slot it never gives back, and the server counts the headers too.
        size = sum(len(k) + len(v) + 4 for k, v in headers.items()) + 12
        max_payload: int = self._nc.max_payload
        return len(payload) + size > max_payload

    async def publish(self, event: Event) -> None:
        """Queue ``event``: sent at once (klines, tickers) or in its subject's batch."""
        # The open batches change only between awaits, so a publish running beside
        # this one (a gap backfill's) never finds one half-updated.
        ready: list[list[Event]] = []
        if event.kind not in _BATCHED_KINDS:
            ready.append([event])
        else:
            subject = (event.venue, event.kind, event.symbol)
            number = _NUMBERS[type(event)](event)
            if event.kind in _CONSECUTIVE_KINDS and not self._seen.add(subject, number):
                self.repeats_dropped += 1  # an overlap JetStream's dedupe would not see
                return
            batch = self._open.get(subject)
            if batch is not None and not _continues(
                event.kind, _NUMBERS[type(event)](batch.events[-1]), number
            ):
                ready.append(self._open.pop(subject).events)
                batch = None
            if batch is None:
                batch = self._open[subject] = _Open([], asyncio.get_running_loop().time())
            batch.events.append(event)
            if len(batch.events) >= self._batch_events:
                ready.append(self._open.pop(subject).events)
        for index, events in enumerate(ready):
            try:
                await self._send(events)
            except asyncio.CancelledError:  # stopped mid-send: a flush resends the rest
                due = asyncio.get_running_loop().time() + _ACK_TIMEOUT_S
                self._queue.extend(_Queued(rest, None, due) for rest in ready[index + 1 :])
                raise
        if len(self._queue) >= self._window:
            await self.flush()

    async def send_due(self) -> None:
        """Send the batches that have waited :data:`LINGER_S` or longer."""
        if not self._open:
            return
        due = asyncio.get_running_loop().time() - LINGER_S
        # Batches open in order, so the first is the oldest: most calls stop here.
        if next(iter(self._open.values())).opened > due:
            return
        for subject, batch in list(self._open.items()):
            if batch.opened <= due and self._open.get(subject) is batch:
                del self._open[subject]
                await self._send(batch.events)

    async def _send_open(self) -> None:
        while self._open:
            subject = next(iter(self._open))
            await self._send(self._open.pop(subject).events)

    async def _send(self, events: list[Event]) -> None:
        payload = self._payload(events)
        headers = self._headers(events)
        if self._too_big(payload, headers):
            if len(events) > 1:  # each on its own: only the one too big is refused
                for event in events:
                    await self._send([event])
                return
            await self._refuse(events[0], MaxPayloadError())
            return
        ack: asyncio.Future[object] | None = None
        due = asyncio.get_running_loop().time() + _ACK_TIMEOUT_S
        try:
            ack = await self._js.publish_async(self._subject(events), payload, headers=headers)
        except asyncio.CancelledError:
            self._queue.append(_Queued(events, None, due))  # stopped mid-send: a flush resends
            raise
        except (TimeoutError, NatsError) as error:
            if is_permanent(error):
                await self._refuse_all(events, error)
                return
            log.warning("async publish failed (%s); the next flush resends it", error)
        self._queue.append(_Queued(events, ack, due))

    async def flush(self) -> None:
        """Wait until every event published so far is acknowledged or dead-lettered,
        resending (for as long as it takes) what JetStream did not acknowledge.

        Flushes take turns, so one that returns has also seen the end of any flush
        already under way (the periodic flusher's, say)."""
        async with self._flushing:
            await self._send_open()
            while self._queue:
                await self._settle(self._queue[0])
                self._queue.popleft()

    async def close(self, timeout_s: float) -> list[Event]:
        """The last flush of a clean stop: as :meth:`flush`, but for at most ``timeout_s``.

        Returns the events still unconfirmed at the deadline, after logging their ids: the
        bus may or may not hold them, and a live feed will not send them again."""
        try:
            async with asyncio.timeout(timeout_s):
                await self.flush()
        except TimeoutError:
            unconfirmed = [event for queued in self._queue for event in queued.events]
            unconfirmed += [event for batch in self._open.values() for event in batch.events]
            log.error(
                "stopping with %d events not confirmed by JetStream in %.0fs, maybe lost: %s",
                len(unconfirmed),
                timeout_s,
                describe_ids(unconfirmed),
            )
            return unconfirmed
        return []

    async def _settle(self, queued: _Queued) -> None:
        if queued.ack is not None:
            error = await _ack_error(queued.ack, queued.due)
            if error is None:
                self._acked(queued.events)
                return
            if is_permanent(error):
                await self._refuse_all(queued.events, error)
                return
            log.warning("no ack for %s (%s); resending", _label(queued.events), error)
            queued.ack = None
        await self._resend(queued.events)

    async def _resend(self, events: list[Event]) -> None:
        delay = _FIRST_RETRY_S
        while True:
            try:
                await self._js.publish(
                    self._subject(events),
                    self._payload(events),
                    headers=self._headers(events),
                    timeout=_ACK_TIMEOUT_S,
                )
            except (TimeoutError, NatsError) as error:
                if is_permanent(error):
                    await self._refuse_all(events, error)
                    return
                log.warning(
                    "publish of %s failed (%s); retrying in %.1fs", _label(events), error, delay
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, _LAST_RETRY_S)
                continue
            self._acked(events)
            return

    def _acked(self, events: list[Event]) -> None:
        self.published += len(events)
        # A message's events are of one kind.
        _published(events[0].kind).inc(len(events))

    async def _refuse_all(self, events: list[Event], error: BaseException) -> None:
        """JetStream refused a message for good: a batch is tried event by event, so only
        an event refused on its own is dead-lettered."""
        if len(events) == 1:
            await self._refuse(events[0], error)
            return
        log.warning(
            "JetStream refused %s (%s); sending its events one by one", _label(events), error
        )
        for event in events:
            await self._resend([event])

    async def _refuse(self, event: Event, error: BaseException) -> None:
        payload = encode_event(event)
        reason = (
            f"publish failed permanently: {error} ({len(payload)} bytes encoded, "
            f"server max payload {self._nc.max_payload})"
        )
        log.error("dead-lettering %s: %s", event.msg_id(), reason)
        await self._dead_letters.publish(
            payload[:_DEAD_LETTER_SAMPLE_BYTES], reason, event.received_time_us
        )
        self.dead_lettered += 1
        REFUSED.inc()


async def _ack_error(ack: asyncio.Future[object], due: float) -> BaseException | None:
    """None once JetStream has acknowledged; otherwise why it has not."""
    # asyncio.wait never cancels what it waits for: a cancelled flush leaves the ack
    # pending for the next flush to collect.
    wait_s = max(0.0, due - asyncio.get_running_loop().time())
    done, _ = await asyncio.wait({ack}, timeout=wait_s)
    if not done:
        ack.cancel()  # frees nats-py's pending slot; a resend replaces this send
        return TimeoutError(f"no ack within {_ACK_TIMEOUT_S:.0f}s")
    return ack.exception()


def _label(events: list[Event]) -> str:
    return events[0].msg_id() if len(events) == 1 else describe_ids(events)
