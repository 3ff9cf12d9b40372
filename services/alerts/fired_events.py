"""``AlertFired`` on the ALERTS stream, after a firing is committed: one message per firing
(``Nats-Msg-Id`` from its rule and event), for subscribers such as GraphQL's alertFired."""

from __future__ import annotations

import asyncio
import logging

import nats.errors
from nats.js import JetStreamContext

from quantflow.alerts.v1 import alert_fired_pb2
from services.alerts.outbox import RecordedFiring
from services.common import names

log = logging.getLogger(__name__)

_ACK_TIMEOUT_S = 5.0


def alert_fired(done: RecordedFiring) -> alert_fired_pb2.AlertFired:
    found = done.firing
    message = alert_fired_pb2.AlertFired(
        firing_id=str(done.firing_id),
        rule_id=found.rule_id,
        symbol=found.symbol,
        venue=found.venue,
        condition=found.condition,
        time_ms=found.time_ms,
        price=found.price,
        value=found.value,
        interval=found.interval or "",
        owner=found.owner,
    )
    if found.trade_id is not None:
        message.trade_id = found.trade_id
    if found.candle_open_ms is not None:
        message.candle_open_ms = found.candle_open_ms
    return message


async def publish_fired(
    js: JetStreamContext, namespace: str, recorded: list[RecordedFiring]
) -> None:
    """Publish each committed firing; a bus that is away loses only the bus copy (the firing
    and its notifications are in PostgreSQL). Sent together and their acks awaited together:
    one round trip per firing would hold the evaluator's next batch behind a burst."""
    sent: list[tuple[RecordedFiring, asyncio.Future[object]]] = []
    for done in recorded:
        found = done.firing
        try:
            ack = await js.publish_async(
                names.alert_fired_subject(found.symbol, namespace),
                alert_fired(done).SerializeToString(),
                headers={"Nats-Msg-Id": names.alert_fired_msg_id(found.rule_id, found.event_key)},
            )
        except (nats.errors.Error, TimeoutError) as error:
            log.warning("could not publish firing %d: %s", done.firing_id, error)
            continue
        sent.append((done, ack))
    for done, ack in sent:
        try:
            await asyncio.wait_for(ack, _ACK_TIMEOUT_S)
        except (nats.errors.Error, TimeoutError) as error:
            log.warning("could not publish firing %d: %s", done.firing_id, error)
