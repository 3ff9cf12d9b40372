"""Events batched on the bus: ingest's publisher packs runs of trades, storage unpacks them
and stores each trade once, a bad event spoils only itself, and a live subscription still
sees every trade."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncGenerator

import asyncpg
import grpc
import pytest
from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError

from graph.context import Backends, Context
from graph.schema import schema
from quantflow.storage.v1 import storage_service_pb2_grpc
from services.common import bus, names
from services.common.codec import BATCH_HEADER, encode_batch, encode_trade
from services.common.deadletter import REASON_HEADER, DeadLetterPublisher
from services.common.trades import Trade
from services.ingest.publisher import EventPublisher
from services.storage import service as storage_service
from tests.integration.helpers import (
    bus_messages,
    eventually,
    running,
    service_settings,
    trade,
    trade_publisher,
)

pytestmark = pytest.mark.integration

SYMBOLS = ("BTCUSDT", "ETHUSDT", "BNBUSDT")


async def _stored(database_url: str) -> list[tuple[str, int]]:
    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch("SELECT symbol, trade_id FROM trades ORDER BY 1, 2")
    finally:
        await conn.close()
    return [(row["symbol"], row["trade_id"]) for row in rows]


async def _consumer_settled(js: JetStreamContext, namespace: str) -> bool:
    try:
        info = await js.consumer_info(
            names.market_stream(namespace), names.storage_market_durable(namespace)
        )
    except NotFoundError:  # storage has not declared its durable consumer yet
        return False
    return bool(info.num_ack_pending == 0 and info.num_pending == 0)


async def test_batched_trades_of_several_symbols_and_an_overlapping_replay_are_stored_once(
    database_url: str, nats_url: str, namespace: str, nats_client: NatsClient
) -> None:
    js, publisher = await trade_publisher(nats_client, namespace)
    for trade_id in range(1, 1001):  # interleaved, as a combined stream delivers them
        for symbol in SYMBOLS:
            await publisher.publish(trade(trade_id, symbol=symbol))
    await publisher.flush()
    # A restarted ingest replays part of it, cut into batches at other boundaries: JetStream
    # cannot tell those apart from new ones; storage's keys must.
    dead_letters = DeadLetterPublisher(js, namespace, names.VENUE_BINANCE)
    replay = EventPublisher(nats_client, namespace, dead_letters, batch_events=37)
    for trade_id in range(500, 1201):
        await replay.publish(trade(trade_id, symbol="BTCUSDT"))
    await replay.flush()

    messages = await bus_messages(js, namespace)
    assert sum(len(events) for _, events in messages) == 3000 + 701
    assert len(messages) < 3701 / 20  # batched, not one trade a message
    settings = service_settings(database_url, nats_url, namespace, storage_batch_size=500)
    async with running(storage_service.run, settings, settings.storage_grpc_port):
        await eventually(lambda: _consumer_settled(js, namespace))
    expected = sorted(
        [(symbol, i) for symbol in SYMBOLS for i in range(1, 1001)]
        + [("BTCUSDT", i) for i in range(1001, 1201)]
    )
    assert await _stored(database_url) == expected


async def test_a_batch_with_one_invalid_event_stores_the_rest_and_dead_letters_only_it(
    database_url: str, nats_url: str, namespace: str, nats_client: NatsClient
) -> None:
    js = nats_client.jetstream()
    await bus.ensure_streams(js, namespace, 3600)
    bad = dataclasses.replace(trade(2), price="-1")
    batch: list[Trade] = [trade(1), bad, trade(3)]
    await js.publish(
        names.trade_subject("BTCUSDT", namespace=namespace),
        encode_batch(batch),
        headers={
            "Nats-Msg-Id": names.batch_msg_id("binance", "BTCUSDT", names.TRADE, 1, 3),
            BATCH_HEADER: "3",
        },
    )
    settings = service_settings(database_url, nats_url, namespace)
    async with running(storage_service.run, settings, settings.storage_grpc_port):
        await eventually(lambda: _consumer_settled(js, namespace))
    assert await _stored(database_url) == [("BTCUSDT", 1), ("BTCUSDT", 3)]
    letters = await js.subscribe(
        names.deadletter_subject("storage", namespace),
        stream=names.deadletter_stream(namespace),
        ordered_consumer=True,
    )
    letter = await letters.next_msg(timeout=5)
    assert letter.data == encode_trade(bad)  # the event alone, not its batch
    assert "price: '-1' is not a decimal" in letter.headers[REASON_HEADER]
    info = await js.stream_info(names.deadletter_stream(namespace))
    assert info.state.messages == 1


async def test_an_undecodable_batch_is_dead_lettered_whole_and_the_next_message_stored(
    database_url: str, nats_url: str, namespace: str, nats_client: NatsClient
) -> None:
    js = nats_client.jetstream()
    await bus.ensure_streams(js, namespace, 3600)
    subject = names.trade_subject("BTCUSDT", namespace=namespace)
    await js.publish(subject, b"\xff\xff\xff", headers={BATCH_HEADER: "2"})
    await js.publish(subject, encode_trade(trade(7)))  # a bare event, as before batches
    settings = service_settings(database_url, nats_url, namespace)
    async with running(storage_service.run, settings, settings.storage_grpc_port):
        await eventually(lambda: _consumer_settled(js, namespace))
    assert await _stored(database_url) == [("BTCUSDT", 7)]
    info = await js.stream_info(names.deadletter_stream(namespace))
    assert info.state.messages == 1


async def test_a_reconnect_overlap_of_batched_trades_never_reaches_the_bus_twice(
    nats_url: str, namespace: str, nats_client: NatsClient
) -> None:
    js, publisher = await trade_publisher(nats_client, namespace)
    for trade_id in [*range(1, 151), *range(120, 301)]:  # the new connection resends 120-150
        await publisher.publish(trade(trade_id))
    await publisher.flush()

    ids = [e.sequence()[1] for _, events in await bus_messages(js, namespace) for e in events]
    assert sorted(ids) == list(range(1, 301))
    assert publisher.repeats_dropped == 31


async def test_the_trades_subscription_delivers_every_trade_of_a_batch_in_order(
    nats_client: NatsClient, namespace: str
) -> None:
    _, publisher = await trade_publisher(nats_client, namespace)
    async with grpc.aio.insecure_channel("127.0.0.1:1") as unused:  # no storage needed
        backends = Backends(
            storage=storage_service_pb2_grpc.StorageServiceStub(unused),
            nats=nats_client,
            namespace=namespace,
        )
        stream = await schema.subscribe(
            'subscription { trades(symbols: ["BTCUSDT"]) { tradeId } }',
            context_value=Context(backends),
        )
        assert isinstance(stream, AsyncGenerator), stream
        try:
            # The resolver subscribes when first awaited: lone trades until one arrives.
            first = asyncio.ensure_future(anext(stream))
            lone = 1
            while not first.done():
                await publisher.publish(trade(lone))
                await publisher.flush()
                lone += 2  # never consecutive: each goes out alone
                await asyncio.wait({first}, timeout=0.05)
            await first
            batch = range(1_000_000, 1_000_250)  # more than one batch's worth
            for trade_id in batch:
                await publisher.publish(trade(trade_id))
            await publisher.flush()
            received: list[int] = []
            while len(received) < len(batch):
                result = await asyncio.wait_for(anext(stream), 10)
                assert result.data is not None, result.errors
                trade_id = int(result.data["trades"]["tradeId"])
                if trade_id >= batch[0]:
                    received.append(trade_id)
        finally:
            await stream.aclose()
    assert received == list(batch)
