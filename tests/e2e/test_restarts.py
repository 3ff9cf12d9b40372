"""Crashes and restarts lose no stored trade and duplicate none; embedded data survives."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from services.common.embedded import free_port
from tests.conftest import HFT_CAPTURE, SAMPLE_CAPTURE
from tests.e2e.conftest import (
    base_env,
    graphql,
    process_alive,
    read_run_file,
    wait_for_graph,
)
from tests.e2e.test_stack import capture_trades, stored_ids, wait_for_count

pytestmark = pytest.mark.e2e


async def test_storage_killed_mid_stream_loses_and_duplicates_nothing(
    cli: Any,
    database_url: str,
    nats_url: str,
    namespace: str,
) -> None:
    trades = capture_trades(HFT_CAPTURE)
    env = base_env(
        database_url=database_url,
        nats_url=nats_url,
        namespace=namespace,
        storage_grpc_port=str(free_port()),
        ingest_grpc_port=str(free_port()),
        storage_metrics_port="0",
        ingest_metrics_port="0",
        # ~346 s of trading at 40× takes ~9 s: storage dies while trades still arrive.
        source=f"replay:{HFT_CAPTURE}",
        replay_speed="40",
        storage_batch_size="200",
    )
    storage = cli(["serve", "storage"], env, name="storage")
    ingest = cli(["serve", "ingest"], env, name="ingest")
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 60
    while len(await stored_ids(database_url)) < 1000:
        assert loop.time() < deadline, storage.output()[-3000:]
        await asyncio.sleep(0.05)
    storage.process.kill()  # SIGKILL: no drain, no goodbye
    await asyncio.to_thread(storage.process.wait)
    at_crash = len(await stored_ids(database_url))
    assert at_crash < len(trades), "the crash came too late to prove anything"

    restarted = cli(["serve", "storage"], env, name="storage-again")
    await wait_for_count(database_url, len(trades))
    await asyncio.sleep(1.0)  # anything redelivered late must not add rows either
    ids = await stored_ids(database_url)
    assert len(ids) == len(set(ids)) == len(trades)
    assert set(ids) == set(trades)
    assert await restarted.interrupt() == 0
    assert await ingest.interrupt() == 0


async def test_up_with_embedded_servers_keeps_data_across_restarts(
    cli: Any,
    tmp_path: Path,
) -> None:
    trades = capture_trades(SAMPLE_CAPTURE)
    graph_port = free_port()
    url = f"http://127.0.0.1:{graph_port}"
    data_dir = tmp_path / "laptop"
    env = base_env(graph_port=str(graph_port))  # no URLs: embedded PostgreSQL and NATS

    first = cli(["up", "--source", f"replay:{SAMPLE_CAPTURE}", "--data-dir", str(data_dir)], env)
    await wait_for_graph(url, first)
    expected = {"price": trades[max(trades)], "tradeId": str(max(trades))}
    query = '{ price(symbol: "BTCUSDT") { price tradeId } }'
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 60
    while (await graphql(url, query)).get("data") != {"price": expected}:
        assert loop.time() < deadline, first.output()[-3000:]
        await asyncio.sleep(0.25)
    assert "GraphiQL: " in first.output()
    assert await first.interrupt() == 0, first.output()[-3000:]
    assert "QuantFlow stopped" in first.output()

    # A capture with no trades in it: whatever the API shows now was stored last time.
    quiet = tmp_path / "no-trades.jsonl"
    quiet.write_text(
        '{"stream":"btcusdt@bookTicker","data":{"u":1,"s":"BTCUSDT","b":"1.0","B":"1.0",'
        '"a":"2.0","A":"1.0"}}\n'
    )
    second = cli(["up", "--source", f"replay:{quiet}", "--data-dir", str(data_dir)], env)
    await wait_for_graph(url, second)
    assert (await graphql(url, query))["data"] == {"price": expected}
    assert await second.interrupt() == 0


async def test_components_stop_when_up_is_killed(
    cli: Any,
    tmp_path: Path,
    database_url: str,
    nats_url: str,
    namespace: str,
) -> None:
    graph_port = free_port()
    data_dir = tmp_path / "qf"
    env = base_env(
        database_url=database_url,
        nats_url=nats_url,
        namespace=namespace,
        graph_port=str(graph_port),
    )
    up = cli(["up", "--source", f"replay:{SAMPLE_CAPTURE}", "--data-dir", str(data_dir)], env)
    await wait_for_graph(f"http://127.0.0.1:{graph_port}", up)
    pids = [component["pid"] for component in read_run_file(data_dir)["components"]]
    assert len(pids) == 5 and all(
        process_alive(pid) for pid in pids
    )  # ingest, storage, backtest, alerts, graph

    up.kill()  # SIGKILL: `up` cannot pass anything on to its children

    loop = asyncio.get_running_loop()
    deadline = loop.time() + 30
    while any(process_alive(pid) for pid in pids):
        assert loop.time() < deadline, f"still running: {[p for p in pids if process_alive(p)]}"
        await asyncio.sleep(0.2)
