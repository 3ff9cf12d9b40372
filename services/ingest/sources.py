"""Where raw Binance messages come from: the live exchange, a recorded file, or the demo.

Every source yields :class:`RawMessage` text, which the pipeline puts through the same parser.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Protocol, TypeVar

from services.common.events import Event
from services.common.trades import Trade
from services.ingest.binance import parse_message, stream_names
from services.ingest.connections import ConnectionPool, ConnectionSettings
from services.ingest.recordings import detect_recording_layout, read_recording

log = logging.getLogger(__name__)

DEMO_CAPTURE = "binance_spot_btcusdt_2024-08-08.sample.jsonl"

EventT = TypeVar("EventT", bound=Event)


@dataclass(frozen=True, slots=True)
class RawMessage:
    text: str
    received_time_us: int
    # Which pass over a looping recording this is (0 for everything else).
    pass_index: int = 0
    # Its line in the recording, from 1 (0 for everything else).
    line: int = 0


class Source(Protocol):
    """What the pipeline needs from a source of raw messages."""

    description: str
    symbols: tuple[str, ...]
    finished: bool

    @property
    def connected(self) -> bool: ...

    @property
    def connections_opened(self) -> int: ...

    def messages(self) -> AsyncIterator[RawMessage]: ...

    def adjust(self, event: EventT, message: RawMessage) -> EventT: ...


def _now_us() -> int:
    return time.time_ns() // 1000


class BinanceLiveSource:
    """Binance's combined-stream WebSockets, kept within the exchange's connection rules by a
    :class:`~services.ingest.connections.ConnectionPool` (sharding, pacing, reconnect budget,
    rotation, stall watchdog); streams can be added and dropped while it runs.

    Binance replays nothing after a reconnect: trades sent while disconnected are missing
    until a REST backfill fills the gap (trade ids are consecutive, so gaps are provable).
    A source that never connected says so (the exchange is unreachable, not flaky), and the
    last error and the time since the connection was lost are kept for ``status``.
    """

    def __init__(
        self, base_url: str, streams: Iterable[str], settings: ConnectionSettings | None = None
    ) -> None:
        self.pool = ConnectionPool(base_url, streams, settings)
        self.base_url = self.pool.base_url
        self.description = "binance"
        self.finished = False
        self.symbols = symbols_of(self.pool.streams)

    @property
    def streams(self) -> list[str]:
        return self.pool.streams

    @property
    def connected(self) -> bool:
        return self.pool.connected

    @property
    def connections_opened(self) -> int:
        return self.pool.connections_opened

    @property
    def last_error(self) -> str:
        return self.pool.last_error

    @property
    def disconnected_for_s(self) -> float:
        """Seconds without a connection (since start if never connected); 0 if connected."""
        return self.pool.disconnected_for_s

    async def subscribe(self, streams: Iterable[str]) -> None:
        await self.pool.subscribe(streams)
        self.symbols = symbols_of(self.pool.streams)

    async def unsubscribe(self, streams: Iterable[str]) -> None:
        await self.pool.unsubscribe(streams)
        self.symbols = symbols_of(self.pool.streams)

    async def messages(self) -> AsyncIterator[RawMessage]:
        async for text, received_us in self.pool.messages():
            yield RawMessage(text, received_us)

    def adjust(self, event: EventT, message: RawMessage) -> EventT:
        return event


def symbols_of(streams: Iterable[str]) -> tuple[str, ...]:
    """The upper-case symbols that stream names (``btcusdt@trade`` …) are about, sorted."""
    return tuple(sorted({stream.split("@", 1)[0].upper() for stream in streams}))


class ReplaySource:
    """A recorded file, as fast as possible (speed 0) or at ``speed`` × recorded pace."""

    def __init__(
        self,
        path: Path,
        speed: float = 0.0,
        loop: bool = False,
        description: str | None = None,
        venue: str | None = None,
    ) -> None:
        if not path.is_file():
            raise FileNotFoundError(f"replay file {path} does not exist")
        detect_recording_layout(path)  # an unknown layout fails here, before any replay
        self.path = path
        self.speed = speed
        self.loop = loop
        # The market the capture was recorded on, when its user says so; None lets each
        # message's own fields tell (see services.ingest.venues).
        self.venue = venue
        self.symbols: tuple[str, ...] = ()
        self.description = description or f"replay:{path}"
        self.connected = False
        self.finished = False
        self.connections_opened = 0
        self._start = (0, 0)

    def continue_after(self, pass_index: int, line: int) -> None:
        """Start at pass ``pass_index``, after its first ``line`` lines (already on the bus)."""
        self._start = (pass_index, line)
        log.info("replay of %s resumes after pass %d line %d", self.path, pass_index, line)

    async def messages(self) -> AsyncIterator[RawMessage]:
        self.connected = True
        self.connections_opened += 1
        pass_index = self._start[0]
        try:
            while True:
                async for message in self._one_pass(pass_index):
                    yield message
                if not self.loop:
                    break
                pass_index += 1
        finally:
            self.connected = False
        self.finished = True
        log.info("replay of %s finished", self.path)

    async def _one_pass(self, pass_index: int) -> AsyncIterator[RawMessage]:
        first_recorded: int | None = None
        started = time.monotonic()
        done = self._start[1] if pass_index == self._start[0] else 0
        for count, recorded in enumerate(read_recording(self.path)):
            if count < done:
                continue
            # clock_ns searches the text for its event time: only a paced replay needs it.
            recorded_ns = recorded.clock_ns if self.speed > 0 else None
            if recorded_ns is not None:
                if first_recorded is None:
                    first_recorded = recorded_ns
                due = started + (recorded_ns - first_recorded) / 1e9 / self.speed
                delay = due - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
            elif count % 512 == 0:
                await asyncio.sleep(0)  # let publishing and RPCs run during a fast replay
            yield RawMessage(recorded.text, _now_us(), pass_index, count + 1)

    def adjust(self, event: EventT, message: RawMessage) -> EventT:
        return event if self.venue is None else dataclasses.replace(event, venue=self.venue)


@dataclass(frozen=True, slots=True)
class TradePoint:
    """Where a symbol's trade series stands: a trade id and that trade's time."""

    trade_id: int
    time_ms: int


@dataclass(frozen=True, slots=True)
class Shift:
    """How far the demo moves a captured trade: ids up, times forward."""

    trade_ids: int
    time_ms: int


NO_SHIFT = Shift(0, 0)


def demo_resume_shift(first: TradePoint, known: tuple[TradePoint, ...]) -> Shift:
    """The shift that makes a capture starting at ``first`` continue after what is known.

    ``known`` is what the system already holds for the symbol (the stored latest trade, the
    bus's last one), empty on a fresh start. The first trade then gets the id after the
    highest known id, and the time ``max(latest known time + 1 ms, its recorded time)``:
    ids never repeat, times never run backwards, and they run ahead of the recording only as
    far as the known series already had.
    """
    if not known:
        return NO_SHIFT
    highest_id = max(point.trade_id for point in known)
    latest_ms = max(point.time_ms for point in known)
    return Shift(max(0, highest_id + 1 - first.trade_id), max(0, latest_ms + 1 - first.time_ms))


class DemoSource(ReplaySource):
    """The bundled real capture, looped at recorded pace.

    Each pass moves trade ids and times forward by the capture's span, so the store keeps
    growing without gaps or duplicates, as a live feed would; :meth:`resume_after` moves the
    whole series past what an earlier run left behind.
    """

    def __init__(self, speed: float = 1.0) -> None:
        capture = resources.files("services.ingest") / "demo" / DEMO_CAPTURE
        path = Path(str(capture))
        super().__init__(path, speed=speed or 1.0, loop=True, description="demo")
        self._firsts, self._spans = self._measure(path)
        self._resume: dict[str, Shift] = {}

    @staticmethod
    def _measure(path: Path) -> tuple[dict[str, TradePoint], dict[str, Shift]]:
        low: dict[str, tuple[int, int]] = {}
        high: dict[str, tuple[int, int]] = {}
        recorded: list[int] = []
        for line in read_recording(path):
            recorded += [line.clock_ns] if line.clock_ns is not None else []
            verdict = parse_message(line.text)
            if isinstance(verdict, Trade):
                key = verdict.symbol
                point = (verdict.trade_id, verdict.trade_time_ms)
                low[key] = min(low.get(key, point), point)
                high[key] = max(high.get(key, point), point)
        # A pass plays for as long as the recording lasts: moving times by that much keeps
        # the demo's clock at ``speed`` × wall-clock; past the last trade, so passes never
        # overlap.
        pass_ms = (max(recorded) - min(recorded)) // 1_000_000 if recorded else 0
        firsts = {symbol: TradePoint(*low[symbol]) for symbol in low}
        spans = {
            symbol: Shift(
                high[symbol][0] - low[symbol][0] + 1,
                max(pass_ms, high[symbol][1] - low[symbol][1] + 1),
            )
            for symbol in low
        }
        return firsts, spans

    @property
    def capture_symbols(self) -> tuple[str, ...]:
        """The symbols whose trades the capture holds."""
        return tuple(self._firsts)

    def resume_after(self, known: dict[str, tuple[TradePoint, ...]]) -> None:
        """Continue each symbol's series after what the system already holds for it."""
        self._resume = {
            symbol: demo_resume_shift(first, known.get(symbol, ()))
            for symbol, first in self._firsts.items()
        }

    def adjust(self, event: EventT, message: RawMessage) -> EventT:
        # Only trades are moved: the capture's book tickers repeat each pass, and their
        # message ids make JetStream drop the repeats.
        span = self._spans.get(event.symbol)
        if span is None or not isinstance(event, Trade):
            return event
        trade = event
        resume = self._resume.get(trade.symbol, NO_SHIFT)
        id_shift = resume.trade_ids + span.trade_ids * message.pass_index
        shift_ms = resume.time_ms + span.time_ms * message.pass_index
        if id_shift == 0 and shift_ms == 0:
            return trade
        return dataclasses.replace(
            trade,
            trade_id=trade.trade_id + id_shift,
            trade_time_ms=trade.trade_time_ms + shift_ms,
            event_time_ms=trade.event_time_ms + shift_ms,
        )


def source_from_settings(
    source: str,
    *,
    base_url: str,
    symbols: tuple[str, ...],
    speed: float,
    loop: bool,
    venue: str | None = None,
    connections: ConnectionSettings | None = None,
    streams: tuple[str, ...] = ("trade",),
) -> Source:
    """``binance`` | ``demo`` | ``replay:<path>`` → the source object. ``venue`` forces a
    replay's market; the live source and the demo are Binance spot. ``streams`` are the
    Binance stream kinds the live source subscribes to for every symbol."""
    if source == "binance":
        return BinanceLiveSource(base_url, stream_names(symbols, streams), connections)
    if source == "demo":
        return DemoSource(speed or 1.0)
    path = Path(source.removeprefix("replay:"))
    return ReplaySource(path, speed=speed, loop=loop, venue=venue)
