"""Dead letters: malformed input kept verbatim on ``deadletter.<source>`` with the reason.

Headers carry the reason, the source and when it was received; the body is the raw payload,
cut to :data:`MAX_DEADLETTER_BYTES` with the original size in a header when it is longer.

A dead letter of something that can come again (an event of a bus message that is
redelivered) carries a ``Nats-Msg-Id`` naming that thing, so JetStream keeps it once.
"""

from __future__ import annotations

import enum
import logging
import time

from nats.errors import Error as NatsError
from nats.js import JetStreamContext
from prometheus_client import Counter

from services.common import names

log = logging.getLogger(__name__)

REASON_HEADER = "Quantflow-Reason"
SOURCE_HEADER = "Quantflow-Source"
RECEIVED_HEADER = "Quantflow-Received-Us"
ORIGINAL_SIZE_HEADER = "Quantflow-Original-Size"
MSG_ID_HEADER = "Nats-Msg-Id"

# Far below NATS' default 1 MiB max_payload, so a dead letter always fits on the bus, and
# as large as the biggest message we accept (a trade message is capped at 64 KiB).
MAX_DEADLETTER_BYTES = 64 * 1024

DEAD_LETTERED = Counter("quantflow_dead_lettered", "Messages dead-lettered", ["source"])


class Kept(enum.Enum):
    """What became of a dead letter with a message id."""

    NEW = "new"
    # JetStream already had one with this id (the same event, dead-lettered before).
    ALREADY = "already"
    FAILED = "failed"


class DeadLetterPublisher:
    """Keeps malformed input, verbatim, on ``deadletter.<source>`` with the reason."""

    def __init__(self, js: JetStreamContext, namespace: str, source: str) -> None:
        self._js = js
        self._subject = names.deadletter_subject(source, namespace)
        self._source = source

    async def publish(self, raw: str | bytes, reason: str, received_time_us: int = 0) -> bool:
        """Store one dead letter; True once JetStream has it, False (logged) if it failed.

        A caller that can redeliver (a consumer) must not ack the message on False.
        """
        return await self.publish_once(raw, reason, None, received_time_us) is not Kept.FAILED

    async def publish_once(
        self, raw: str | bytes, reason: str, msg_id: str | None, received_time_us: int = 0
    ) -> Kept:
        """Store one dead letter with ``msg_id`` as its ``Nats-Msg-Id``: a second one with the
        same id (within the dead-letter stream's duplicate window) is dropped by JetStream.
        A caller that can redeliver must not ack the message on :attr:`Kept.FAILED`."""
        payload = raw.encode() if isinstance(raw, str) else raw
        headers = {
            # Header values must be one line.
            REASON_HEADER: " ".join(reason.split())[:1000],
            SOURCE_HEADER: self._source,
            RECEIVED_HEADER: str(received_time_us or time.time_ns() // 1000),
        }
        if msg_id is not None:
            headers[MSG_ID_HEADER] = msg_id
        if len(payload) > MAX_DEADLETTER_BYTES:
            headers[ORIGINAL_SIZE_HEADER] = str(len(payload))
            payload = payload[:MAX_DEADLETTER_BYTES]
        try:
            ack = await self._js.publish(self._subject, payload, headers=headers)
        except (TimeoutError, NatsError) as error:
            log.error(
                "could not dead-letter a message (%s): %s; reason was %s",
                error,
                payload[:200],
                headers[REASON_HEADER],
            )
            return Kept.FAILED
        if ack.duplicate:
            return Kept.ALREADY
        DEAD_LETTERED.labels(self._source).inc()
        return Kept.NEW
