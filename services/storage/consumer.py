"""JetStream → PostgreSQL: a durable pull consumer that acks only what is committed.

One durable consumer reads every market event (``market.>``) and sorts each fetched batch
by kind, each kind written to its own table (see :mod:`services.storage.tables`). One
consumer rather than one per kind: the bundled nats-server (2.9) filters a consumer by one
subject only, and ``kline_<interval>`` kinds share no wildcard token, so per-kind consumers
would mean one per interval; a single fetch loop also pays its per-batch cost once for all
kinds. In-progress klines and mini tickers are live only: acked, not stored. Gap events
(``market.<venue>.gap.<SYMBOL>``) share the stream: the exchange holes they report are
stored (known outages, for coverage), the rest acked. Every committed trade batch moves
the in-memory latest prices forward (:mod:`services.storage.price_cache`).

A message holds one event or a batch of one subject's events (``market.v1.EventBatch``):
each event is decoded, validated and stored on its own, and the message is acked once
every event of it is committed or dead-lettered. If any is not (the database is away),
the whole message is redelivered later; its events already stored are then harmless
duplicates, dropped by the tables' keys. Acks stay explicit, one per message: with a
hundred events a message they cost little, and an ``AckAll`` policy would also ack
messages another storage worker on the same durable has not committed yet.

Failures are sorted. Data errors (an event that does not decode or validate, or that
PostgreSQL rejects as data) are dead-lettered, and acked only once the dead letter is stored:
retrying them would fail for ever. Anything else (database or bus unavailable, timeouts) is
nak'd and retried with exponential backoff, since it passes by itself. A dead letter is named
(``Nats-Msg-Id``) by its event's place on the stream, so a message redelivered because other
events of it were not stored dead-letters its poison again without JetStream keeping it twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass

import asyncpg
import nats.errors
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import NotFoundError
from prometheus_client import Counter, Histogram

from services.common import names
from services.common.codec import InvalidEvent, decode_message, encode_event
from services.common.deadletter import DeadLetterPublisher, Kept
from services.common.events import Event
from services.common.trades import Trade
from services.storage import tables
from services.storage.coverage import ExchangeHole
from services.storage.database_errors import DATABASE_UNAVAILABLE_ERRORS
from services.storage.gap_events import decode_exchange_hole
from services.storage.price_cache import LatestPriceCache
from services.storage.repository import TradeRepository
from services.storage.tables import Table

log = logging.getLogger(__name__)

WRITTEN = Counter(
    "quantflow_storage_rows_written", "New rows committed to PostgreSQL, by table", ["table"]
)
RECEIVED = Counter("quantflow_storage_events_received", "Market events read from JetStream")
POISON = Counter("quantflow_storage_dead_lettered", "Invalid or rejected events dead-lettered")
BATCH_SECONDS = Histogram("quantflow_storage_batch_seconds", "Time to commit one batch")

_FETCH_TIMEOUT_S = 0.5
_RETRY_DELAY_S = 1.0
_MAX_RETRY_DELAY_S = 30.0

# PostgreSQL refusing the rows themselves (SQLSTATE classes 22 and 23: out of range,
# overflow, CHECK violations; asyncpg also raises DataError for values it cannot encode).
# Building a row can fail the same way in Python. Redelivery would fail again.
_DATA_ERRORS = (
    asyncpg.DataError,
    asyncpg.IntegrityConstraintViolationError,
    ValueError,
    ArithmeticError,
)
# The database is away, restarting, slow or dropped the connection mid-batch; or another
# server-side failure that is not about the rows (a deadlock, a cancelled statement): the
# same batch, not acked, will succeed later on a fresh connection.
_RETRYABLE_ERRORS = (*DATABASE_UNAVAILABLE_ERRORS, asyncpg.PostgresError)


class MarketConsumer:
    def __init__(
        self,
        js: JetStreamContext,
        repository: TradeRepository,
        namespace: str,
        dead_letters: DeadLetterPublisher,
        batch_size: int,
        ack_wait_s: float = 30.0,
        prices: LatestPriceCache | None = None,
    ) -> None:
        self._js = js
        self._prices = prices
        self._repository = repository
        self._namespace = namespace
        self._dead_letters = dead_letters
        self._batch_size = batch_size
        self._ack_wait_s = ack_wait_s
        # Rows each table gained (or, for latest-per-symbol tables, moved forward).
        self.written = {table.name: 0 for table in tables.ALL}
        self.events_dead_lettered = 0
        self._retry_delay_s = _RETRY_DELAY_S
        self._stop = asyncio.Event()

    @property
    def trades_written(self) -> int:
        return self.written[tables.TRADES.name]

    async def run(self, stop: asyncio.Event) -> None:
        self._stop = stop
        stream = names.market_stream(self._namespace)
        with contextlib.suppress(NotFoundError):  # the trades-only durable of earlier versions
            await self._js.delete_consumer(stream, names.storage_trades_durable(self._namespace))
        subscription = await self._js.pull_subscribe(
            names.market_subjects(self._namespace)[0],
            durable=names.storage_market_durable(self._namespace),
            stream=names.market_stream(self._namespace),
            config=ConsumerConfig(
                ack_policy=AckPolicy.EXPLICIT,
                deliver_policy=DeliverPolicy.ALL,
                ack_wait=self._ack_wait_s,
                max_ack_pending=self._batch_size * 4,
            ),
        )
        # The previous fetch's commit, running while the next fetch is read and decoded, so
        # PostgreSQL and this process work at the same time; commits stay one at a time.
        committing: asyncio.Task[None] | None = None
        try:
            while not stop.is_set():
                try:
                    messages = await subscription.fetch(self._batch_size, timeout=_FETCH_TIMEOUT_S)
                except TimeoutError:
                    # Nothing to read. nats-py raises its own TimeoutError or asyncio's,
                    # depending on where the fetch gave up; both subclass the built-in.
                    continue
                except nats.errors.Error as error:
                    # A reconnecting bus is a pause, not a reason to die.
                    log.warning("fetch failed (%s); retrying", error)
                    await asyncio.sleep(_RETRY_DELAY_S)
                    continue
                deliveries, batches = await self._decode(messages)
                if committing is not None:
                    await committing
                committing = asyncio.create_task(self._commit(deliveries, batches))
            if committing is not None:
                await committing
        finally:
            if committing is not None and not committing.done():
                committing.cancel()  # uncommitted, unacked: JetStream delivers it again
                with contextlib.suppress(asyncio.CancelledError):
                    await committing
            # Draining the connection waits on this subscription's queue forever unless it
            # is gone first; the durable consumer itself stays on the server.
            await subscription.unsubscribe()

    async def _decode(self, messages: list[Msg]) -> tuple[list[_Delivery], _Batches]:
        """Each message's events sorted by table; bad ones dead-lettered on the way."""
        deliveries = [_Delivery(message) for message in messages]
        batches: _Batches = {}
        for delivery in deliveries:
            message = delivery.message
            try:
                kind = names.subject_kind(message.subject, self._namespace)
                if kind == names.GAP:
                    delivery.hole = decode_exchange_hole(message.data)
                    continue
                decoded = decode_message(kind, message.data, message.headers)
            except ValueError as error:
                await self._dead_letter(delivery, _WHOLE_MESSAGE, message.data, str(error))
                continue
            RECEIVED.inc(len(decoded))
            for index, event in enumerate(decoded):
                if isinstance(event, InvalidEvent):
                    await self._dead_letter(delivery, index, event.payload, event.reason)
                    continue
                table = tables.table_for(event)
                if table is not None:
                    batches.setdefault(table.name, (table, []))[1].append((delivery, index, event))
        return deliveries, batches

    async def _commit(self, deliveries: list[_Delivery], batches: _Batches) -> None:
        """Store the batches, then ack every message whose events are all committed or
        dead-lettered; the others are redelivered after a pause."""
        for table, batch in batches.values():
            for start in range(0, len(batch), self._batch_size):
                await self._store(table, batch[start : start + self._batch_size])
        await self._store_holes([d for d in deliveries if d.hole is not None])
        retry = [delivery.message for delivery in deliveries if delivery.retry]
        for delivery in deliveries:
            if not delivery.retry:
                await delivery.message.ack()
        if retry:
            await self._back_off(retry)
        else:
            self._retry_delay_s = _RETRY_DELAY_S

    async def _store(self, table: Table, batch: list[_Item]) -> None:
        """Commit the batch; on a data error, split it until the bad rows are alone, so the
        good ones of the same batch are still stored. What is not committed marks its
        message for redelivery."""
        if not batch:
            return
        try:
            with BATCH_SECONDS.time():
                written = await self._repository.write(table, [event for _, _, event in batch])
        except _DATA_ERRORS as error:
            if len(batch) == 1:
                delivery, index, event = batch[0]
                await self._dead_letter(
                    delivery, index, encode_event(event), f"rejected by PostgreSQL: {error}"
                )
                return
            middle = len(batch) // 2
            await self._store(table, batch[:middle])
            await self._store(table, batch[middle:])
            return
        except _RETRYABLE_ERRORS as error:
            # Not committed: JetStream delivers these messages again after a pause.
            log.error(
                "could not store %d %s (%s); retrying in %.0fs",
                len(batch),
                table.name,
                error,
                self._retry_delay_s,
            )
            for delivery, _, _ in batch:
                delivery.retry = True
            return
        WRITTEN.labels(table.name).inc(written)
        self.written[table.name] += written
        if table is tables.TRADES and self._prices is not None:
            self._prices.update([event for _, _, event in batch if isinstance(event, Trade)])

    async def _store_holes(self, deliveries: list[_Delivery]) -> None:
        if not deliveries:
            return
        try:
            await self._repository.record_exchange_holes(
                [d.hole for d in deliveries if d.hole is not None]
            )
        except _RETRYABLE_ERRORS as error:
            log.error("could not store %d exchange holes (%s)", len(deliveries), error)
            for delivery in deliveries:
                delivery.retry = True

    async def _dead_letter(
        self, delivery: _Delivery, index: int, payload: bytes, reason: str
    ) -> None:
        """Keep poison event ``index`` of a message as a dead letter, once however often the
        message is delivered; if that fails, the message is redelivered."""
        message = delivery.message
        log.warning("dead-lettering an event on %s: %s", message.subject, reason)
        metadata = message.metadata
        msg_id = names.deadletter_msg_id(
            metadata.stream,
            metadata.sequence.stream,
            round(metadata.timestamp.timestamp() * 1_000_000),
            index,
        )
        reason = f"{message.subject}: {reason}"
        kept = await self._dead_letters.publish_once(payload, reason, msg_id)
        if kept is Kept.NEW:
            POISON.inc()
            self.events_dead_lettered += 1
        elif kept is Kept.FAILED:
            delivery.retry = True

    async def _back_off(self, messages: list[Msg]) -> None:
        for message in messages:
            await message.nak(delay=self._retry_delay_s)
        with contextlib.suppress(TimeoutError):  # a stop request ends the pause early
            await asyncio.wait_for(self._stop.wait(), self._retry_delay_s)
        self._retry_delay_s = min(self._retry_delay_s * 2, _MAX_RETRY_DELAY_S)


# An event to store: its message, its place in that message, the event.
_Item = tuple["_Delivery", int, Event]
_Batches = dict[str, tuple[Table, list[_Item]]]
# The "index" of a message that could not be decoded at all.
_WHOLE_MESSAGE = -1


@dataclass(slots=True)
class _Delivery:
    """One fetched message; ``retry`` once any of its events is neither committed nor
    dead-lettered, so it must be delivered again rather than acked."""

    message: Msg
    retry: bool = False
    # What a gap event message reports as an exchange hole, to be stored.
    hole: ExchangeHole | None = None
