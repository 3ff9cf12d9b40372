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
    watcher = asyncio.create_task(stop_when_orphaned(os.getppid(), stop))
    await asyncio.sleep(1.5)  # more than one poll
    assert not stop.is_set()
    assert not watcher.done()
    stop.set()  # the service stopping for its own reasons ends the watch
    await asyncio.wait_for(watcher, 5)
