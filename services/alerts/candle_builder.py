"""Candles of a rule's interval built from closed 1m klines, so that ``rsi(14) < 30`` on
``1h`` fires although ingest streams only ``kline_1m`` (its default). Pure.

Binance's rule, as storage's GetOhlc applies it to stored klines (:func:`aggregate`): the
open of the first minute, the highest high, the lowest low, the close of the last minute,
summed volumes. A candle is emitted when its last minute closes, or, if that minute never
comes, when the first minute of a later candle does. A candle whose first minutes this
process did not see (it started, or began watching the interval, mid-candle) is emitted only
if it was seeded with them from storage (:meth:`CandleBuilder.seed`); otherwise it is
dropped rather than evaluated short. A kline of the interval itself, if ingest streams it,
is the same candle: rules skip the second copy by its open time.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import dataclass

from services.common.candles import Candle, aggregate, bucket_open, divides, next_open

SOURCE = "1m"


def built_from_minutes(interval: str) -> bool:
    """Whether candles of ``interval`` are built here (every interval coarser than 1m)."""
    return interval not in ("1s", SOURCE) and divides(SOURCE, interval)


@dataclass
class _Bucket:
    candle: Candle  # the minutes merged so far
    last_minute: int  # open time of the last minute merged
    whole: bool  # every minute from the candle's open was seen (or seeded)


class CandleBuilder:
    def __init__(self) -> None:
        self._wanted: dict[tuple[str, str], set[str]] = {}  # (venue, symbol) → intervals
        self._buckets: dict[tuple[str, str, str], _Bucket] = {}
        self._last_minute: dict[tuple[str, str], int] = {}

    def want(self, venue: str, symbol: str, interval: str) -> bool:
        """Build ``interval`` candles of the symbol from now on; True if it is new."""
        intervals = self._wanted.setdefault((venue, symbol), set())
        if interval in intervals or not built_from_minutes(interval):
            return False
        intervals.add(interval)
        return True

    def resume(self, venue: str, symbol: str, last_minute: int) -> None:
        """After a restart: the last 1m candle evaluated before it."""
        self._last_minute[(venue, symbol)] = last_minute

    def pending_since(self, venue: str, symbol: str, interval: str) -> tuple[int, int] | None:
        """[from, to): the minutes of the candle in progress already gone by, which
        :meth:`seed` should be given (None when the next minute starts a candle)."""
        last = self._last_minute.get((venue, symbol))
        if last is None:
            return None
        upcoming = next_open(SOURCE, last)
        start = bucket_open(interval, upcoming)
        return None if start == upcoming else (start, upcoming)

    def seed(self, venue: str, symbol: str, interval: str, minutes: Iterable[Candle]) -> None:
        """The stored minutes of the candle in progress (from :meth:`pending_since`)."""
        kept = list(minutes)
        if not kept:
            return
        start = bucket_open(interval, kept[0].open_time)
        contiguous = kept[0].open_time == start and all(
            next_open(SOURCE, a.open_time) == b.open_time for a, b in itertools.pairwise(kept)
        )
        if contiguous:
            (candle,) = aggregate(interval, kept)
            self._buckets[(venue, symbol, interval)] = _Bucket(
                candle, kept[-1].open_time, whole=True
            )

    def on_minute(self, venue: str, symbol: str, minute: Candle) -> list[tuple[str, Candle]]:
        """The candles (interval, candle) that closed with this closed 1m candle."""
        key = (venue, symbol)
        last = self._last_minute.get(key)
        if last is not None and minute.open_time <= last:
            return []  # a redelivery
        self._last_minute[key] = minute.open_time
        closed: list[tuple[str, Candle]] = []
        for interval in sorted(self._wanted.get(key, ())):
            done = self._add(venue, symbol, interval, minute)
            closed.extend((interval, candle) for candle in done)
        return closed

    def _add(self, venue: str, symbol: str, interval: str, minute: Candle) -> list[Candle]:
        key = (venue, symbol, interval)
        start = bucket_open(interval, minute.open_time)
        done: list[Candle] = []
        bucket = self._buckets.get(key)
        if bucket is not None and bucket.candle.open_time != start:
            # A candle whose last minute never came: it ends with the next one's first.
            del self._buckets[key]
            if bucket.whole:
                done.append(bucket.candle)
            bucket = None
        if bucket is None:
            bucket = _Bucket(minute, minute.open_time, whole=minute.open_time == start)
            (bucket.candle,) = aggregate(interval, [minute])
            self._buckets[key] = bucket
        else:
            (bucket.candle,) = aggregate(interval, [bucket.candle, minute])
            bucket.last_minute = minute.open_time
        if next_open(SOURCE, minute.open_time) == next_open(interval, start):
            del self._buckets[key]
            if bucket.whole:
                done.append(bucket.candle)
        return done
