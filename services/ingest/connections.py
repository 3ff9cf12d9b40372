"""Binance WebSocket connections kept within the exchange's rules (binance-ws-spec.md §2-3).

A :class:`ConnectionPool` carries a set of stream names (``btcusdt@trade`` …) over as many
combined-stream connections as needed, each connection (shard) with its own socket:

* at most 1024 streams per connection; control messages paced (at most
  :data:`~services.ingest.connection_rules.CONTROL_MESSAGES_PER_SECOND` in any second) and
  batched, so many subscription changes become a few SUBSCRIBE/UNSUBSCRIBE messages;
* reconnects after full-jitter backoff, all shards together within 300 connection attempts
  per 5 minutes (waiting when the budget is spent);
* each connection is replaced before Binance's 24-hour limit, at once on ``serverShutdown``,
  and when one of its streams stalls: make-before-break, the new socket is open and
  subscribed before the old one closes, and the overlap's duplicates are dropped downstream
  by ``Nats-Msg-Id``.

The rules themselves are pure (:mod:`services.ingest.connection_rules`); this module applies
them to sockets. ``clock`` (monotonic seconds) and ``rng`` are injected.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import random
import time
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field

import websockets
from prometheus_client import Counter, Gauge
from websockets.asyncio.client import ClientConnection, connect

from services.ingest.connection_rules import (
    MAX_STREAMS_PER_CONNECTION,
    ShardPlan,
    SlidingWindowLimit,
    StallWatchdog,
    connect_budget,
    control_pacer,
    full_jitter_backoff,
    rotation_deadline,
    split_url_streams,
    stream_of,
    subscription_changes,
)

log = logging.getLogger(__name__)

ROTATIONS = Counter(
    "quantflow_ingest_rotations",
    "Binance connections replaced make-before-break, by reason (age, serverShutdown, stall)",
    ["reason"],
)
STALLS = Counter(
    "quantflow_ingest_stalls", "Streams that sent nothing for too long, by stream", ["stream"]
)
OPEN_CONNECTIONS = Gauge("quantflow_ingest_connections", "Binance WebSocket connections open")

SERVER_SHUTDOWN_STREAM = "!serverShutdown"
_ERRORS = (OSError, websockets.exceptions.WebSocketException, TimeoutError)


@dataclass(frozen=True, slots=True)
class ConnectionSettings:
    """How the pool treats its connections; the defaults are Binance's production rules."""

    # Replace a connection this long after it opened (minus up to 5 % jitter): before
    # Binance's 24-hour cut.
    rotate_after_s: float = 23 * 3600.0
    # Silence after which a trade-like stream counts as stalled (klines: 2 intervals more).
    stall_timeout_s: float = 60.0
    # How long old and new connection both run during a replacement.
    overlap_s: float = 2.0
    streams_per_connection: int = MAX_STREAMS_PER_CONNECTION
    # Streams named in the connection URL, up to this many characters; the rest SUBSCRIBE.
    url_max_chars: int = 2000
    reply_timeout_s: float = 10.0
    open_timeout_s: float = 10.0


class ControlRefused(Exception):
    """Binance answered a SUBSCRIBE/UNSUBSCRIBE with an error object."""


@dataclass(eq=False)
class _Link:
    """One WebSocket of a shard: its socket, what it is subscribed to, its control pace."""

    socket: ClientConnection
    opened_at: float
    subscribed: set[str]
    pacer: SlidingWindowLimit = field(default_factory=control_pacer)
    closed: asyncio.Event = field(default_factory=asyncio.Event)
    synced: asyncio.Event = field(default_factory=asyncio.Event)
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    replies: dict[int, asyncio.Future[None]] = field(default_factory=dict)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    async def close(self) -> None:
        with contextlib.suppress(*_ERRORS):
            await self.socket.close()
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        self.closed.set()


@dataclass(eq=False)
class _Shard:
    id: int
    streams: set[str]
    link: _Link | None = None
    # Connection attempts that failed in a row (the backoff grows with them).
    failures: int = 0
    # (reason, link it concerns or None) — consumed by the shard's task.
    troubles: asyncio.Queue[tuple[str, _Link | None]] = field(default_factory=asyncio.Queue)
    task: asyncio.Task[None] | None = None


