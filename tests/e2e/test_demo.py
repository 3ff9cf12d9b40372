"""`quantflow up --demo` as a user runs it, twice on one data directory."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from services.common.embedded import free_port
from tests.conftest import SAMPLE_CAPTURE
from tests.e2e.conftest import CliProcess, base_env, graphql, wait_for_graph
from tests.e2e.test_stack import capture_trades

pytestmark = pytest.mark.e2e

_PRICE = '{ price(symbol: "BTCUSDT") { tradeId } }'


async def _wait_for_trade_id_above(url: str, process: CliProcess, floor: int) -> int:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 30
    while True:
        price = (await graphql(url, _PRICE)).get("data", {}).get("price")
        if price is not None and int(price["tradeId"]) > floor:
            return int(price["tradeId"])
        assert loop.time() < deadline, f"price stuck at {price}:\n{process.output()[-3000:]}"
        await asyncio.sleep(0.25)


async def test_a_second_demo_on_the_same_data_directory_moves_the_price_on_at_once(
    cli: Any, tmp_path: Path
) -> None:
    first_id = min(capture_trades(SAMPLE_CAPTURE))
    graph_port = free_port()
    url = f"http://127.0.0.1:{graph_port}"
    env = base_env(graph_port=str(graph_port))  # embedded PostgreSQL and NATS
    data_dir = str(tmp_path / "laptop")

    # ~25 passes over the 89-trade capture, quickly.
    fast = cli(["up", "--demo", "--speed", "50", "--data-dir", data_dir], env)
    await wait_for_graph(url, fast)
    earlier = await _wait_for_trade_id_above(url, fast, first_id + 25 * 89)
    assert await fast.interrupt() == 0, fast.output()[-3000:]

    # At recorded pace, replaying those passes again would take two minutes: the price
    # moves past the first run's trades within seconds only if the demo resumes after them.
    again = cli(["up", "--demo", "--data-dir", data_dir], env)
    await wait_for_graph(url, again)
    stored = int((await graphql(url, _PRICE))["data"]["price"]["tradeId"])
    assert stored >= earlier
    await _wait_for_trade_id_above(url, again, stored)
    assert "BTCUSDT continues after trade" in again.output()
    assert await again.interrupt() == 0
