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


class FractionBar:
    """A bar for work measured as a fraction, rewritten in place on stderr:
    ``optimize [##########··········] 50% 45/90 parameter set runs``."""

    WIDTH = 30

    def __init__(self, label: str) -> None:
        self.label = label
        self._shown = False

    def show(self, fraction: float, message: str = "") -> None:
        filled = round(max(0.0, min(1.0, fraction)) * self.WIDTH)
        bar = "#" * filled + "·" * (self.WIDTH - filled)
        line = f"{self.label} [{bar}] {fraction * 100:3.0f}% {message}"
        # Pad over what a longer previous line left behind.
        print(f"\r{line:<{len(self.label) + self.WIDTH + 60}}", end="", file=sys.stderr, flush=True)
        self._shown = True

    def finish(self) -> None:
        if self._shown:
            print(file=sys.stderr)
