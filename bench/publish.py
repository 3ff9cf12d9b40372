"""Publishing trades to JetStream: our EventPublisher beside plain nats-py calls."""

from __future__ import annotations

import asyncio

from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext

from bench.infra import unique_name
from bench.report import Result, timed_async
from services.common import bus, names
from services.common.codec import decode_message, encode_trade
from services.common.deadletter import DeadLetterPublisher
from services.common.names import VENUE_BINANCE
from services.common.trades import Trade
from services.ingest.publisher import BATCH_EVENTS, EventPublisher


def _headers(trade: Trade) -> dict[str, str]:
    return {"Nats-Msg-Id": names.trade_msg_id(trade.venue, trade.symbol, trade.trade_id)}


async def _one_by_one(nc: NatsClient, namespace: str, trades: list[Trade]) -> None:
    """nats-py's documented ``await js.publish(...)``: one round trip per trade."""
    js = nc.jetstream()
    for trade in trades:
        await js.publish(
            names.trade_subject(trade.symbol, trade.venue, namespace),
            encode_trade(trade),
            headers=_headers(trade),
        )


async def _async_unchecked(nc: NatsClient, namespace: str, trades: list[Trade]) -> None:
    """``publish_async`` for every trade, then wait for all acks; no resend on a lost ack."""
    js = nc.jetstream()
    futures = [
        await js.publish_async(
            names.trade_subject(trade.symbol, trade.venue, namespace),
            encode_trade(trade),
            headers=_headers(trade),
        )
        for trade in trades
    ]
    await asyncio.gather(*futures)


async def _quantflow(nc: NatsClient, namespace: str, trades: list[Trade]) -> None:
    dead_letters = DeadLetterPublisher(nc.jetstream(), namespace, VENUE_BINANCE)
    publisher = EventPublisher(nc, namespace, dead_letters)
    for trade in trades:
        await publisher.publish(trade)
    await publisher.flush()
    assert publisher.published == len(trades)


async def _stored(js: JetStreamContext, namespace: str) -> int:
    """Trades on the stream: one a message, or a batch's (see services.common.codec)."""
    info = await js.stream_info(names.market_stream(namespace))
    subscription = await js.pull_subscribe(
        names.market_subjects(namespace)[0], stream=names.market_stream(namespace)
    )
    stored, remaining = 0, int(info.state.messages)
    while remaining:
        for message in await subscription.fetch(min(1000, remaining), timeout=5):
            stored += len(decode_message(names.TRADE, message.data, message.headers))
            await message.ack()  # else the consumer stops at its ack-pending limit
            remaining -= 1
    await subscription.unsubscribe()
    return stored


async def run(nats_url: str, trades: list[Trade]) -> list[Result]:
    nc = await bus.connect(nats_url, "bench")
    js = nc.jetstream()
    cases = [
        ("nats-py: await js.publish per trade", _one_by_one, "1 round trip each"),
        ("nats-py: publish_async, then gather acks", _async_unchecked, "a lost ack is lost"),
        (
            f"quantflow EventPublisher (≤ {BATCH_EVENTS} a message)",
            _quantflow,
            "batched; resends until acked",
        ),
    ]
    results: list[Result] = []
    try:
        for case, publish, note in cases:
            namespace = unique_name("b")
            await bus.ensure_streams(js, namespace, 3600)
            result = await timed_async(
                "publish", case, len(trades), publish(nc, namespace, trades), note
            )
            stored = await _stored(js, namespace)
            if stored != len(trades):
                raise RuntimeError(f"{case}: the stream holds {stored} of {len(trades)} trades")
            results.append(result)
            await js.delete_stream(names.market_stream(namespace))
            await js.delete_stream(names.deadletter_stream(namespace))
    finally:
        await nc.drain()
    return results
