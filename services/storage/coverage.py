"""What is stored of a series with consecutive ids, and what is not: pure.

A series' stored ids come out of PostgreSQL as runs (gaps-and-islands, see
:meth:`services.storage.repository.TradeRepository.stored_runs`): ids ``step`` apart with
nothing missing in between. Everything else here is arithmetic on those runs: the holes
between them (coverage), the ids missing from a range asked for (what a backfill fetches),
and which parts of a hole Binance itself has no data for (known exchange holes, recorded
when a backfill found them).
"""

from __future__ import annotations

import enum
import itertools
from collections.abc import Sequence
from dataclasses import dataclass

from services.common.intervals import SeriesStep


@dataclass(frozen=True, slots=True)
class Run:
    """Ids ``first_id`` … ``last_id`` (both inclusive, ``step`` apart), all stored."""

    first_id: int
    last_id: int
    count: int


class Cause(enum.Enum):
    # We lack data Binance has: a backfill can fetch it.
    MISSING = "MISSING"
    # Binance has no data there either (an outage), as a backfill found out.
    EXCHANGE = "EXCHANGE"


@dataclass(frozen=True, slots=True)
class Hole:
    """Ids ``first_id`` … ``last_id`` (both inclusive), none stored, for one cause."""

    first_id: int
    last_id: int
    missing: int
    cause: Cause = Cause.MISSING


def _hole(first: int, last: int, step: SeriesStep, cause: Cause = Cause.MISSING) -> Hole:
    return Hole(first, last, step.count(first, last), cause)


def holes_between(runs: Sequence[Run], step: SeriesStep) -> list[Hole]:
    """The ids missing between consecutive runs (ascending, non-overlapping runs)."""
    return [
        _hole(step.after(before.last_id), step.before(after.first_id), step)
        for before, after in itertools.pairwise(runs)
        if after.first_id > step.after(before.last_id)
    ]


def missing_in(
    runs: Sequence[Run], first_id: int, last_id: int, step: SeriesStep, complete: bool = True
) -> list[tuple[int, int]]:
    """The ranges of ids in ``first_id`` … ``last_id`` no run holds, ascending. ``runs``
    are the stored runs within that range; when ``complete`` is false they are only the
    first ones, and nothing is said beyond the last of them."""
    missing = []
    expected = first_id
    for run in runs:
        if run.first_id > expected:
            missing.append((expected, step.before(run.first_id)))
        expected = max(expected, step.after(run.last_id))
    if complete and expected <= last_id:
        missing.append((expected, last_id))
    return missing


def classify(
    holes: Sequence[Hole], exchange_holes: Sequence[tuple[int, int]], step: SeriesStep
) -> list[Hole]:
    """``holes`` split where they meet known exchange holes (id ranges, both inclusive):
    the ids Binance has no data for become EXCHANGE holes, the rest stay MISSING."""
    known = sorted(exchange_holes)
    classified: list[Hole] = []
    for hole in holes:
        cursor = hole.first_id
        for first, last in known:
            if last < cursor or first > hole.last_id:
                continue
            start, end = max(first, cursor), min(last, hole.last_id)
            if start > cursor:
                classified.append(_hole(cursor, step.before(start), step))
            classified.append(_hole(start, end, step, Cause.EXCHANGE))
            cursor = step.after(end)
        if cursor <= hole.last_id:
            classified.append(_hole(cursor, hole.last_id, step))
    return classified


@dataclass(frozen=True, slots=True)
class ExchangeHole:
    """Ids ``first_id`` … ``last_id`` (both inclusive) of a series Binance has no data
    for, and what the backfill that found out was told."""

    venue: str
    symbol: str
    kind: str
    first_id: int
    last_id: int
    reason: str = ""


@dataclass(frozen=True, slots=True)
class Coverage:
    """A series' runs and holes in one window; ``truncated`` when it has more runs than
    were listed (the holes then stop at the last run listed)."""

    runs: list[Run]
    holes: list[Hole]
    truncated: bool = False

    @property
    def stored(self) -> int:
        return sum(run.count for run in self.runs)

    def missing(self, cause: Cause | None = None) -> int:
        return sum(h.missing for h in self.holes if cause is None or h.cause == cause)
