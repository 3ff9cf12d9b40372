"""The raw ceilings the end-to-end figure is set against, measured in the same run: what
asyncpg COPY and nats-py JetStream do alone, with nothing of QuantFlow around them.

- COPY: the tape's rows straight into ``trades`` (no staging, no ``ON CONFLICT``, no
  ``latest_prices``), 10,000 rows per transaction.
- JetStream publish: ``publish_async`` with a ``Nats-Msg-Id``, then every ack gathered;
  one trade per message, and ``per_message`` trades per message.
- JetStream fetch + ack: a durable pull consumer fetching and acking every message of the
  stream the publish case filled (no decoding).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from decimal import Decimal

import asyncpg
from nats.aio.client import Client as NatsClient

from bench.infra import fresh_database, unique_name
from bench.report import Result, timed_async
from services.common import bus, names
from services.common.codec import encode_trade
from services.common.trades import Trade
from services.ingest.publisher import BATCH_EVENTS
from services.storage import tables
from services.storage.migrations import migrate

# Trades per message in the batched case: what ingest's publisher packs at most.
PER_MESSAGE = BATCH_EVENTS
_COPY_ROWS = 10_000
_FETCH = 1000


async def copy_alone(admin_url: str, trades: Sequence[Trade]) -> Result:
    # What a plain asyncpg user hands COPY: the column types' own Python values.
    records = [
        (
            t.symbol,
            t.trade_id,
            Decimal(t.price),
            Decimal(t.quantity),
            tables.ms_to_datetime(t.trade_time_ms),
            t.buyer_is_maker,
            t.venue,
            None,
        )
        for t in trades
    ]
    async with fresh_database(admin_url) as url:
        conn = await asyncpg.connect(url)
        try:
            await migrate(conn)

            async def copy() -> None:
                for start in range(0, len(records), _COPY_ROWS):
                    async with conn.transaction():
                        await conn.copy_records_to_table(
                            "trades",
                            records=records[start : start + _COPY_ROWS],
                            columns=tables.TRADES.columns,
                        )

            result = await timed_async(
                "ceiling",
                "asyncpg COPY alone into trades",
                len(records),
                copy(),
                f"{_COPY_ROWS:,} rows per transaction, no conflict handling",
            )
            stored = await conn.fetchval("SELECT count(*) FROM trades")
        finally:
            await conn.close()
    if stored != len(records):
        raise RuntimeError(f"COPY stored {stored} of {len(records)} rows")
    return result


def _messages(
    trades: Sequence[Trade], per_message: int, namespace: str
) -> list[tuple[str, bytes, str]]:
    """(subject, payload, msg id) with ``per_message`` trades each: the payloads are the
    trades' protobuf bytes framed as a repeated field, the size a batch really has."""
    messages = []
    for start in range(0, len(trades), per_message):
        chunk = trades[start : start + per_message]
        payload = b"".join(_framed(encode_trade(t)) for t in chunk)
        first, last = chunk[0], chunk[-1]
        messages.append(
            (
                names.trade_subject(first.symbol, first.venue, namespace),
                payload,
                f"{first.symbol}:{first.trade_id}-{last.trade_id}",
            )
        )
    return messages


def _framed(payload: bytes) -> bytes:
    """``payload`` as field 1 (length-delimited) of a protobuf message."""
    size = len(payload)
    varint = bytearray()
    while True:
        byte, size = size & 0x7F, size >> 7
        varint.append(byte | (0x80 if size else 0))
        if not size:
            break
    return b"\x0a" + bytes(varint) + payload


async def jetstream(
    nats_url: str, trades: Sequence[Trade], per_message: int
) -> tuple[Result, Result]:
    """Publish alone, then fetch + ack alone, of ``trades`` at ``per_message`` a message."""
    nc: NatsClient = await bus.connect(nats_url, "bench-ceiling")
    js = nc.jetstream()
    namespace = unique_name("c")
    messages = _messages(trades, per_message, namespace)
    label = "1 trade" if per_message == 1 else f"{per_message} trades"
    try:
        await bus.ensure_streams(js, namespace, 3600)

        async def publish() -> None:
            futures = [
                await js.publish_async(subject, payload, headers={"Nats-Msg-Id": msg_id})
                for subject, payload, msg_id in messages
            ]
            await asyncio.gather(*futures)

        published = await timed_async(
            "ceiling",
            f"nats-py publish_async alone, {label}/msg",
            len(trades),
            publish(),
            f"{len(messages):,} messages, acks gathered",
        )
        subscription = await js.pull_subscribe(
            names.market_subjects(namespace)[0],
            durable=unique_name("d"),
            stream=names.market_stream(namespace),
        )

        async def fetch_and_ack() -> None:
            remaining = len(messages)
            while remaining:
                for message in await subscription.fetch(min(_FETCH, remaining), timeout=5):
                    await message.ack()
                    remaining -= 1

        fetched = await timed_async(
            "ceiling",
            f"nats-py fetch + ack alone, {label}/msg",
            len(trades),
            fetch_and_ack(),
            f"fetch {_FETCH}, ack each message",
        )
        await subscription.unsubscribe()
        await js.delete_stream(names.market_stream(namespace))
        await js.delete_stream(names.deadletter_stream(namespace))
    finally:
        await nc.drain()
    return published, fetched
