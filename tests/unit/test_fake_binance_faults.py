"""The fake Binance server's live mode and fault knobs (tests/fakes/binance_server.py), over
loopback with a plain websockets client."""

from __future__ import annotations

import asyncio
import json

import pytest
from websockets.asyncio.client import connect

from tests.fakes.binance_server import FakeBinanceServer
from tests.fakes.trade_tapes import trade_tape


async def test_live_mode_sends_each_message_once_on_one_timeline_for_all_connections() -> None:
    tape = trade_tape(("BTCUSDT",), 200)
    async with FakeBinanceServer(tape, live_interval_s=0.005) as fake:
        # Unread messages must not hold up the closing handshake: an unbounded receive queue.
        async with connect(f"{fake.ws_url}/stream?streams=btcusdt@trade", max_queue=None) as first:
            first_id = json.loads(await first.recv())["data"]["t"]
            await asyncio.sleep(0.2)  # the tape moves on without the second client
            async with connect(
                f"{fake.ws_url}/stream?streams=btcusdt@trade", max_queue=None
            ) as second:
                joined_at = json.loads(await second.recv())["data"]["t"]
        await asyncio.wait_for(fake.live_finished.wait(), 5)
    assert first_id == 1000
    assert joined_at > 1010  # a late subscriber gets what is sent now, not the start
    assert len(fake.live_sent) < len(tape)  # nobody was subscribed after both closed


async def test_stall_silences_a_stream_on_open_connections_but_not_on_new_ones() -> None:
    tape = trade_tape(("BTCUSDT",), 400)
    async with FakeBinanceServer(tape, live_interval_s=0.005) as fake:
        async with connect(f"{fake.ws_url}/stream?streams=btcusdt@trade") as stalled:
            await stalled.recv()
            fake.stall(["btcusdt@trade"])
            await asyncio.sleep(0.05)
            while True:  # drain what was in flight before the stall
                try:
                    await asyncio.wait_for(stalled.recv(), 0.1)
                except TimeoutError:
                    break
            async with connect(f"{fake.ws_url}/stream?streams=btcusdt@trade") as fresh:
                assert json.loads(await asyncio.wait_for(fresh.recv(), 2))["data"]["s"] == "BTCUSDT"
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(stalled.recv(), 0.2)
            await stalled.ping()  # still answers pings


async def test_client_frame_times_record_every_counted_frame_per_connection() -> None:
    async with FakeBinanceServer(trade_tape(("BTCUSDT",), 1)) as fake:
        async with connect(f"{fake.ws_url}/ws") as ws:
            for n in range(3):
                await ws.send(json.dumps({"method": "LIST_SUBSCRIPTIONS", "id": n}))
                await ws.recv()
        async with connect(f"{fake.ws_url}/ws"):
            pass
    frames = fake.client_frame_times()
    assert [len(times) for times in frames] == [3, 0]
    assert frames[0] == sorted(frames[0])
