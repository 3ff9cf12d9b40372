"""A supervised service stops by itself when its supervisor is gone."""

from __future__ import annotations

import asyncio
import os

from services.common.runtime import stop_when_orphaned


async def test_stop_when_orphaned_sets_stop_when_the_pid_is_not_our_parent() -> None:
    stop = asyncio.Event()
    not_our_parent = os.getpid()  # we are never our own parent
    await asyncio.wait_for(stop_when_orphaned(not_our_parent, stop), 5)
    assert stop.is_set()


async def test_stop_when_orphaned_keeps_running_while_the_parent_lives() -> None:
    stop = asyncio.Event()
    polled_three_times = asyncio.Event()
    polls = 0

    def parent_still_here() -> int:
        nonlocal polls
        polls += 1
        if polls == 3:
            polled_three_times.set()
        return os.getppid()

    watcher = asyncio.create_task(
        stop_when_orphaned(os.getppid(), stop, poll_s=0.01, current_parent=parent_still_here)
    )
    await asyncio.wait_for(polled_three_times.wait(), 5)
    assert not stop.is_set()
    assert not watcher.done()
    stop.set()  # the service stopping for its own reasons ends the watch at once
    await asyncio.wait_for(watcher, 1)


async def test_stop_when_orphaned_notices_a_parent_that_goes_away_later() -> None:
    stop = asyncio.Event()
    parents = iter([os.getppid(), os.getppid(), 1])
    await asyncio.wait_for(
        stop_when_orphaned(os.getppid(), stop, poll_s=0.01, current_parent=lambda: next(parents)),
        5,
    )
    assert stop.is_set()
