"""JetStream → PostgreSQL: a durable pull consumer that acks only what is committed."""

from __future__ import annotations

import asyncio
import logging

import asyncpg
import nats.errors
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from prometheus_client import Counter, Histogram

from services.common import names
from services.common.deadletter import DeadLetterPublisher
from services.common.trades import Trade, decode_trade
from services.storage.repository import TradeRepository

log = logging.getLogger(__name__)

WRITTEN = Counter("quantflow_storage_trades_written", "New trades committed to PostgreSQL")
RECEIVED = Counter("quantflow_storage_events_received", "Trade events read from JetStream")
POISON = Counter("quantflow_storage_dead_lettered", "Undecodable events dead-lettered")
BATCH_SECONDS = Histogram("quantflow_storage_batch_seconds", "Time to commit one batch")

_FETCH_TIMEOUT_S = 0.5
_RETRY_DELAY_S = 1.0


class TradeConsumer:
    def __init__(
        self,
        js: JetStreamContext,
        repository: TradeRepository,
        namespace: str,
        dead_letters: DeadLetterPublisher,
        batch_size: int,
        ack_wait_s: float = 30.0,
    ) -> None:
        self._js = js
        self._repository = repository
        self._namespace = namespace
        self._dead_letters = dead_letters
        self._batch_size = batch_size
        self._ack_wait_s = ack_wait_s
        self.trades_written = 0

    async def run(self, stop: asyncio.Event) -> None:
        subscription = await self._js.pull_subscribe(
            names.all_trades_subject(self._namespace),
            durable=names.storage_trades_durable(self._namespace),
            stream=names.market_stream(self._namespace),
            config=ConsumerConfig(
                ack_policy=AckPolicy.EXPLICIT,
                deliver_policy=DeliverPolicy.ALL,
                ack_wait=self._ack_wait_s,
                max_ack_pending=self._batch_size * 4,
            ),
        )
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
                await self._handle(messages)
        finally:
            # Draining the connection waits on this subscription's queue forever unless it
            # is gone first; the durable consumer itself stays on the server.
            await subscription.unsubscribe()

    async def _handle(self, messages: list[Msg]) -> None:
        trades: list[Trade] = []
        good: list[Msg] = []
        for message in messages:
            try:
                trades.append(decode_trade(message.data))
                good.append(message)
            except ValueError as error:
                POISON.inc()
                log.warning("dead-lettering an undecodable event on %s: %s", message.subject, error)
                await self._dead_letters.publish(message.data, f"{message.subject}: {error}")
                await message.ack()
        RECEIVED.inc(len(trades))
        try:
            with BATCH_SECONDS.time():
                written = await self._repository.write_trades(trades)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
            # Not committed: let JetStream deliver the batch again after a pause.
            log.error("could not store %d trades (%s); will retry", len(trades), error)
            for message in good:
                await message.nak(delay=_RETRY_DELAY_S)
            await asyncio.sleep(_RETRY_DELAY_S)
            return
        WRITTEN.inc(written)
        self.trades_written += written
        for message in good:
            await message.ack()
