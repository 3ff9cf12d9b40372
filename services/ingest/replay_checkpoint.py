"""How far a replay of a recording has got onto the bus, so a restarted replay resumes there.

A checkpoint is the position (pass over the file, line in it) up to which every line's event
JetStream has acknowledged; it is written only after a flush confirmed that, so lines at or
before it never need replaying. It lives in a JetStream key-value bucket (small shared state,
as DESIGN.md allows) keyed by the recording's identity (resolved path, size, modification
time): an edited or replaced file starts over. Entries expire with the market stream's age,
as the events they vouch for do.

Why a checkpoint and not "the last id on the bus": a recording mixes kinds whose ids do not
order the file (book tickers, in-progress klines, tickers by event time, several symbols),
so skipping by ids would need a rule per kind, while a line number is one rule for all; and
skipped lines cost nothing, not even parsing.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path

from nats.errors import Error as NatsError
from nats.js import JetStreamContext
from nats.js.api import KeyValueConfig
from nats.js.errors import BucketNotFoundError, KeyNotFoundError
from nats.js.kv import KeyValue

from services.common import names

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True, order=True)
class ReplayPosition:
    """Lines ``1 … line`` of pass ``pass_index`` (and every earlier pass) are on the bus."""

    pass_index: int
    line: int


def recording_key(path: Path) -> str:
    """The bucket key of one recording: a digest of where it is and what it is."""
    stat = path.stat()
    identity = f"{path.resolve()}:{stat.st_size}:{stat.st_mtime_ns}"
    return hashlib.sha256(identity.encode()).hexdigest()[:40]


class ReplayCheckpoint:
    def __init__(self, kv: KeyValue, key: str, path: Path) -> None:
        self._kv = kv
        self._key = key
        self._path = path
        self.saved: ReplayPosition | None = None

    @classmethod
    async def open(
        cls, js: JetStreamContext, namespace: str, path: Path, max_age_s: float
    ) -> ReplayCheckpoint:
        bucket = names.replay_checkpoint_bucket(namespace)
        try:
            kv = await js.key_value(bucket)
        except BucketNotFoundError:
            kv = await js.create_key_value(KeyValueConfig(bucket=bucket, ttl=max_age_s))
        return cls(kv, recording_key(path), path)

    async def load(self) -> ReplayPosition | None:
        """Where an earlier run of this recording got to; None if nowhere (or unreadable)."""
        try:
            entry = await self._kv.get(self._key)
        except KeyNotFoundError:
            return None
        try:
            fields = json.loads(entry.value or b"")
            position = ReplayPosition(int(fields["pass"]), int(fields["line"]))
        except (ValueError, KeyError, TypeError) as error:
            log.warning("ignoring the unreadable replay checkpoint of %s: %s", self._path, error)
            return None
        self.saved = position
        return position

    async def save(self, position: ReplayPosition) -> None:
        """Record ``position``; a bus failure is logged, never raised: a later save or, at
        worst, replaying lines again (deduplicated) makes up for it."""
        if position == self.saved:
            return
        value = json.dumps(
            {"path": str(self._path), "pass": position.pass_index, "line": position.line}
        )
        try:
            await self._kv.put(self._key, value.encode())
        except (TimeoutError, NatsError) as error:
            log.warning("could not record the replay checkpoint of %s: %s", self._path, error)
            return
        self.saved = position
