"""Source → parser → JetStream: the ingest loop, its counters and its metrics."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from dataclasses import dataclass
from typing import Protocol

from prometheus_client import Counter, Gauge

from services.common.deadletter import DeadLetterPublisher
from services.common.events import Event
from services.ingest.binance import Malformed, Skipped, parse_message
from services.ingest.publisher import LINGER_S, EventPublisher
from services.ingest.replay_checkpoint import ReplayPosition
from services.ingest.sources import RawMessage, Source

log = logging.getLogger(__name__)

MESSAGES = Counter(
    "quantflow_ingest_messages", "Raw messages read from the source, by verdict", ["verdict"]
)
# Counted per message: the labelled children looked up once.
_SKIPPED, _MALFORMED, _EVENT = (MESSAGES.labels(v) for v in ("skipped", "malformed", "event"))
CONNECTED = Gauge("quantflow_ingest_connected", "1 while the source is connected")

_FLUSH_INTERVAL_S = 0.1


@dataclass
class IngestStats:
    received: int = 0
    dead_lettered: int = 0
    skipped: int = 0
    malformed: int = 0


class GapObserver(Protocol):
    """Sees every published event (see services.ingest.backfill.GapFiller)."""

    def observe(self, event: Event) -> None: ...


class Checkpoint(Protocol):
    """Records how far a replay is on the bus (see services.ingest.replay_checkpoint)."""

    async def save(self, position: ReplayPosition) -> None: ...


class IngestPipeline:
    def __init__(
        self,
        source: Source,
        events: EventPublisher,
        dead_letters: DeadLetterPublisher,
        gaps: GapObserver | None = None,
        checkpoint: Checkpoint | None = None,
    ) -> None:
        self.source = source
        self.events = events
        self.dead_letters = dead_letters
        self.gaps = gaps
        self.checkpoint = checkpoint
        # The last message fully handed over (published, dead-lettered or skipped).
        self._handled_message: RawMessage | None = None
        self.stats = IngestStats()
        # What the Prometheus counters have been told of ``stats`` so far.
        self._counted = IngestStats()
        self.finished = False
        """True once the source has ended and JetStream acknowledged all it produced."""

    async def run(self) -> None:
        """Read the source until it ends (a replay) or forever (live); publish as we go."""
        flusher = asyncio.create_task(self._flush_periodically())
        sender = asyncio.create_task(self._send_due_periodically())
        # Per message, only plain attribute work: the Prometheus counters and the replay
        # position are brought up to date at every flush (tens of thousands a second).
        stats, publish, adjust, gaps = (
            self.stats,
            self.events.publish,
            self.source.adjust,
            self.gaps,
        )
        try:
            async for message in self.source.messages():
                stats.received += 1
                verdict = parse_message(message.text, message.received_time_us)
                if isinstance(verdict, Skipped):
                    stats.skipped += 1
                elif isinstance(verdict, Malformed):
                    stats.malformed += 1
                    log.warning("dead-lettering a malformed message: %s", verdict.reason)
                    if await self.dead_letters.publish(
                        message.text, verdict.reason, message.received_time_us
                    ):
                        stats.dead_lettered += 1
                else:
                    event = adjust(verdict, message)
                    await publish(event)
                    if gaps is not None:
                        gaps.observe(event)
                self._handled_message = message
            await self._flush()
            self.finished = True
        finally:
            for task in (flusher, sender):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            self._count()

    def _count(self) -> None:
        """Move the message counters' news to Prometheus."""
        stats, counted = self.stats, self._counted
        malformed, skipped = stats.malformed, stats.skipped
        events = stats.received - malformed - skipped
        _MALFORMED.inc(malformed - counted.malformed)
        _SKIPPED.inc(skipped - counted.skipped)
        _EVENT.inc(events - (counted.received - counted.malformed - counted.skipped))
        self._counted = dataclasses.replace(stats)

    async def _flush(self) -> None:
        message = self._handled_message
        self._count()
        await self.events.flush()
        # Everything handed over before the flush began is acknowledged now.
        if self.checkpoint is not None and message is not None and message.line:
            await self.checkpoint.save(ReplayPosition(message.pass_index, message.line))
        CONNECTED.set(1 if self.source.connected else 0)

    async def _send_due_periodically(self) -> None:
        """A batch that no later event completes still leaves within about LINGER_S."""
        while True:
            await asyncio.sleep(LINGER_S / 2)
            await self.events.send_due()

    async def _flush_periodically(self) -> None:
        while True:
            await asyncio.sleep(_FLUSH_INTERVAL_S)
            await self._flush()
