"""Binance's WebSocket connection rules as pure logic (binance-ws-spec.md §2, §3, §11).

No sockets and no clock: every rule takes the current time (monotonic seconds) from its
caller, and randomness as a ``rng`` returning floats in [0, 1), so tests drive time and
chance instead of sleeping. :mod:`services.ingest.connections` applies them to sockets.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

# Spec §2.
MAX_STREAMS_PER_CONNECTION = 1024
CONNECT_ATTEMPTS_PER_WINDOW = 300
CONNECT_WINDOW_S = 300.0
MAX_LIFETIME_S = 24 * 3600.0
# Binance counts every incoming frame, pings and pongs included, against 5 per second. Our
# keepalive ping and the pong answering Binance's ping can fall in the same second as a
# control message, so control messages take at most 3 of the 5.
CONTROL_MESSAGES_PER_SECOND = 3

# Kline intervals in seconds (spec §4.3; a month counted as its longest, 31 days).
KLINE_INTERVAL_S = {
    "1s": 1,
    "1m": 60,
    "3m": 180,
    "5m": 300,
    "15m": 900,
    "30m": 1800,
    "1h": 3600,
    "2h": 7200,
    "4h": 14400,
    "6h": 21600,
    "8h": 28800,
    "12h": 43200,
    "1d": 86400,
    "3d": 259200,
    "1w": 604800,
    "1M": 2678400,
}


class SlidingWindowLimit:
    """At most ``limit`` events in any rolling window of ``window_s`` seconds.

    A token bucket with a burst of ``limit`` can put up to 2 × ``limit`` - 1 events inside
    one rolling window (spec §2, observed); this keeps the times of the last ``limit`` events
    and lets the next one through only once the oldest is a full window old.
    """

    def __init__(self, limit: int, window_s: float) -> None:
        if limit < 1 or window_s <= 0:
            raise ValueError("a sliding-window limit needs limit >= 1 and window_s > 0")
        self.limit = limit
        self.window_s = window_s
        self._times: deque[float] = deque()

    def delay(self, now: float) -> float:
        """Seconds to wait from ``now`` before the next event is allowed (0: go)."""
        while self._times and now - self._times[0] >= self.window_s:
            self._times.popleft()
        if len(self._times) < self.limit:
            return 0.0
        return self._times[0] + self.window_s - now

    def record(self, now: float) -> None:
        """An event happened at ``now``."""
        self._times.append(now)
        while len(self._times) > self.limit:
            self._times.popleft()


def connect_budget() -> SlidingWindowLimit:
    """Binance's 300 connection attempts per 5 minutes per IP, for all shards together."""
    return SlidingWindowLimit(CONNECT_ATTEMPTS_PER_WINDOW, CONNECT_WINDOW_S)


def control_pacer() -> SlidingWindowLimit:
    """The pace of one connection's control messages (SUBSCRIBE, UNSUBSCRIBE …)."""
    return SlidingWindowLimit(CONTROL_MESSAGES_PER_SECOND, 1.0)


def full_jitter_backoff(
    failures: int, rng: Callable[[], float], base_s: float = 0.5, cap_s: float = 30.0
) -> float:
    """Delay before reconnecting after ``failures`` consecutive failures (1 for the first):
    uniform in [0, min(cap, base × 2^(failures-1))) — "full jitter", so clients cut off
    together do not come back together."""
    ceiling = min(cap_s, base_s * 2.0 ** max(0, failures - 1))
    return rng() * ceiling


def rotation_deadline(opened_at: float, rotate_after_s: float, rng: Callable[[], float]) -> float:
    """When a connection opened at ``opened_at`` is replaced: ``rotate_after_s`` minus up to
    5 % jitter, so shards opened together are not all replaced in the same second."""
    return opened_at + rotate_after_s * (1.0 - 0.05 * rng())


def stall_timeout_s(stream: str, base_s: float) -> float:
    """How long ``stream`` may send nothing before its connection counts as stalled.

    Trades, aggTrades and tickers are bursty or frequent: ``base_s``. A kline stream sends
    its closing update at least once an interval: two intervals plus ``base_s`` of grace.
    """
    kind = stream.split("@", 1)[-1]
    if kind.startswith("kline_"):
        interval = kind.removeprefix("kline_").split("@", 1)[0]
        return 2 * KLINE_INTERVAL_S.get(interval, 0) + base_s
    return base_s


@dataclass
class _Watch:
    due: float
    patience: float
    normal: float  # the stream's stall_timeout_s, kept: saw() runs for every message


