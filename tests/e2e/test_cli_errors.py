"""Expected failures of the real CLI: one line naming the cause and what to change, exit 1,
no traceback, and nothing started."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from services.common.embedded import free_port
from tests.conftest import SAMPLE_CAPTURE
from tests.e2e.conftest import base_env, read_run_file, wait_for_graph
from tests.fakes.binance_exchange_info import FakeExchangeInfo

pytestmark = pytest.mark.e2e


def _quantflow(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "services.cli.main", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def _one_line_failure(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 1, result.stdout + result.stderr
    output = (result.stdout + result.stderr).strip()
    assert "Traceback" not in output
    assert len(output.splitlines()) == 1, output
    return output


def test_up_with_missing_replay_file_stops_before_any_server_starts(tmp_path: Path) -> None:
    data_dir = tmp_path / "qf"
    missing = tmp_path / "nope.jsonl"
    result = _quantflow(
        ["up", "--source", f"replay:{missing}", "--data-dir", str(data_dir)], base_env()
    )
    assert _one_line_failure(result) == (
        f"quantflow up: replay file {missing} does not exist; check --source"
    )
    assert not (data_dir / "postgres").exists() and not (data_dir / "nats").exists()


def test_up_with_graph_port_in_use_names_the_variable(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = base_env(graph_port=str(port))
        result = _quantflow(["up", "--demo", "--data-dir", str(tmp_path / "qf")], env)
    assert _one_line_failure(result) == (
        f"quantflow up: port {port} (graph, on 127.0.0.1) is already in use; "
        "set QUANTFLOW_GRAPH_PORT to a free port"
    )
    assert not (tmp_path / "qf" / "postgres").exists()


def test_up_with_set_grpc_port_in_use_names_the_variable(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = base_env(graph_port=str(free_port()), ingest_grpc_port=str(port))
        result = _quantflow(["up", "--demo", "--data-dir", str(tmp_path / "qf")], env)
    assert _one_line_failure(result).endswith("set QUANTFLOW_INGEST_GRPC_PORT to a free port")


def _closed_port() -> int:
    """A loopback port nothing listens on (bound and released at once)."""
    return free_port()


def test_up_with_unreachable_database_url_names_the_variable_before_starting(
    tmp_path: Path,
) -> None:
    port = _closed_port()
    env = base_env(database_url=f"postgresql://postgres:secret@127.0.0.1:{port}/x")
    result = _quantflow(["up", "--demo", "--data-dir", str(tmp_path / "qf")], env)
    assert _one_line_failure(result) == (
        f"quantflow up: cannot reach PostgreSQL at postgresql://postgres:***@127.0.0.1:{port}/x: "
        "Connection refused; check QUANTFLOW_DATABASE_URL"
    )
    assert not (tmp_path / "qf" / "nats").exists()


def test_serve_storage_with_unreachable_database_is_one_line_not_a_traceback(
    nats_url: str,
) -> None:
    port = _closed_port()
    env = base_env(database_url=f"postgresql://postgres@127.0.0.1:{port}/x", nats_url=nats_url)
    failure = _one_line_failure(_quantflow(["serve", "storage"], env))
    assert failure.startswith(
        f"quantflow: cannot reach PostgreSQL at postgresql://postgres@127.0.0.1:{port}/x: "
    )
    assert failure.endswith("; check QUANTFLOW_DATABASE_URL")


@pytest.mark.parametrize(
    ("symbols", "problem"),
    [
        ("BTCUSDT,NOPEUSDT", "--symbols: unknown symbol on Binance: NOPEUSDT"),
        ("BNBBTC", "--symbols: BNBBTC is not trading on Binance (status BREAK)"),
    ],
)
async def test_up_with_a_symbol_binance_does_not_trade_names_it_before_anything_starts(
    tmp_path: Path, symbols: str, problem: str
) -> None:
    data_dir = tmp_path / "qf"
    async with FakeExchangeInfo() as exchange:
        env = base_env(binance_rest_url=exchange.url)
        args = ["up", "--symbols", symbols, "--data-dir", str(data_dir)]
        result = await asyncio.to_thread(_quantflow, args, env)
    assert _one_line_failure(result) == f"quantflow up: {problem}"
    assert not (data_dir / "postgres").exists() and not (data_dir / "nats").exists()


def test_up_with_bad_source_flag_names_the_flag_once(tmp_path: Path) -> None:
    result = _quantflow(["up", "--source", "kraken"], base_env())
    assert _one_line_failure(result) == (
        "quantflow: --source: use 'binance', 'demo' or 'replay:<path>'"
    )


def test_misspelled_variable_stops_with_the_closest_name(tmp_path: Path) -> None:
    result = _quantflow(["status", "--data-dir", str(tmp_path)], base_env(symbol="BTCUSDT"))
    assert _one_line_failure(result) == (
        "quantflow: QUANTFLOW_SYMBOL is not a QuantFlow setting; did you mean QUANTFLOW_SYMBOLS?"
    )


def test_status_into_a_closed_pipe_exits_without_traceback(tmp_path: Path) -> None:
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone before the first byte, as after `| head -1`
    try:
        result = subprocess.run(
            [sys.executable, "-m", "services.cli.main", "status", "--data-dir", str(tmp_path)],
            env=base_env(),
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            timeout=60,
        )
    finally:
        os.close(write_end)
    assert result.returncode == 1
    assert result.stderr == ""


async def test_up_honours_set_component_ports(
    cli: Any, tmp_path: Path, database_url: str, nats_url: str, namespace: str
) -> None:
    graph_port, ingest_port, storage_metrics = free_port(), free_port(), free_port()
    env = base_env(
        database_url=database_url,
        nats_url=nats_url,
        namespace=namespace,
        graph_port=str(graph_port),
        ingest_grpc_port=str(ingest_port),
        storage_metrics_port=str(storage_metrics),
    )
    data_dir = tmp_path / "qf"
    up = cli(["up", "--source", f"replay:{SAMPLE_CAPTURE}", "--data-dir", str(data_dir)], env)
    await wait_for_graph(f"http://127.0.0.1:{graph_port}", up)
    components = {c["name"]: c for c in read_run_file(data_dir)["components"]}
    assert components["ingest"]["grpc"] == f"127.0.0.1:{ingest_port}"
    assert components["storage"]["metrics"] == f"http://127.0.0.1:{storage_metrics}/metrics"
    assert await up.interrupt() == 0
