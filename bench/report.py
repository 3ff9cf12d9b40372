"""Timing one benchmark case and printing the side-by-side table."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Result:
    group: str
    case: str
    items: int
    seconds: float
    note: str = ""

    @property
    def per_second(self) -> float:
        return self.items / self.seconds if self.seconds > 0 else float("inf")


def timed(group: str, case: str, items: int, run: Callable[[], object], note: str = "") -> Result:
    started = time.perf_counter()
    run()
    return Result(group, case, items, time.perf_counter() - started, note)


async def timed_async(
    group: str, case: str, items: int, work: Awaitable[object], note: str = ""
) -> Result:
    """Time ``work``, a coroutine not yet started (creating one runs none of its code)."""
    started = time.perf_counter()
    await work
    return Result(group, case, items, time.perf_counter() - started, note)


def table(results: list[Result]) -> str:
    header = f"{'benchmark':<10} {'case':<50} {'items':>8} {'seconds':>8} {'items/s':>10}  note"
    lines = [header, "-" * len(header)]
    for result in results:
        lines.append(
            f"{result.group:<10} {result.case:<50} {result.items:>8} "
            f"{result.seconds:>8.3f} {result.per_second:>10,.0f}  {result.note}"
        )
    return "\n".join(lines)
