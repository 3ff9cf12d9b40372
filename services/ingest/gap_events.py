"""Gap events on the bus (``market.<venue>.gap.<SYMBOL>``), protobuf at the edge."""

from __future__ import annotations

import enum
import logging
import time

from nats.errors import Error as NatsError
from nats.js import JetStreamContext

from quantflow.market.v1 import gap_event_pb2
from services.common import names
from services.ingest.gaps import Gap

log = logging.getLogger(__name__)

_PUBLISH_TIMEOUT_S = 5.0


class GapState(enum.Enum):
    OPENED = gap_event_pb2.GAP_STATE_OPENED
    FILLED = gap_event_pb2.GAP_STATE_FILLED
    UNFILLABLE = gap_event_pb2.GAP_STATE_UNFILLABLE
    EXCHANGE_HOLE = gap_event_pb2.GAP_STATE_EXCHANGE_HOLE


def encode_gap_event(gap: Gap, state: GapState, reason: str = "", now_ms: int = 0) -> bytes:
    message = gap_event_pb2.GapEvent(
        venue=gap.key.venue,
        symbol=gap.key.symbol,
        kind=gap.key.kind,
        first_id=gap.first_id,
        last_id=gap.last_id,
        state=state.value,
        reason=reason,
        event_time_ms=now_ms,
    )
    payload: bytes = message.SerializeToString()
    return payload


class GapEventPublisher:
    def __init__(self, js: JetStreamContext, namespace: str) -> None:
        self._js = js
        self._namespace = namespace

    async def publish(self, gap: Gap, state: GapState, reason: str = "") -> None:
        """Publish one gap event; a bus failure is logged, never raised: the gap itself is
        what matters, and its fill goes on."""
        key = gap.key
        try:
            await self._js.publish(
                names.gap_subject(key.venue, key.symbol, self._namespace),
                encode_gap_event(gap, state, reason, time.time_ns() // 1_000_000),
                headers={
                    "Nats-Msg-Id": names.gap_msg_id(
                        key.venue, key.symbol, key.kind, gap.first_id, gap.last_id, state.name
                    )
                },
                timeout=_PUBLISH_TIMEOUT_S,
            )
        except (TimeoutError, NatsError) as error:
            log.warning(
                "could not publish gap event %s %s %d-%d %s: %s",
                key.symbol,
                key.kind,
                gap.first_id,
                gap.last_id,
                state.name,
                error,
            )
