"""Which ids of each series ingest has published lately, as merged runs of ids.

Batches of trades get ids naming their run (first-last), so JetStream's ``Nats-Msg-Id``
dedupe catches a resend of the same batch but not an overlap cut at other boundaries (a
reconnect or a rotation sending again what the old connection sent). Ingest drops such
repeats itself before batching: a series' ids arrive as a few long consecutive runs (a gap
backfill adds runs below the newest), so the memory is small and the common check (the
next id extends the newest run) is one comparison. Pure: no I/O.
"""

from __future__ import annotations

import bisect
from collections.abc import Hashable

# Runs kept per series; the oldest (lowest) go first. Each gap and each backfill adds one
# until they merge, so this covers far more than the two-minute window JetStream keeps.
MAX_RUNS = 64


class SeenIds:
    def __init__(self, max_runs: int = MAX_RUNS) -> None:
        self._max_runs = max_runs
        # Per series: disjoint runs [first, last], ascending by first.
        self._runs: dict[Hashable, list[list[int]]] = {}

    def add(self, series: Hashable, number: int) -> bool:
        """Record ``number`` of ``series``; False if it was already recorded."""
        runs = self._runs.setdefault(series, [])
        if runs:
            newest = runs[-1]
            if number == newest[1] + 1:
                newest[1] = number
                return True
            if newest[0] <= number <= newest[1]:
                return False
        index = bisect.bisect_right(runs, number, key=lambda run: run[0])
        if index and runs[index - 1][1] >= number:
            return False
        runs.insert(index, [number, number])
        self._merge(runs, index)
        if len(runs) > self._max_runs:
            del runs[0]
        return True

    @staticmethod
    def _merge(runs: list[list[int]], index: int) -> None:
        """Join the run at ``index`` with neighbours it now touches."""
        if index + 1 < len(runs) and runs[index][1] + 1 == runs[index + 1][0]:
            runs[index][1] = runs[index + 1][1]
            del runs[index + 1]
        if index and runs[index - 1][1] + 1 == runs[index][0]:
            runs[index - 1][1] = runs[index][1]
            del runs[index]