class ConnectionPool:
    """Stream names carried over sharded Binance connections; :meth:`messages` yields
    ``(text, received_time_us)`` of every data message, from all connections."""

    def __init__(
        self,
        base_url: str,
        streams: Iterable[str],
        settings: ConnectionSettings | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        rng: Callable[[], float] = random.random,
        queue_size: int = 10_000,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.settings = settings or ConnectionSettings()
        self._clock = clock
        self._rng = rng
        self._plan = ShardPlan(self.settings.streams_per_connection)
        self._plan.add(streams)
        self._watchdog = StallWatchdog(self.settings.stall_timeout_s)
        self._budget = connect_budget()
        self._shards: dict[int, _Shard] = {}
        self._queue: asyncio.Queue[tuple[str, int]] = asyncio.Queue(queue_size)
        self._request_ids = itertools.count(1)
        self._running = False
        self._retiring: set[asyncio.Task[None]] = set()
        self.connections_opened = 0
        self.rotations = 0
        self.stalls = 0
        self.last_error = ""
        # When the pool last lost (or, before it ever connected, began seeking) a
        # connection; None while every shard is connected.
        self._down_since: float | None = clock()

    # What status shows

    @property
    def streams(self) -> list[str]:
        return sorted(self._plan.streams)

    @property
    def open_connections(self) -> int:
        return sum(1 for s in self._shards.values() if s.link and not s.link.closed.is_set())

    @property
    def connected(self) -> bool:
        """True while every shard has an open connection (and with no streams to carry)."""
        if not self._plan.streams:
            return True
        return bool(self._shards) and self.open_connections == len(self._shards)

    @property
    def disconnected_for_s(self) -> float:
        return 0.0 if self._down_since is None else self._clock() - self._down_since

    # Running

    async def messages(self) -> AsyncIterator[tuple[str, int]]:
        """Run every connection and yield their data messages until the caller stops."""
        self._running = True
        for shard_id, members in self._plan.shards.items():
            self._start_shard(shard_id, set(members))
        supervisor = asyncio.create_task(self._watch_stalls())
        try:
            while True:
                yield await self._queue.get()
        finally:
            self._running = False
            supervisor.cancel()
            for retire in self._retiring:
                retire.cancel()
            await asyncio.gather(supervisor, *self._retiring, return_exceptions=True)
            await asyncio.gather(*(self._stop_shard(s) for s in list(self._shards.values())))

    async def subscribe(self, streams: Iterable[str]) -> None:
        """Add streams; each goes to a connection with room, opening one if none has."""
        for shard_id, added in self._plan.add(streams).items():
            shard = self._shards.get(shard_id)
            if shard is None:
                if self._running:
                    self._start_shard(shard_id, set(added))
                continue
            shard.streams.update(added)
            if shard.link is not None:
                shard.link.wake.set()

    async def unsubscribe(self, streams: Iterable[str]) -> None:
        """Drop streams; a connection left with none is closed."""
        for shard_id, removed in self._plan.remove(streams).items():
            for stream in removed:
                self._watchdog.forget(stream)
            shard = self._shards.get(shard_id)
            if shard is None:
                continue
            shard.streams.difference_update(removed)
            if not shard.streams:
                await self._stop_shard(shard)
            elif shard.link is not None:
                shard.link.wake.set()

    def _start_shard(self, shard_id: int, streams: set[str]) -> None:
        shard = _Shard(shard_id, streams)
        self._shards[shard_id] = shard
        shard.task = asyncio.create_task(self._run_shard(shard))
        self._note_connectivity()

    async def _stop_shard(self, shard: _Shard) -> None:
        self._shards.pop(shard.id, None)
        if shard.task is not None:
            shard.task.cancel()
            await asyncio.gather(shard.task, return_exceptions=True)
        self._note_connectivity()

    async def _run_shard(self, shard: _Shard) -> None:
        try:
            while True:
                if shard.link is None:
                    shard.link = await self._open(shard)
                    if shard.link is None:
                        await self._back_off(shard)
                        continue
                    shard.failures = 0
                    self._note_connectivity()
                link = shard.link
                due = rotation_deadline(link.opened_at, self.settings.rotate_after_s, self._rng)
                reason = await self._next_trouble(shard, link, due)
                if reason == "closed":
                    shard.link = None
                    self._note_connectivity()
                    await self._back_off(shard)
                    continue
                await self._replace(shard, link, reason)
        finally:
            current, shard.link = shard.link, None  # closing it on purpose is no loss
            if current is not None:
                await current.close()

    async def _next_trouble(self, shard: _Shard, link: _Link, due: float) -> str:
        """Wait for what ends ``link``'s turn: its loss, ``serverShutdown``, a stall, or its
        rotation deadline (``age``)."""
        while True:
            try:
                reason, about = await asyncio.wait_for(
                    shard.troubles.get(), max(0.0, due - self._clock())
                )
            except TimeoutError:
                return "age"
            if about is link:  # news about a connection already replaced is stale
                return reason

    async def _replace(self, shard: _Shard, old: _Link, reason: str) -> None:
        """Make before break: the new connection is open and subscribed, then the old one
        closes after the overlap. If no new one can be opened, the old one stays."""
        new = await self._open(shard)
        try:
            ready = new is not None and await self._wait_synced(new)
        except asyncio.CancelledError:
            if new is not None:
                await new.close()
            raise
        if new is None or not ready:
            if new is not None:
                await new.close()
            if old.closed.is_set():
                shard.link = None
                self._note_connectivity()
            else:  # try again after a backoff, keeping the old connection meanwhile
                await self._back_off(shard)
                shard.troubles.put_nowait((reason, old))
            return
        shard.link = new
        shard.failures = 0
        self.rotations += 1
        ROTATIONS.labels(reason).inc()
        log.info("Binance connection %d replaced (%s); overlapping briefly", shard.id, reason)
        self._note_connectivity()
        retire = asyncio.create_task(self._retire(old))
        self._retiring.add(retire)
        retire.add_done_callback(self._retiring.discard)

    async def _retire(self, old: _Link) -> None:
        try:
            await asyncio.sleep(self.settings.overlap_s)
        finally:
            await old.close()
            self._note_connectivity()

    async def _wait_synced(self, link: _Link) -> bool:
        """True once ``link`` carries all its shard's streams; False if it closes first or
        Binance does not confirm in time."""
        waits = [asyncio.create_task(link.synced.wait()), asyncio.create_task(link.closed.wait())]
        await asyncio.wait(
            waits, timeout=self.settings.reply_timeout_s * 2, return_when=asyncio.FIRST_COMPLETED
        )
        for wait in waits:
            wait.cancel()
        await asyncio.gather(*waits, return_exceptions=True)
        return link.synced.is_set() and not link.closed.is_set()

    async def _back_off(self, shard: _Shard) -> None:
        shard.failures += 1
        await asyncio.sleep(full_jitter_backoff(shard.failures, self._rng))

    # One connection

    async def _open(self, shard: _Shard) -> _Link | None:
        """Connect within the attempt budget and start the link's reader and subscriber;
        None (with ``last_error`` set and logged) if the exchange cannot be reached."""
        while (wait := self._budget.delay(self._clock())) > 0:
            log.warning("Binance connection attempts used up (300 per 5 min); waiting %.0fs", wait)
            await asyncio.sleep(wait)
        self._budget.record(self._clock())
        in_url, _ = split_url_streams(sorted(shard.streams), self.settings.url_max_chars)
        url = self.base_url + "/stream?streams=" + "/".join(in_url)
        try:
            socket = await connect(
                url,
                # Our pings find a dead connection sooner than Binance would; websockets
                # answers Binance's pings.
                ping_interval=20,
                ping_timeout=20,
                max_size=2**22,
                open_timeout=self.settings.open_timeout_s,
            )
        except _ERRORS as error:
            self.last_error = f"{type(error).__name__}: {error}".removesuffix(": ")
            self._log_failure()
            return None
        now = self._clock()
        link = _Link(socket, now, set(in_url))
        for stream in in_url:
            if stream not in self._watchdog.streams:
                self._watchdog.watch(stream, now)
        self.connections_opened += 1
        self.last_error = ""
        link.tasks = [
            asyncio.create_task(self._read(shard, link)),
            asyncio.create_task(self._keep_subscribed(shard, link)),
        ]
        log.info("connected to %s (%d streams)", self.base_url, len(shard.streams))
        return link

    def _log_failure(self) -> None:
        if self.connections_opened == 0:
            log.warning(
                "cannot reach Binance at %s: %s; offline? try `quantflow up --demo` (retrying)",
                self.base_url,
                self.last_error,
            )
        else:
            log.warning("Binance connection lost (%s); reconnecting", self.last_error)

    async def _read(self, shard: _Shard, link: _Link) -> None:
        try:
            async for message in link.socket:
                text = message if isinstance(message, str) else message.decode()
                received_us = time.time_ns() // 1000
                stream = stream_of(text)
                if stream is None:
                    self._answer(link, text)
                elif stream == SERVER_SHUTDOWN_STREAM:
                    log.info("Binance announced serverShutdown on connection %d", shard.id)
                    shard.troubles.put_nowait(("serverShutdown", link))
                else:
                    self._watchdog.saw(stream, self._clock())
                    await self._queue.put((text, received_us))
            code = link.socket.close_code
            if shard.link is link:
                self.last_error = f"closed by Binance (code {code})"
        except _ERRORS as error:
            if shard.link is link:
                self.last_error = f"{type(error).__name__}: {error}".removesuffix(": ")
        finally:
            link.closed.set()
            if shard.link is link:
                self._log_failure()
                shard.troubles.put_nowait(("closed", link))
            self._note_connectivity()

    def _answer(self, link: _Link, text: str) -> None:
        """A reply to one of our control messages (or a bare event we do not use)."""
        try:
            reply = json.loads(text)
        except ValueError:
            return
        if not isinstance(reply, dict):
            return
        waiting = link.replies.pop(reply.get("id"), None)  # type: ignore[arg-type]
        if waiting is None or waiting.done():
            return
        if "error" in reply:
            waiting.set_exception(ControlRefused(f"Binance refused a request: {reply['error']}"))
        else:
            waiting.set_result(None)

    async def _keep_subscribed(self, shard: _Shard, link: _Link) -> None:
        """Bring the link's subscriptions to the shard's streams whenever they change: all
        changes made meanwhile go in one SUBSCRIBE and one UNSUBSCRIBE, paced."""
        try:
            while True:
                add, remove = subscription_changes(shard.streams, link.subscribed)
                if not add and not remove:
                    link.synced.set()
                    await link.wake.wait()
                    link.wake.clear()
                    continue
                link.synced.clear()
                if remove:
                    await self._request(link, "UNSUBSCRIBE", remove)
                    link.subscribed.difference_update(remove)
                if add:
                    await self._request(link, "SUBSCRIBE", add)
                    link.subscribed.update(add)
                    now = self._clock()
                    for stream in add:
                        if stream not in self._watchdog.streams:
                            self._watchdog.watch(stream, now)
        except (ControlRefused, TimeoutError, *_ERRORS) as error:
            log.warning("Binance subscription change failed on connection %d: %s", shard.id, error)
            self.last_error = f"{type(error).__name__}: {error}"
            with contextlib.suppress(*_ERRORS):
                await link.socket.close()

    async def _request(self, link: _Link, method: str, params: list[str]) -> None:
        # One task sends on a link, so one wait is enough.
        await asyncio.sleep(link.pacer.delay(self._clock()))
        link.pacer.record(self._clock())
        request_id = next(self._request_ids)
        reply = asyncio.get_running_loop().create_future()
        link.replies[request_id] = reply
        await link.socket.send(json.dumps({"method": method, "params": params, "id": request_id}))
        await asyncio.wait_for(reply, self.settings.reply_timeout_s)

    # Stalls

    async def _watch_stalls(self) -> None:
        tick = min(1.0, self.settings.stall_timeout_s / 4)
        while True:
            await asyncio.sleep(tick)
            now = self._clock()
            by_shard: dict[int, list[str]] = {}
            for stream in self._watchdog.stalled(now):
                shard_id = self._plan.shard_of(stream)
                if shard_id is not None:
                    by_shard.setdefault(shard_id, []).append(stream)
            for shard_id, streams in by_shard.items():
                shard = self._shards.get(shard_id)
                if shard is None or shard.link is None:
                    continue  # not connected: the reconnect will subscribe afresh
                for stream in streams:
                    STALLS.labels(stream).inc()
                self.stalls += len(streams)
                self._watchdog.replaced(streams, now)
                log.warning(
                    "no data on %s for too long; replacing connection %d",
                    ", ".join(streams),
                    shard_id,
                )
                shard.troubles.put_nowait(("stall", shard.link))

    def _note_connectivity(self) -> None:
        OPEN_CONNECTIONS.set(self.open_connections)
        if self.connected:
            self._down_since = None
        elif self._down_since is None:
            self._down_since = self._clock()
