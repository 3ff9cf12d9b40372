"""`quantflow up` keeps its embedded servers and components running, and `status` says
when they are not: kill -9 of NATS, PostgreSQL or a component, an unreachable exchange."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from services.common.embedded import free_port
from tests.conftest import SAMPLE_CAPTURE
from tests.e2e.conftest import base_env, process_alive, read_run_file, wait_for_graph
from tests.fakes.binance_server import FakeBinanceServer, Tape

pytestmark = pytest.mark.e2e


async def _status(cli: Any, data_dir: Path, env: dict[str, str]) -> tuple[int, str]:
    status = cli(["status", "--data-dir", str(data_dir)], env, name="status")
    code = await status.run_to_end()
    return code, status.output()


async def _trade_count(database_url: str) -> int:
    try:
        conn = await asyncpg.connect(database_url, timeout=2)
    except (OSError, asyncpg.PostgresError, TimeoutError):
        return -1  # down or starting: not a count
    try:
        return int(await conn.fetchval("SELECT count(*) FROM trades"))
    except asyncpg.PostgresError:
        return -1
    finally:
        await conn.close()


async def _poll(check: Any, what: str, timeout: float = 40.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await check():
        assert loop.time() < deadline, what
        await asyncio.sleep(0.25)


async def _kill_server_and_see_it_restarted(cli: Any, tmp_path: Path, server: str) -> None:
    graph_port = free_port()
    data_dir = tmp_path / "qf"
    env = base_env(graph_port=str(graph_port))  # no URLs: embedded PostgreSQL and NATS
    up = cli(["up", "--demo", "--speed", "20", "--data-dir", str(data_dir)], env)
    await wait_for_graph(f"http://127.0.0.1:{graph_port}", up)
    state = read_run_file(data_dir)
    database_url = state["postgres"]["url"]
    old_pid = state[server]["pid"]

    async def trades_stored() -> bool:
        return await _trade_count(database_url) > 0

    await _poll(trades_stored, "no trade was stored")

    os.kill(old_pid, signal.SIGKILL)
    code, output = await _status(cli, data_dir, env)
    if read_run_file(data_dir)[server]["pid"] == old_pid:  # not restarted yet: must be down
        assert code == 1, output
        assert f"{server:<9} DOWN" in output

    async def restarted() -> bool:
        pid = read_run_file(data_dir)[server]["pid"]
        return bool(pid != old_pid and process_alive(pid))

    await _poll(restarted, f"{server} was not restarted:\n{up.output()[-3000:]}")
    assert read_run_file(data_dir)[server]["url"] == state[server]["url"]  # the same port
    before = await _trade_count(database_url)

    async def flowing_and_healthy() -> bool:
        if await _trade_count(database_url) <= before:
            return False
        return (await _status(cli, data_dir, env))[0] == 0

    await _poll(flowing_and_healthy, f"no recovery after {server} restart:\n{up.output()[-3000:]}")
    assert await up.interrupt() == 0, up.output()[-3000:]


async def test_killed_embedded_nats_is_restarted_and_trades_flow_again(
    cli: Any, tmp_path: Path
) -> None:
    await _kill_server_and_see_it_restarted(cli, tmp_path, "nats")


async def test_killed_embedded_postgres_is_restarted_and_trades_flow_again(
    cli: Any, tmp_path: Path
) -> None:
    await _kill_server_and_see_it_restarted(cli, tmp_path, "postgres")


async def test_restarted_component_has_its_new_pid_in_the_run_file(
    cli: Any, tmp_path: Path, database_url: str, nats_url: str, namespace: str
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

    def storage_pid() -> int:
        [storage] = [c for c in read_run_file(data_dir)["components"] if c["name"] == "storage"]
        return int(storage["pid"])

    old_pid = storage_pid()
    os.kill(old_pid, signal.SIGKILL)

    async def restarted() -> bool:
        return storage_pid() != old_pid and process_alive(storage_pid())

    await _poll(restarted, f"run file still names pid {old_pid}")

    async def healthy() -> bool:
        return (await _status(cli, data_dir, env))[0] == 0

    await _poll(healthy, "status never healthy after the restart")
    assert await up.interrupt() == 0


async def test_status_fails_while_binance_is_unreachable_and_passes_once_connected(
    cli: Any, tmp_path: Path, database_url: str, nats_url: str, namespace: str
) -> None:
    graph_port = free_port()
    data_dir = tmp_path / "qf"
    env = base_env(
        database_url=database_url,
        nats_url=nats_url,
        namespace=namespace,
        graph_port=str(graph_port),
        binance_ws_url=f"ws://127.0.0.1:{free_port()}",  # nothing listens there
    )
    up = cli(["up", "--data-dir", str(data_dir)], env)
    await wait_for_graph(f"http://127.0.0.1:{graph_port}", up)
    outputs: list[str] = []

    async def failing() -> bool:
        code, output = await _status(cli, data_dir, env)
        outputs.append(output)
        return code == 1 and "not connected, never was: ConnectionRefusedError" in output

    await _poll(failing, f"status did not fail: {outputs[-1:]}")
    assert "cannot reach Binance at ws://127.0.0.1:" in up.output()
    assert "connection lost" not in up.output()
    assert await up.interrupt() == 0

    async with FakeBinanceServer(Tape.from_file(SAMPLE_CAPTURE)) as fake:
        up = cli(
            ["up", "--data-dir", str(data_dir)], {**env, "QUANTFLOW_BINANCE_WS_URL": fake.ws_url}
        )
        await wait_for_graph(f"http://127.0.0.1:{graph_port}", up)

        async def passing() -> bool:
            code, output = await _status(cli, data_dir, env)
            outputs.append(output)
            return code == 0 and "(connected)" in output

        await _poll(passing, f"status did not pass: {outputs[-1:]}")
        assert await up.interrupt() == 0
