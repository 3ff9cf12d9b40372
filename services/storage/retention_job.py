"""Retention, applied: a job in the storage service that deletes what the policy lets
expire, on a schedule, in batches (plain PostgreSQL: ``DELETE`` by exchange time).

The policy and its rules are :mod:`services.storage.retention`; this module only runs it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import timedelta

import asyncpg
from prometheus_client import Counter

from services.common.clock import Clock
from services.storage.database_errors import DATABASE_UNAVAILABLE_ERRORS
from services.storage.repository import TradeRepository
from services.storage.retention import RetentionPolicy

log = logging.getLogger(__name__)

EXPIRED = Counter("quantflow_storage_rows_expired", "Rows deleted by retention, by kind", ["kind"])

# Plain PostgreSQL deletes rows; the TimescaleDB path drops chunks instead.
MODE = "batched delete"
_RETRYABLE = (*DATABASE_UNAVAILABLE_ERRORS, asyncpg.PostgresError)


class RetentionJob:
    def __init__(
        self,
        repository: TradeRepository,
        policy: RetentionPolicy,
        clock: Clock,
        every_s: float,
        batch_size: int,
    ) -> None:
        self._repository = repository
        self.policy = policy
        self._clock = clock
        self._every_s = every_s
        self._batch_size = batch_size
        self.mode = MODE
        # Rows deleted since start, by kind.
        self.expired: dict[str, int] = {kind: 0 for kind in policy.expiring()}

    async def run_once(self) -> int:
        """Delete every row the policy lets expire now; returns how many went."""
        now_ms = int(self._clock.time() * 1000)
        total = 0
        for kind, length in self.policy.expiring().items():
            cutoff_ms = now_ms - length // timedelta(milliseconds=1)
            while True:
                deleted = await self._repository.delete_expired(kind, cutoff_ms, self._batch_size)
                self.expired[kind] += deleted
                EXPIRED.labels(kind).inc(deleted)
                total += deleted
                if deleted < self._batch_size:
                    break
        if total:
            log.info("retention deleted %d rows (%s)", total, self.policy)
        return total

    async def run(self, stop: asyncio.Event) -> None:
        """Apply the policy now and then every ``every_s`` until ``stop``; a database that
        is away skips a round."""
        if not self.policy.expiring():
            return
        while not stop.is_set():
            try:
                await self.run_once()
            except _RETRYABLE as error:
                log.warning("retention skipped a round: %s", error)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self._every_s)
