"""TradePublisher against a real JetStream: what a returned flush promises."""

from __future__ import annotations

import asyncio

import pytest
from nats.aio.client import Client as NatsClient

from services.common import names
from tests.integration.helpers import trade, trade_publisher

pytestmark = pytest.mark.integration


async def test_a_flush_returns_only_after_a_flush_already_under_way_has_seen_its_acks(
    nats_url: str, namespace: str, nats_client: NatsClient
) -> None:
    js, publisher = await trade_publisher(nats_client, namespace, window=10_000)
    for trade_id in range(1, 2001):
        await publisher.publish(trade(trade_id))

    under_way = asyncio.create_task(publisher.flush())  # the periodic flusher, say
    await asyncio.sleep(0)  # let it take the in-flight acks
    await publisher.flush()  # the final flush when a replay ends

    assert publisher.published == 2000
    await under_way
    info = await js.stream_info(names.market_stream(namespace))
    assert info.state.messages == 2000
