"""The progress line long commands show on stderr (``backfill``, ``import``)."""

from __future__ import annotations

import sys
import time


class Progress:
    """One stderr line, rewritten in place: ``BTCUSDT trades 4,000/9,757 (41%)``."""

    def __init__(self, label: str, total: int) -> None:
        self.label = label
        self._total = total
        self.done = 0
        self._shown = 0.0

    def advance(self, count: int) -> None:
        self.done += count
        now = time.monotonic()
        if now - self._shown >= 0.2 or self.done >= self._total:
            self._shown = now
            percent = 100 * self.done // max(self._total, 1)
            print(
                f"\r{self.label} {self.done:,}/{self._total:,} ({percent}%)",
                end="",
                file=sys.stderr,
                flush=True,
            )

    def finish(self) -> None:
        if self._shown:
            print(file=sys.stderr)
