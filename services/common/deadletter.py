"""Dead letters: malformed input kept verbatim on ``deadletter.<source>`` with the reason.

Headers carry the reason, the source and when it was received; the body is the raw payload.
"""

from __future__ import annotations

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

DEAD_LETTERED = Counter("quantflow_dead_lettered", "Messages dead-lettered", ["source"])


class DeadLetterPublisher:
    """Keeps malformed input, verbatim, on ``deadletter.<source>`` with the reason."""

    def __init__(self, js: JetStreamContext, namespace: str, source: str) -> None:
        self._js = js
        self._subject = names.deadletter_subject(source, namespace)
        self._source = source

    async def publish(self, raw: str | bytes, reason: str, received_time_us: int = 0) -> None:
        payload = raw.encode() if isinstance(raw, str) else raw
        headers = {
            # Header values must be one line.
            REASON_HEADER: " ".join(reason.split())[:1000],
            SOURCE_HEADER: self._source,
            RECEIVED_HEADER: str(received_time_us or time.time_ns() // 1000),
        }
        try:
            await self._js.publish(self._subject, payload, headers=headers)
            DEAD_LETTERED.labels(self._source).inc()
        except (TimeoutError, NatsError) as error:
            log.error(
                "could not dead-letter a message (%s): %s; reason was %s",
                error,
                payload[:200],
                reason,
            )
