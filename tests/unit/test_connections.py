"""services/ingest/connections.py against the fake Binance server over loopback sockets."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from services.ingest.connections import ConnectionPool, ConnectionSettings
from tests.fakes.binance_server import FakeBinanceServer, Tape
from tests.fakes.trade_tapes import trade_ids, trade_tape


async def until(check: Callable[[], bool | Awaitable[bool]], timeout: float = 20.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        outcome = check()
        if outcome if isinstance(outcome, bool) else await outcome:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"condition still false after {timeout:.0f}s")


@contextlib.asynccontextmanager
async def running(pool: ConnectionPool) -> AsyncIterator[list[str]]:
    """Drain the pool's messages into a list while the block runs."""
    received: list[str] = []

    async def drain() -> None:
        async for text, _ in pool.messages():
            received.append(text)

    task = asyncio.create_task(drain())
    try:
        yield received
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


def _most_in_any_second(times: list[float]) -> int:
    return max((sum(1 for t in times if start <= t < start + 1.0) for start in times), default=0)


async def test_fifty_subscription_changes_never_send_more_than_5_frames_in_any_second() -> None:
    async with FakeBinanceServer(Tape.from_messages([])) as fake:
        pool = ConnectionPool(fake.ws_url, ["btcusdt@trade"])
        async with running(pool):
            await until(lambda: pool.connected)
            wanted = {"btcusdt@trade"}
            for n in range(50):
                stream = f"s{n:02d}usdt@trade"
                wanted.add(stream)
                await pool.subscribe([stream])
                await asyncio.sleep(0.02)  # changes keep coming while earlier ones are sent
            await until(lambda: fake.active_subscriptions() == wanted)
            assert pool.streams == sorted(wanted)
    frames = fake.client_frame_times()
    assert fake.connections_total == 1  # never closed with 1008 "Too many requests"
    assert _most_in_any_second(frames[0]) <= 5
    assert len(frames[0]) < 50  # batched: many changes per SUBSCRIBE


async def test_more_than_1024_streams_are_spread_over_two_connections() -> None:
    streams = [f"s{i:04d}usdt@trade" for i in range(1025)]
    async with FakeBinanceServer(Tape.from_messages([])) as fake:
        pool = ConnectionPool(fake.ws_url, streams)
        async with running(pool):
            await until(lambda: fake.active_subscriptions() == set(streams))
            assert fake.open_connections == pool.open_connections == 2
            assert pool.connected
            await pool.unsubscribe(streams[1000:])  # the second connection empties and goes
            await until(lambda: fake.open_connections == 1)
            assert fake.active_subscriptions() == set(streams[:1000])
    assert all(_most_in_any_second(times) <= 5 for times in fake.client_frame_times())


async def test_server_shutdown_opens_the_new_connection_before_closing_the_old() -> None:
    tape = trade_tape(("BTCUSDT",), 400)
    async with FakeBinanceServer(tape, live_interval_s=0.005) as fake:
        pool = ConnectionPool(fake.ws_url, ["btcusdt@trade"], ConnectionSettings(overlap_s=0.5))
        async with running(pool) as received:
            await until(lambda: len(received) >= 20)
            await fake.send_server_shutdown()
            await until(lambda: fake.open_connections == 2)  # both run during the overlap
            await until(lambda: pool.rotations == 1 and fake.open_connections == 1)
            await until(lambda: fake.live_finished.is_set() and '"t":1399' in received[-1])
    ids = [json.loads(text)["data"]["t"] for text in received]
    assert set(ids) == trade_ids(tape, "BTCUSDT")  # nothing lost
    assert fake.connections_total == 2


async def test_a_stalled_stream_gets_its_connection_replaced_and_data_flows_again() -> None:
    tape = trade_tape(("BTCUSDT",), 3000)
    async with FakeBinanceServer(tape, live_interval_s=0.01) as fake:
        settings = ConnectionSettings(stall_timeout_s=0.5, overlap_s=0.1)
        pool = ConnectionPool(fake.ws_url, ["btcusdt@trade"], settings)
        async with running(pool) as received:
            await until(lambda: len(received) >= 10)
            fake.stall(["btcusdt@trade"])  # pings answered, no trades on this connection
            await until(lambda: pool.stalls == 1 and pool.rotations == 1)
            after_stall = len(received)
            await until(lambda: len(received) >= after_stall + 10)
    assert fake.connections_total == 2


async def test_an_abrupt_disconnect_is_followed_by_a_reconnect() -> None:
    tape = trade_tape(("BTCUSDT",), 3000)
    async with FakeBinanceServer(tape, live_interval_s=0.01) as fake:
        pool = ConnectionPool(fake.ws_url, ["btcusdt@trade"])
        async with running(pool) as received:
            await until(lambda: len(received) >= 10)
            await fake.disconnect_all(abrupt=True)  # TCP dropped, no close frame (1006)
            await until(lambda: pool.connections_opened == 2 and pool.connected)
            count = len(received)
            await until(lambda: len(received) > count)
    assert pool.rotations == 0


@pytest.mark.parametrize("stall_s", [0.3])
async def test_connection_is_rotated_when_it_reaches_its_age_limit(stall_s: float) -> None:
    tape = trade_tape(("BTCUSDT",), 3000)
    async with FakeBinanceServer(tape, live_interval_s=0.01) as fake:
        settings = ConnectionSettings(rotate_after_s=stall_s, overlap_s=0.05)
        pool = ConnectionPool(fake.ws_url, ["btcusdt@trade"], settings)
        async with running(pool):
            await until(lambda: pool.rotations >= 2)
            assert fake.open_connections >= 1
    assert fake.connections_total >= 3


async def test_dropping_every_stream_closes_the_connection_and_a_new_stream_opens_one() -> None:
    async with FakeBinanceServer(Tape.from_messages([])) as fake:
        pool = ConnectionPool(fake.ws_url, ["btcusdt@trade"])
        async with running(pool):
            await until(lambda: pool.connected and fake.open_connections == 1)
            await pool.unsubscribe(["btcusdt@trade"])
            await until(lambda: fake.open_connections == 0)
            assert pool.connected and pool.disconnected_for_s == 0  # idle, not broken
            await pool.subscribe(["ethusdt@trade"])
            await until(lambda: fake.active_subscriptions() == {"ethusdt@trade"})
    assert fake.connections_total == 2
