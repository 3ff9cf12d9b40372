"""The whole system through its CLI and GraphQL, fed by the fake Binance server replaying a
real capture: exchange → ingest → JetStream → storage → PostgreSQL → gRPC → GraphQL."""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path
from typing import Any

import asyncpg
import nats
import pytest
from websockets.asyncio.client import connect
from websockets.typing import Subprotocol

from services.common import names
from services.common.embedded import free_port
from services.ingest.recordings import read_recording
from tests.conftest import HFT_CAPTURE
from tests.e2e.conftest import base_env, graphql, wait_for_graph
from tests.fakes.binance_server import FakeBinanceServer, Tape

pytestmark = pytest.mark.e2e

# The capture spans ~346 s; at 60× the fake streams it in about 6 s.
REPLAY_SPEED = 60.0


def capture_trades(path: Path) -> dict[int, str]:
    """trade id → price of every trade message in a capture."""
    trades = {}
    for recorded in read_recording(path):
        message = json.loads(recorded.text)
        if message.get("stream", "").endswith("@trade"):
            trades[message["data"]["t"]] = message["data"]["p"]
    return trades


async def stored_ids(database_url: str) -> list[int]:
    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch("SELECT trade_id FROM trades WHERE symbol = 'BTCUSDT'")
    except asyncpg.UndefinedTableError:
        return []  # storage has not applied its migrations yet
    finally:
        await conn.close()
    return [r["trade_id"] for r in rows]


async def wait_for_count(database_url: str, expected: int, timeout: float = 120.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    count = -1
    while loop.time() < deadline:
        count = len(await stored_ids(database_url))
        if count >= expected:
            return
        await asyncio.sleep(0.25)
    raise AssertionError(f"{count} trades stored, expected {expected}")


async def subscribe_trades(url: str, received: list[dict[str, Any]], wanted: int) -> None:
    """A graphql-transport-ws client, as GraphiQL or Apollo would speak it."""
    ws_url = url.replace("http://", "ws://") + "/graphql"
    async with connect(ws_url, subprotocols=[Subprotocol("graphql-transport-ws")]) as socket:
        await socket.send(json.dumps({"type": "connection_init"}))
        assert json.loads(await socket.recv())["type"] == "connection_ack"
        await socket.send(
            json.dumps(
                {
                    "id": "1",
                    "type": "subscribe",
                    "payload": {
                        "query": 'subscription { trades(symbols: ["BTCUSDT"]) '
                        "{ symbol tradeId price quantity tradeTimeMs } }"
                    },
                }
            )
        )
        while len(received) < wanted:
            message = json.loads(await socket.recv())
            if message["type"] == "next":
                received.append(message["payload"]["data"]["trades"])
            elif message["type"] != "ping":
                raise AssertionError(f"unexpected message {message}")


async def consumer_caught_up(nats_url: str, namespace: str) -> bool:
    nc = await nats.connect(nats_url)
    try:
        info = await nc.jetstream().consumer_info(
            names.market_stream(namespace), names.storage_market_durable(namespace)
        )
    finally:
        await nc.close()
    return bool(info.num_pending == 0 and info.num_ack_pending == 0)


async def test_live_capture_flows_to_graphql_and_a_second_replay_adds_nothing(
    cli: Any,
    database_url: str,
    nats_url: str,
    namespace: str,
    tmp_path: Path,
) -> None:
    trades = capture_trades(HFT_CAPTURE)
    last_price = trades[max(trades)]
    graph_port = free_port()
    url = f"http://127.0.0.1:{graph_port}"
    env = base_env(
        database_url=database_url,
        nats_url=nats_url,
        namespace=namespace,
        graph_port=str(graph_port),
        data_dir=str(tmp_path / "qf"),
        symbols="BTCUSDT",
    )

    async with FakeBinanceServer(Tape.from_file(HFT_CAPTURE), speed=REPLAY_SPEED) as fake:
        up = cli(["up"], {**env, "QUANTFLOW_BINANCE_WS_URL": fake.ws_url})
        await wait_for_graph(url, up)
        received: list[dict[str, Any]] = []
        await asyncio.wait_for(subscribe_trades(url, received, wanted=20), 60)
        await wait_for_count(database_url, len(trades))

        answer = await graphql(
            url,
            '{ price(symbol: "BTCUSDT") { symbol price tradeId '
            "tradeTimeMs tradeTime } prices { symbol price } }",
        )
        assert "errors" not in answer, answer
        assert answer["data"]["price"]["price"] == last_price
        assert answer["data"]["price"]["tradeId"] == str(max(trades))  # Int64: a string
        assert answer["data"]["prices"] == [{"symbol": "BTCUSDT", "price": last_price}]
        partial = await graphql(
            url,
            '{ price(symbol: "BTCUSDT") { price } missing: price(symbol: "DOGEUSDT") { price } }',
        )
        assert partial["data"] == {"price": {"price": last_price}, "missing": None}
        [error] = partial["errors"]
        assert error["path"] == ["missing"]
        assert error["extensions"]["code"] == "NOT_FOUND"

        # The backtest service runs beside them, reached by the gateway and reaching storage.
        listed = await graphql(url, "{ strategies { name } }")
        assert "sma_cross" in {s["name"] for s in listed["data"]["strategies"]}, listed
        empty = await graphql(
            url,
            'mutation { runBacktest(input: {symbol: "BTCUSDT", interval: "1d", '
            'from: "2001-01-01T00:00:00Z", to: "2001-02-01T00:00:00Z", strategy: "sma_cross"}) '
            "{ id } }",
        )
        [error] = empty["errors"]
        assert error["extensions"]["code"] == "NOT_FOUND" and "BTCUSDT 1d" in error["message"]

        status = cli(["status", "--data-dir", str(tmp_path / "qf")], env, name="status")
        assert await status.run_to_end() == 0, status.output()
        assert status.output().count("SERVING") == 5
        assert "strategies" in status.output()
        assert "0 rules of the local user" in status.output()
        assert await up.interrupt() == 0, up.output()[-3000:]

    for trade in received:
        assert trade["symbol"] == "BTCUSDT"
        assert isinstance(trade["tradeId"], str)  # Int64 keeps every digit for JavaScript
        assert trades[int(trade["tradeId"])] == trade["price"]
    ids = await stored_ids(database_url)
    assert len(ids) == len(set(ids)) == len(trades)
    assert set(ids) == set(trades)
    assert not (tmp_path / "qf" / "run.json").exists()

    # The same capture again, from the file this time: nothing new may be stored.
    again = cli(["up", "--source", f"replay:{HFT_CAPTURE}"], env)
    await wait_for_graph(url, again)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 90
    while "finished" not in await _ingest_state(cli, env, tmp_path):
        assert loop.time() < deadline, "the replay never finished"
        await asyncio.sleep(0.5)
    while not await consumer_caught_up(nats_url, namespace):
        assert loop.time() < deadline, "storage never caught up"
        await asyncio.sleep(0.25)
    assert await again.interrupt() == 0
    ids = await stored_ids(database_url)
    assert len(ids) == len(trades)


async def _ingest_state(cli: Any, env: dict[str, str], tmp_path: Path) -> str:
    status = cli(
        ["status", "--data-dir", str(tmp_path / "qf")], env, name=f"status-{uuid.uuid4().hex[:6]}"
    )
    await status.run_to_end()
    return next((line for line in status.output().splitlines() if "ingest" in line), "")