@dataclass
class StallWatchdog:
    """Per-stream "no data for too long" detection (spec §3, §11 item 5).

    A connection can stay open, answer pings and send nothing for one stream, and Binance
    sends nothing for a subscribed symbol that does not exist. A stream whose data stops for
    its :func:`stall_timeout_s` is stalled; after its connection is replaced, a stream that
    still sends nothing gets twice the patience each time (up to ``max_patience_s``), so a
    quiet symbol does not churn connections.
    """

    base_s: float
    max_patience_s: float = 3600.0
    _watches: dict[str, _Watch] = field(default_factory=dict)

    def watch(self, stream: str, now: float) -> None:
        """Start watching ``stream`` (just subscribed)."""
        patience = stall_timeout_s(stream, self.base_s)
        self._watches[stream] = _Watch(now + patience, patience, patience)

    def forget(self, stream: str) -> None:
        self._watches.pop(stream, None)

    def saw(self, stream: str, now: float) -> None:
        """Data for ``stream`` arrived at ``now``."""
        watch = self._watches.get(stream)
        if watch is not None:
            watch.patience = watch.normal
            watch.due = now + watch.normal

    def stalled(self, now: float) -> list[str]:
        """Streams that have been silent past their timeout, as of ``now``."""
        return [stream for stream, watch in self._watches.items() if now >= watch.due]

    def replaced(self, streams: Iterable[str], now: float) -> None:
        """The connection of ``streams`` was replaced at ``now``: watch them again, with
        doubled patience until data comes."""
        for stream in streams:
            watch = self._watches.get(stream)
            if watch is not None:
                watch.patience = min(watch.patience * 2, self.max_patience_s)
                watch.due = now + watch.patience

    @property
    def streams(self) -> frozenset[str]:
        return frozenset(self._watches)


@dataclass
class ShardPlan:
    """Which connection (shard) carries which stream: at most ``capacity`` each.

    New streams fill the existing shards first, lowest id first; a shard whose last stream
    goes away is dropped.
    """

    capacity: int = MAX_STREAMS_PER_CONNECTION
    _shards: dict[int, set[str]] = field(default_factory=dict)
    _next_id: int = 0

    def add(self, streams: Iterable[str]) -> dict[int, list[str]]:
        """Place the streams not yet placed; return the new ones per shard."""
        placed = self.streams
        added: dict[int, list[str]] = {}
        for stream in dict.fromkeys(streams):
            if stream in placed:
                continue
            shard = next(
                (i for i, s in sorted(self._shards.items()) if len(s) < self.capacity), None
            )
            if shard is None:
                shard, self._next_id = self._next_id, self._next_id + 1
                self._shards[shard] = set()
            self._shards[shard].add(stream)
            placed.add(stream)
            added.setdefault(shard, []).append(stream)
        return added

    def remove(self, streams: Iterable[str]) -> dict[int, list[str]]:
        """Take the streams away; return the removed ones per shard (emptied shards are
        dropped from the plan)."""
        gone = set(streams)
        removed: dict[int, list[str]] = {}
        for shard, members in list(self._shards.items()):
            hit = sorted(members & gone)
            if hit:
                members.difference_update(hit)
                removed[shard] = hit
                if not members:
                    del self._shards[shard]
        return removed

    def shard_of(self, stream: str) -> int | None:
        return next((i for i, s in self._shards.items() if stream in s), None)

    @property
    def shards(self) -> dict[int, frozenset[str]]:
        return {i: frozenset(s) for i, s in self._shards.items()}

    @property
    def streams(self) -> set[str]:
        return set().union(*self._shards.values()) if self._shards else set()


def subscription_changes(
    wanted: Iterable[str], subscribed: Iterable[str]
) -> tuple[list[str], list[str]]:
    """The SUBSCRIBE and UNSUBSCRIBE params that take a connection from ``subscribed`` to
    ``wanted``: however many changes were asked for meanwhile, at most one message each."""
    wanted_set, subscribed_set = set(wanted), set(subscribed)
    return sorted(wanted_set - subscribed_set), sorted(subscribed_set - wanted_set)


def split_url_streams(streams: Iterable[str], max_chars: int) -> tuple[list[str], list[str]]:
    """Streams to name in the connection URL (``/stream?streams=a/b``, free of any message)
    and the rest, to SUBSCRIBE: very long URLs are refused (spec §1, observed)."""
    in_url: list[str] = []
    rest: list[str] = []
    used = 0
    for stream in streams:
        if not rest and used + len(stream) + 1 <= max_chars:
            in_url.append(stream)
            used += len(stream) + 1
        else:
            rest.append(stream)
    return in_url, rest


def stream_of(text: str) -> str | None:
    """The stream name of a combined-stream message, read from its prefix without parsing
    the JSON (Binance sends ``{"stream":"<name>","data":…}`` in this key order); None if the
    message does not start that way."""
    prefix = '{"stream":"'
    if not text.startswith(prefix):
        return None
    end = text.find('"', len(prefix))
    return text[len(prefix) : end] if end > 0 else None
