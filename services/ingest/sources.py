"""Where raw Binance messages come from: the live exchange, a recorded file, or the demo.

Every source yields :class:`RawMessage` text, which the pipeline puts through the same parser.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import random
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Protocol

import websockets
from websockets.asyncio.client import connect

from services.common.trades import Trade
from services.ingest.binance import combined_stream_path, parse_message
from services.ingest.recordings import detect_recording_layout, read_recording

log = logging.getLogger(__name__)

DEMO_CAPTURE = "binance_spot_btcusdt_2024-08-08.sample.jsonl"


@dataclass(frozen=True, slots=True)
class RawMessage:
    text: str
    received_time_us: int
    # Which pass over a looping recording this is (0 for everything else).
    pass_index: int = 0


class Source(Protocol):
    """What the pipeline needs from a source of raw messages."""

    description: str
    symbols: tuple[str, ...]
    connected: bool
    finished: bool
    connections_opened: int

    def messages(self) -> AsyncIterator[RawMessage]: ...

    def adjust(self, trade: Trade, message: RawMessage) -> Trade: ...


def _now_us() -> int:
    return time.time_ns() // 1000


class BinanceLiveSource:
    """Binance's combined-stream WebSocket, reconnecting with jittered exponential backoff.

    Binance replays nothing after a reconnect: trades sent while disconnected are missing
    until a REST backfill fills the gap (trade ids are consecutive, so gaps are provable).
    A source that never connected says so (the exchange is unreachable, not flaky), and the
    last error and the time since the connection was lost are kept for ``status``.
    """

    def __init__(self, base_url: str, symbols: tuple[str, ...]) -> None:
        self.base_url = base_url.rstrip("/")
        self.symbols = symbols
        self.description = "binance"
        self.connected = False
        self.finished = False
        self.connections_opened = 0
        self.last_error = ""
        # When the source last lost (or, before it ever connected, began seeking) its
        # connection; None while connected.
        self._down_since: float | None = time.monotonic()

    @property
    def url(self) -> str:
        return self.base_url + combined_stream_path(self.symbols)

    @property
    def disconnected_for_s(self) -> float:
        """Seconds without a connection (since start if never connected); 0 if connected."""
        return 0.0 if self._down_since is None else time.monotonic() - self._down_since

    async def messages(self) -> AsyncIterator[RawMessage]:
        backoff = 0.5
        while True:
            try:
                # Binance pings every 20 s and websockets answers; our own pings detect a
                # dead connection sooner than the exchange would.
                async with connect(
                    self.url, ping_interval=20, ping_timeout=20, max_size=2**22, open_timeout=10
                ) as socket:
                    self.connected = True
                    self.connections_opened += 1
                    self.last_error = ""
                    self._down_since = None
                    log.info("connected to %s", self.url)
                    async for text in socket:
                        backoff = 0.5
                        yield RawMessage(
                            text if isinstance(text, str) else text.decode(), _now_us()
                        )
            except (OSError, websockets.exceptions.WebSocketException, TimeoutError) as error:
                self.last_error = f"{type(error).__name__}: {error}".removesuffix(": ")
                self._log_failure(backoff)
            finally:
                if self.connected:
                    self._down_since = time.monotonic()
                self.connected = False
            await asyncio.sleep(backoff * (0.5 + random.random()))
            backoff = min(backoff * 2, 30.0)

    def _log_failure(self, backoff: float) -> None:
        if self.connections_opened == 0:
            log.warning(
                "cannot reach Binance at %s: %s; offline? try `quantflow up --demo` "
                "(retrying in %.1fs)",
                self.base_url,
                self.last_error,
                backoff,
            )
        else:
            log.warning(
                "Binance connection lost (%s); reconnecting in %.1fs", self.last_error, backoff
            )

    def adjust(self, trade: Trade, message: RawMessage) -> Trade:
        return trade


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

    async def messages(self) -> AsyncIterator[RawMessage]:
        self.connected = True
        self.connections_opened += 1
        pass_index = 0
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
        for count, recorded in enumerate(read_recording(self.path)):
            recorded_ns = recorded.clock_ns
            if self.speed > 0 and recorded_ns is not None:
                if first_recorded is None:
                    first_recorded = recorded_ns
                due = started + (recorded_ns - first_recorded) / 1e9 / self.speed
                delay = due - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
            elif count % 512 == 0:
                await asyncio.sleep(0)  # let publishing and RPCs run during a fast replay
            yield RawMessage(recorded.text, _now_us(), pass_index)

    def adjust(self, trade: Trade, message: RawMessage) -> Trade:
        return trade if self.venue is None else dataclasses.replace(trade, venue=self.venue)


@dataclass(frozen=True, slots=True)
class _Span:
    trade_ids: int
    time_ms: int


class DemoSource(ReplaySource):
    """The bundled real capture, looped at recorded pace.

    Each pass moves trade ids and times forward by the capture's span, so the store keeps
    growing without gaps or duplicates, as a live feed would.
    """

    def __init__(self, speed: float = 1.0) -> None:
        capture = resources.files("services.ingest") / "demo" / DEMO_CAPTURE
        path = Path(str(capture))
        super().__init__(path, speed=speed or 1.0, loop=True, description="demo")
        self._spans = self._measure(path)

    @staticmethod
    def _measure(path: Path) -> dict[str, _Span]:
        low: dict[str, tuple[int, int]] = {}
        high: dict[str, tuple[int, int]] = {}
        for recorded in read_recording(path):
            verdict = parse_message(recorded.text)
            if isinstance(verdict, Trade):
                key = verdict.symbol
                point = (verdict.trade_id, verdict.trade_time_ms)
                low[key] = min(low.get(key, point), point)
                high[key] = max(high.get(key, point), point)
        return {
            symbol: _Span(
                high[symbol][0] - low[symbol][0] + 1, high[symbol][1] - low[symbol][1] + 1000
            )
            for symbol in low
        }

    def adjust(self, trade: Trade, message: RawMessage) -> Trade:
        span = self._spans.get(trade.symbol)
        if message.pass_index == 0 or span is None:
            return trade
        shift_ms = span.time_ms * message.pass_index
        return dataclasses.replace(
            trade,
            trade_id=trade.trade_id + span.trade_ids * message.pass_index,
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
) -> Source:
    """``binance`` | ``demo`` | ``replay:<path>`` → the source object. ``venue`` forces a
    replay's market; the live source and the demo are Binance spot."""
    if source == "binance":
        return BinanceLiveSource(base_url, symbols)
    if source == "demo":
        return DemoSource(speed or 1.0)
    path = Path(source.removeprefix("replay:"))
    return ReplaySource(path, speed=speed, loop=loop, venue=venue)
