"""EventPublisher against a real JetStream: what a returned flush promises, what is
dead-lettered, and what a stop waits for."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import signal
import subprocess
from pathlib import Path

import pytest
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.js import JetStreamContext

from services.common import bus, names
from services.common.codec import encode_trade
from services.common.deadletter import REASON_HEADER
from services.common.embedded import free_port, nats_server_binary
from tests.integration.helpers import bus_events, eventually, trade, trade_publisher

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
    assert sorted(e.sequence()[1] for e in await bus_events(js, namespace)) == list(range(1, 2001))


async def test_a_trade_over_the_servers_max_payload_is_dead_lettered_and_the_rest_flows(
    nats_url: str, namespace: str, nats_client: NatsClient
) -> None:
    js, publisher = await trade_publisher(nats_client, namespace)
    # Built directly: the parser may cap sizes, the publisher must cope anyway.
    oversized = dataclasses.replace(trade(2), price="1" + "0" * nats_client.max_payload)

    async def publish_all() -> None:
        for event in (trade(1), oversized, trade(3)):
            await publisher.publish(event)
        await publisher.flush()

    await asyncio.wait_for(publish_all(), 30)  # never retried for ever

    assert (publisher.published, publisher.dead_lettered) == (2, 1)
    info = await js.stream_info(names.market_stream(namespace))
    assert info.state.messages == 2
    letter = await _only_dead_letter(js, namespace)
    reason = letter.headers[REASON_HEADER]
    assert reason.startswith("publish failed permanently: nats: maximum payload exceeded")
    assert f"{len(encode_trade(oversized))} bytes encoded" in reason
    assert encode_trade(oversized).startswith(letter.data)  # the start of it, truncated
    assert len(letter.data) < nats_client.max_payload


async def test_a_trade_the_stream_rejects_is_dead_lettered_with_jetstreams_reason(
    nats_url: str, namespace: str, nats_client: NatsClient
) -> None:
    js, publisher = await trade_publisher(nats_client, namespace)
    stream = await js.stream_info(names.market_stream(namespace))
    stream.config.max_msg_size = 200  # below the server's max payload: JetStream says no
    await js.update_stream(stream.config)
    big = dataclasses.replace(trade(2), price="1" + "0" * 300)

    async def publish_all() -> None:
        for event in (trade(1), big, trade(3)):
            await publisher.publish(event)
        await publisher.flush()

    await asyncio.wait_for(publish_all(), 30)

    assert (publisher.published, publisher.dead_lettered) == (2, 1)
    letter = await _only_dead_letter(js, namespace)
    assert "message size exceeds maximum allowed" in letter.headers[REASON_HEADER]


async def test_a_flush_cancelled_half_way_leaves_its_acks_to_the_last_flush(
    nats_url: str, namespace: str, nats_client: NatsClient
) -> None:
    js, publisher = await trade_publisher(nats_client, namespace, window=10_000)
    for trade_id in range(1, 2001):
        await publisher.publish(trade(trade_id))

    periodic = asyncio.create_task(publisher.flush())
    await asyncio.sleep(0)  # let it start waiting for the acks
    periodic.cancel()  # as the pipeline cancels its periodic flusher when it stops
    with contextlib.suppress(asyncio.CancelledError):
        await periodic
    assert publisher.published < 2000  # the cancel landed while acks were pending

    assert await publisher.close(30) == []
    assert publisher.published == 2000
    assert sorted(e.sequence()[1] for e in await bus_events(js, namespace)) == list(range(1, 2001))


async def test_the_last_flush_gives_up_at_its_deadline_and_names_what_is_unconfirmed(
    nats_url: str,
    namespace: str,
    nats_client: NatsClient,
    caplog: pytest.LogCaptureFixture,
) -> None:
    js, publisher = await trade_publisher(nats_client, namespace)
    for trade_id in range(1, 11):
        await publisher.publish(trade(trade_id))
    await publisher.flush()
    await js.delete_stream(names.market_stream(namespace))  # nothing answers these any more
    for trade_id in range(11, 21):
        await publisher.publish(trade(trade_id))

    with caplog.at_level(logging.ERROR, logger="services.ingest.publisher"):
        unconfirmed = await asyncio.wait_for(publisher.close(timeout_s=1.0), 30)

    assert [event.sequence()[1] for event in unconfirmed] == list(range(11, 21))
    assert (publisher.published, publisher.dead_lettered) == (10, 0)
    assert "10 events not confirmed by JetStream" in caplog.text
    assert "binance:BTCUSDT 11-20" in caplog.text


async def _only_dead_letter(js: JetStreamContext, namespace: str) -> Msg:
    info = await js.stream_info(names.deadletter_stream(namespace))
    assert info.state.messages == 1
    letters = await js.subscribe(
        names.deadletter_subject("binance", namespace),
        stream=names.deadletter_stream(namespace),
        ordered_consumer=True,
    )
    return await letters.next_msg(timeout=5)


async def test_acks_lost_with_a_nats_restart_are_resent_together_within_the_stop_bound(
    tmp_path: Path, namespace: str
) -> None:
    port = free_port()
    command = [
        str(nats_server_binary()),
        *("--addr", "127.0.0.1", "--port", str(port), "--jetstream"),
        *("--store_dir", str(tmp_path)),
    ]
    server = await _start(command)
    nc: NatsClient | None = None
    try:
        await _listening(port)
        nc = await bus.connect(f"nats://127.0.0.1:{port}", "test")
        js, publisher = await trade_publisher(nc, namespace, window=10_000)
        server.send_signal(signal.SIGSTOP)  # sends go out, no ack comes back
        for trade_id in range(1, 101):
            await publisher.publish(trade(trade_id))
        server.kill()  # the acks die with it
        await server.wait()
        server = await _start(command)
        await _listening(port)

        # Each ack is due 5 s after its send, so all 100 are resent after ~5 s, not one
        # every 5 s: a clean stop with NATS back confirms every trade within its bound.
        assert await asyncio.wait_for(publisher.close(timeout_s=20), 60) == []
        assert publisher.published == 100
        events = await bus_events(js, namespace)
        assert sorted(e.sequence()[1] for e in events) == list(range(1, 101))
    finally:
        if nc is not None:
            await nc.close()
        if server.returncode is None:
            server.kill()
            await server.wait()


async def _start(command: list[str]) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        *command, stdin=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )


async def _listening(port: int) -> None:
    async def accepts() -> bool:
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            return False
        writer.close()
        return True

    await eventually(accepts)
