"""The alerts service's domain metrics. Counters are bumped where things happen (evaluator,
scheduler); the outbox gauges are read from PostgreSQL every few seconds, so they are right
whichever process (this one's worker or another's) sends."""

from __future__ import annotations

import asyncio
import contextlib
import logging

import asyncpg
from prometheus_client import Counter, Gauge, Histogram

log = logging.getLogger(__name__)

EVENTS = Counter(
    "quantflow_alerts_events_evaluated", "Market events the evaluator fed its rules", ["kind"]
)
FIRINGS = Counter("quantflow_alerts_firings", "Firings committed with their outbox rows")
REDELIVERED = Counter(
    "quantflow_alerts_firings_already_recorded",
    "Firings found already recorded (a redelivered event): skipped, not notified again",
)
RULES = Gauge("quantflow_alerts_rules_live", "Rules the evaluator watches")
TRADE_TO_OUTBOX = Histogram(
    "quantflow_alerts_trade_to_outbox_seconds",
    "From a firing trade's arrival at the evaluator to its outbox rows committed",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0),
)
OUTBOX_PENDING = Gauge("quantflow_alerts_outbox_pending", "Notifications waiting to be sent")
OUTBOX_OLDEST_S = Gauge(
    "quantflow_alerts_outbox_oldest_pending_seconds", "Age of the oldest pending notification"
)

_EVERY_S = 5.0


class OutboxGauges:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def read(self) -> None:
        row = await self._pool.fetchrow(
            "SELECT count(*) AS pending, "
            "coalesce(extract(epoch FROM now() - min(created_at)), 0) AS oldest "
            "FROM alert_notifications WHERE status = 'PENDING'"
        )
        OUTBOX_PENDING.set(int(row["pending"]))
        OUTBOX_OLDEST_S.set(float(row["oldest"]))

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self.read()
            except (
                OSError,
                asyncpg.PostgresError,
                asyncpg.InterfaceError,
                asyncpg.InternalClientError,
            ) as error:
                log.warning("cannot read the outbox gauges: %s", error)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), _EVERY_S)
