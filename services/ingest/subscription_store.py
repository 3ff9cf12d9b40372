"""Run-time subscriptions that outlive a restart of ingest.

The live source starts with ``QUANTFLOW_SYMBOLS`` × ``QUANTFLOW_STREAMS``; what users
subscribed or unsubscribed since (IngestService RPCs, GraphQL mutations) is kept as
:class:`~services.ingest.market_subscriptions.SubscriptionChanges` in a JetStream key-value
bucket (small shared state, as DESIGN.md allows; one per namespace), read at start and
applied before the first connection.

A change is stored before it is applied: a request that gets an answer is one a restart
keeps, and one whose storing failed (UNAVAILABLE) changed nothing.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable

from nats.errors import Error as NatsError
from nats.js import JetStreamContext
from nats.js.api import KeyValueConfig
from nats.js.errors import BucketNotFoundError, KeyNotFoundError
from nats.js.kv import KeyValue

from services.common import names
from services.common.errors import Unavailable
from services.ingest.market_subscriptions import SubscriptionChanges
from services.ingest.sources import BinanceLiveSource

log = logging.getLogger(__name__)


class PersistedSubscriptions:
    """The live source's subscriptions, changed at run time and kept across restarts."""

    def __init__(
        self, source: BinanceLiveSource, configured: Iterable[str], kv: KeyValue, key: str
    ) -> None:
        self.source = source
        self.configured = frozenset(configured)
        self.changes = SubscriptionChanges()
        self._kv = kv
        self._key = key
        self._turn = asyncio.Lock()  # one change at a time: each builds on the last

    @classmethod
    async def open(
        cls, js: JetStreamContext, namespace: str, source: BinanceLiveSource
    ) -> PersistedSubscriptions:
        """Connect to the bucket (creating it) with ``source``'s current streams as the
        configured ones."""
        bucket = names.market_subscriptions_bucket(namespace)
        try:
            kv = await js.key_value(bucket)
        except BucketNotFoundError:
            kv = await js.create_key_value(KeyValueConfig(bucket=bucket, history=1))
        return cls(source, source.streams, kv, names.VENUE_BINANCE)

    async def restore(self) -> None:
        """Apply what earlier runs changed (nothing if none did, or if unreadable)."""
        try:
            entry = await self._kv.get(self._key)
        except KeyNotFoundError:
            return
        try:
            self.changes = SubscriptionChanges.from_json(entry.value or b"")
        except ValueError as error:
            log.warning("ignoring unreadable run-time subscriptions (%s)", error)
            return
        added = sorted(self.changes.added - self.configured)
        removed = sorted(self.changes.removed & self.configured)
        await self.source.unsubscribe(removed)
        await self.source.subscribe(added)
        if added or removed:
            log.info(
                "run-time subscriptions restored: added %s; removed %s",
                ", ".join(added) or "none",
                ", ".join(removed) or "none",
            )

    async def subscribe(self, streams: Iterable[str]) -> None:
        wanted = list(streams)
        async with self._turn:
            await self._save(self.changes.after_subscribe(self.configured, wanted))
            await self.source.subscribe(wanted)

    async def unsubscribe(self, streams: Iterable[str]) -> None:
        dropped = list(streams)
        async with self._turn:
            await self._save(self.changes.after_unsubscribe(self.configured, dropped))
            await self.source.unsubscribe(dropped)

    async def _save(self, changes: SubscriptionChanges) -> None:
        if changes == self.changes:
            return
        try:
            await self._kv.put(self._key, changes.to_json())
        except (TimeoutError, NatsError) as error:
            raise Unavailable(
                f"could not keep the subscription change on the bus ({error}); nothing "
                "changed, try again"
            ) from error
        self.changes = changes
