"""Storage against bad events on the bus: each is dead-lettered with its reason and acked,
the good ones around it are stored, and nothing is redelivered for ever."""

from __future__ import annotations

import dataclasses

import asyncpg
import grpc
import pytest
from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError

from quantflow.storage.v1 import storage_service_pb2 as pb
from quantflow.storage.v1 import storage_service_pb2_grpc
from services.common import bus, names
from services.common.codec import BATCH_HEADER, encode_batch, encode_trade
from services.common.deadletter import MSG_ID_HEADER, ORIGINAL_SIZE_HEADER, REASON_HEADER
from services.storage import service as storage_service
from services.storage.migrations import migrate
from tests.integration.helpers import eventually, running, service_settings, trade

pytestmark = pytest.mark.integration

# Each passes a naive "non-empty string" check; each must end in the dead letter.
BAD_EVENTS = {
    "abc": dataclasses.replace(trade(101), price="abc"),
    "minus-one": dataclasses.replace(trade(102), price="-1"),
    "nan": dataclasses.replace(trade(103), price="NaN"),
    "time-in-ns": dataclasses.replace(trade(104), trade_time_ms=1723161255104 * 1_000_000),
    "200000-digits": dataclasses.replace(trade(105), price="1" * 200_000),
}


async def _stored_ids(database_url: str) -> list[int]:
    conn = await asyncpg.connect(database_url)
    try:
        return [r["trade_id"] for r in await conn.fetch("SELECT trade_id FROM trades ORDER BY 1")]
    finally:
        await conn.close()


async def _publish(js: JetStreamContext, namespace: str, event: object) -> None:
    assert dataclasses.is_dataclass(event)
    await js.publish(
        names.trade_subject("BTCUSDT", namespace=namespace),
        encode_trade(event),  # type: ignore[arg-type]
    )


async def _consumer_settled(js: JetStreamContext, namespace: str) -> bool:
    try:
        info = await js.consumer_info(
            names.market_stream(namespace), names.storage_market_durable(namespace)
        )
    except NotFoundError:  # storage has not declared its durable consumer yet
        return False
    return bool(info.num_ack_pending == 0 and info.num_pending == 0)


async def _dead_letters(js: JetStreamContext, namespace: str, count: int) -> list[object]:
    dead = await js.subscribe(
        names.deadletter_subject("storage", namespace),
        stream=names.deadletter_stream(namespace),
        ordered_consumer=True,
    )
    letters = [await dead.next_msg(timeout=10) for _ in range(count)]
    await dead.unsubscribe()
    return letters


async def _status(target: str) -> pb.GetStorageStatusResponse:
    async with grpc.aio.insecure_channel(target) as channel:
        stub = storage_service_pb2_grpc.StorageServiceStub(channel)
        return await stub.GetStorageStatus(pb.GetStorageStatusRequest(), timeout=5)


async def test_bad_events_are_dead_lettered_with_reasons_and_good_ones_stored(
    database_url: str, nats_url: str, namespace: str, nats_client: NatsClient
) -> None:
    settings = service_settings(database_url, nats_url, namespace)
    js = nats_client.jetstream()
    await bus.ensure_streams(js, namespace, 3600)
    # PostgreSQL itself refuses one valid-looking price: a real data error from the database,
    # in the same batch as good trades.
    conn = await asyncpg.connect(database_url)
    try:
        await migrate(conn)
        await conn.execute("ALTER TABLE trades ADD CONSTRAINT no_13 CHECK (price <> 13)")
    finally:
        await conn.close()
    refused_by_database = trade(106, price="13")
    good = [trade(i) for i in range(1, 11)]
    for event in [*good[:5], *BAD_EVENTS.values(), refused_by_database, *good[5:]]:
        await _publish(js, namespace, event)

    async with running(storage_service.run, settings, settings.storage_grpc_port):
        await eventually(lambda: _consumer_settled(js, namespace))
        assert await _stored_ids(database_url) == list(range(1, 11))
        letters = await _dead_letters(js, namespace, len(BAD_EVENTS) + 1)
        reasons = {
            letter.headers[REASON_HEADER]: letter  # type: ignore[attr-defined]
            for letter in letters
        }
        # Still consuming after all that: a later good trade is stored.
        await _publish(js, namespace, trade(11))
        await eventually(lambda: _has(database_url, 11))
        status = await _status(settings.storage_target)
    assert status.events_dead_lettered == len(BAD_EVENTS) + 1
    assert status.trades_written == 11
    text = " | ".join(reasons)
    for fragment in ("'abc' is not a decimal", "'-1' is not a decimal", "'NaN' is not a decimal"):
        assert fragment in text
    assert "trade_time_ms: time 1723161255104000000" in text
    assert "200000 integer digits" in text
    assert "rejected by PostgreSQL" in text and "no_13" in text
    # The 200,000-digit event is kept, cut to 64 KiB, with its original size.
    (big,) = [letter for reason, letter in reasons.items() if "200000" in reason]
    assert len(big.data) == 64 * 1024  # type: ignore[attr-defined]
    assert int(big.headers[ORIGINAL_SIZE_HEADER]) > 200_000  # type: ignore[attr-defined]


