"""Finding holes in exchange series whose ids are consecutive.

Pure: no bus, no REST. Binance trade ids and aggTrade ids grow by one per symbol, and kline
open times by one interval (``1M``: one calendar month), so every id that is skipped is
provably missing. A series is keyed by venue, symbol and kind; its "id" is whatever follows
its :class:`~services.common.intervals.SeriesStep` (1 for ids, the interval for kline open
times).
"""

from __future__ import annotations

from dataclasses import dataclass

from services.common.intervals import IDS, SeriesStep


@dataclass(frozen=True, slots=True, order=True)
class SeriesKey:
    venue: str
    symbol: str
    kind: str


@dataclass(frozen=True, slots=True)
class Gap:
    """The ids ``first_id`` … ``last_id`` (inclusive) of one series are missing."""

    key: SeriesKey
    first_id: int
    last_id: int


class GapDetector:
    """Per series, the highest id seen; an id beyond the next one opens a gap.

    Ids at or below the highest (a reconnect's overlap, a replay) open nothing: the bus and
    storage deduplicate them, and a backfill's ids are below by construction.
    """

    def __init__(self) -> None:
        self._highest: dict[SeriesKey, int] = {}

    def resume(self, key: SeriesKey, highest_id: int) -> None:
        """Continue after ``highest_id`` (what is already stored or on the bus)."""
        self._highest[key] = max(highest_id, self._highest.get(key, highest_id))

    def highest(self, key: SeriesKey) -> int | None:
        return self._highest.get(key)

    def observe(self, key: SeriesKey, event_id: int, step: SeriesStep = IDS) -> Gap | None:
        """Note ``event_id``; the gap it reveals, if any."""
        highest = self._highest.get(key)
        if highest is not None and event_id <= highest:
            return None
        self._highest[key] = event_id
        if highest is None or event_id == step.after(highest):
            return None
        return Gap(key, step.after(highest), step.before(event_id))


class OpenGaps:
    """Gaps found and not settled yet, for status."""

    def __init__(self) -> None:
        self._open: dict[tuple[SeriesKey, int], Gap] = {}

    def opened(self, gap: Gap) -> None:
        self._open[(gap.key, gap.first_id)] = gap

    def settled(self, gap: Gap) -> None:
        self._open.pop((gap.key, gap.first_id), None)

    def __len__(self) -> int:
        return len(self._open)

    def list(self) -> list[Gap]:
        """Oldest first per series."""
        return [self._open[k] for k in sorted(self._open)]
