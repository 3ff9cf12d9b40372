"""Publishing market events to JetStream with their exchange identity as ``Nats-Msg-Id``.

Every event (any kind: each knows its subject and message id) handed to
:meth:`EventPublisher.publish` stays queued until JetStream acknowledges it or refuses it
for good (then it is dead-lettered). A flush settles the queue from its head and removes an
event only once it is settled, so a flush cancelled half-way leaves the rest, ack futures
intact, for the next flush: nothing is dropped unconfirmed.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass

from nats.aio.client import Client as NatsClient
from nats.errors import BadSubjectError, MaxPayloadError
from nats.errors import Error as NatsError
from nats.js.errors import APIError
from prometheus_client import Counter

from services.common.codec import encode_event
from services.common.deadletter import DeadLetterPublisher
from services.common.events import Event

log = logging.getLogger(__name__)

_ACK_TIMEOUT_S = 5.0
_FIRST_RETRY_S = 0.2
_LAST_RETRY_S = 5.0
# A dead letter keeps the start of a refused event: the whole may be what was too big.
_DEAD_LETTER_SAMPLE_BYTES = 64 * 1024

PUBLISHED = Counter(
    "quantflow_ingest_events_published", "Events acknowledged by JetStream, by kind", ["kind"]
)
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


@dataclass(slots=True)
class _Queued:
    event: Event
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
    ) -> None:
        self._nc = nc
        self._js = nc.jetstream()
        self._namespace = namespace
        self._dead_letters = dead_letters
        self._window = window
        self._queue: deque[_Queued] = deque()
        self._flushing = asyncio.Lock()
        self.published = 0
        self.dead_lettered = 0

    def _headers(self, event: Event) -> dict[str, str]:
        return {"Nats-Msg-Id": event.msg_id()}

    def _subject(self, event: Event) -> str:
        return event.subject(self._namespace)

    def _too_big(self, event: Event, payload: bytes) -> bool:
        # Checked here, not left to nats-py: its publish_async raises after taking a
        # pending-ack slot it never gives back, and the server counts the headers too.
        headers = sum(len(k) + len(v) + 4 for k, v in self._headers(event).items()) + 12
        max_payload: int = self._nc.max_payload
        return len(payload) + headers > max_payload

    async def publish(self, event: Event) -> None:
        payload = encode_event(event)
        if self._too_big(event, payload):
            await self._refuse(event, MaxPayloadError())
            return
        ack: asyncio.Future[object] | None = None
        due = asyncio.get_running_loop().time() + _ACK_TIMEOUT_S
        try:
            ack = await self._js.publish_async(
                self._subject(event), payload, headers=self._headers(event)
            )
        except asyncio.CancelledError:
            self._queue.append(_Queued(event, None, due))  # stopped mid-send: a flush resends
            raise
        except (TimeoutError, NatsError) as error:
            if is_permanent(error):
                await self._refuse(event, error)
                return
            log.warning("async publish failed (%s); the next flush resends it", error)
        self._queue.append(_Queued(event, ack, due))
        if len(self._queue) >= self._window:
            await self.flush()

    async def flush(self) -> None:
        """Wait until every event published so far is acknowledged or dead-lettered,
        resending (for as long as it takes) what JetStream did not acknowledge.

        Flushes take turns, so one that returns has also seen the end of any flush
        already under way (the periodic flusher's, say)."""
        async with self._flushing:
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
            unconfirmed = [queued.event for queued in self._queue]
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
                self._acked(queued.event)
                return
            if is_permanent(error):
                await self._refuse(queued.event, error)
                return
            log.warning("no ack for %s (%s); resending", _label(queued.event), error)
            queued.ack = None
        await self._resend(queued.event)

    async def _resend(self, event: Event) -> None:
        delay = _FIRST_RETRY_S
        while True:
            try:
                await self._js.publish(
                    self._subject(event),
                    encode_event(event),
                    headers=self._headers(event),
                    timeout=_ACK_TIMEOUT_S,
                )
            except (TimeoutError, NatsError) as error:
                if is_permanent(error):
                    await self._refuse(event, error)
                    return
                log.warning(
                    "publish of %s failed (%s); retrying in %.1fs", _label(event), error, delay
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, _LAST_RETRY_S)
                continue
            self._acked(event)
            return

    def _acked(self, event: Event) -> None:
        self.published += 1
        PUBLISHED.labels(event.kind).inc()

    async def _refuse(self, event: Event, error: BaseException) -> None:
        payload = encode_event(event)
        reason = (
            f"publish failed permanently: {error} ({len(payload)} bytes encoded, "
            f"server max payload {self._nc.max_payload})"
        )
        log.error("dead-lettering %s: %s", _label(event), reason)
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


def _label(event: Event) -> str:
    return event.msg_id()