async def _has(database_url: str, count: int) -> bool:
    return len(await _stored_ids(database_url)) >= count


async def test_event_is_not_acked_until_its_dead_letter_is_stored(
    database_url: str, nats_url: str, namespace: str, nats_client: NatsClient
) -> None:
    settings = service_settings(database_url, nats_url, namespace)
    js = nats_client.jetstream()
    async with running(storage_service.run, settings, settings.storage_grpc_port):
        # With the DEADLETTER stream gone, publishing a dead letter fails (no responders).
        await js.delete_stream(names.deadletter_stream(namespace))
        await _publish(js, namespace, BAD_EVENTS["abc"])

        async def redelivered() -> bool:
            info = await js.consumer_info(
                names.market_stream(namespace), names.storage_market_durable(namespace)
            )
            return bool(info.num_redelivered >= 1)

        await eventually(redelivered)
        assert (await _status(settings.storage_target)).events_dead_lettered == 0
        await bus.ensure_streams(js, namespace, 3600)
        await eventually(lambda: _consumer_settled(js, namespace))
        (letter,) = await _dead_letters(js, namespace, 1)
        assert "'abc' is not a decimal" in letter.headers[REASON_HEADER]  # type: ignore[attr-defined]
        assert (await _status(settings.storage_target)).events_dead_lettered == 1


async def test_database_failure_is_retried_not_dead_lettered(
    database_url: str, nats_url: str, namespace: str, nats_client: NatsClient
) -> None:
    settings = service_settings(database_url, nats_url, namespace)
    js = nats_client.jetstream()
    admin = await asyncpg.connect(database_url)
    try:
        async with running(storage_service.run, settings, settings.storage_grpc_port):
            # The table vanishing is not the events' fault: they wait and are stored later.
            await admin.execute("ALTER TABLE trades RENAME TO trades_away")
            for trade_id in (1, 2, 3):
                await _publish(js, namespace, trade(trade_id))

            async def redelivered() -> bool:
                info = await js.consumer_info(
                    names.market_stream(namespace), names.storage_market_durable(namespace)
                )
                return bool(info.num_redelivered >= 1)

            await eventually(redelivered)
            await admin.execute("ALTER TABLE trades_away RENAME TO trades")
            await eventually(lambda: _consumer_settled(js, namespace))
            status = await _status(settings.storage_target)
    finally:
        await admin.close()
    assert await _stored_ids(database_url) == [1, 2, 3]
    assert status.events_dead_lettered == 0


async def test_a_batch_redelivered_after_a_database_failure_dead_letters_its_poison_once(
    database_url: str, nats_url: str, namespace: str, nats_client: NatsClient
) -> None:
    settings = service_settings(database_url, nats_url, namespace)
    js = nats_client.jetstream()
    admin = await asyncpg.connect(database_url)
    try:
        async with running(storage_service.run, settings, settings.storage_grpc_port):
            # The good trades cannot be stored, so the whole message comes again (and again),
            # its poison event with it.
            await admin.execute("ALTER TABLE trades RENAME TO trades_away")
            ack = await js.publish(
                names.trade_subject("BTCUSDT", namespace=namespace),
                encode_batch([trade(1), BAD_EVENTS["abc"], trade(3)]),
                headers={BATCH_HEADER: "3"},
            )

            async def delivered_again() -> bool:
                info = await js.consumer_info(
                    names.market_stream(namespace), names.storage_market_durable(namespace)
                )
                return bool(info.num_redelivered >= 1)

            await eventually(delivered_again)
            await admin.execute("ALTER TABLE trades_away RENAME TO trades")
            await eventually(lambda: _consumer_settled(js, namespace))
            status = await _status(settings.storage_target)
    finally:
        await admin.close()
    assert await _stored_ids(database_url) == [1, 3]
    info = await js.stream_info(names.deadletter_stream(namespace))
    assert info.state.messages == 1
    (letter,) = await _dead_letters(js, namespace, 1)
    msg_id = letter.headers[MSG_ID_HEADER]  # type: ignore[attr-defined]
    assert msg_id.startswith(f"dl:{names.market_stream(namespace)}:{ack.seq}:")
    assert msg_id.endswith(":1")  # the batch's second event
    assert status.events_dead_lettered == 1
