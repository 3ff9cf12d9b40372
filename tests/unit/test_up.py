"""Unit tests for services/cli/up.py: port planning and the supervisor's restart loop.

The supervised server here is a stand-in process handle (our own, not a database or bus):
what is under test is when `up` restarts, waits and records, not the server itself.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from services.cli.up import RUN_FILE, Server, Stack
from services.common.settings import Settings
from tests.integration.helpers import eventually


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in list(os.environ):
        if key.upper().startswith("QUANTFLOW_"):
            monkeypatch.delenv(key)


def test_plan_honours_set_ports_and_picks_free_ones_for_the_rest(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("QUANTFLOW_INGEST_GRPC_PORT", "7602")
    monkeypatch.setenv("QUANTFLOW_STORAGE_METRICS_PORT", "9601")
    stack = Stack(Settings(data_dir=tmp_path, graph_grpc_port=7603))
    stack._plan()
    ports = {c.name: c.grpc_port for c in stack.components}
    assert ports["ingest"] == 7602 and ports["graph"] == 7603
    assert ports["storage"] != 7101  # unset: a free port, not the default
    env = stack.components[0].env
    assert env["QUANTFLOW_INGEST_GRPC_PORT"] == "7602"
    assert env["QUANTFLOW_STORAGE_METRICS_PORT"] == "9601"
    assert env["QUANTFLOW_INGEST_METRICS_PORT"] not in ("9102", "0")


def test_plan_points_graph_at_ingest_for_run_time_subscriptions(tmp_path: Path) -> None:
    stack = Stack(Settings(data_dir=tmp_path, ingest_grpc_port=7602))
    stack._plan()
    assert all(c.env["QUANTFLOW_INGEST_TARGET"] == "127.0.0.1:7602" for c in stack.components)


def test_plan_starts_the_backtest_service_before_graph_and_points_graph_at_it(
    tmp_path: Path,
) -> None:
    stack = Stack(Settings(data_dir=tmp_path, backtest_grpc_port=7604))
    stack._plan()
    assert [c.name for c in stack.components] == [
        "storage",
        "ingest",
        "backtest",
        "alerts",
        "graph",
    ]
    assert all(c.env["QUANTFLOW_BACKTEST_TARGET"] == "127.0.0.1:7604" for c in stack.components)
    (backtest,) = [c for c in stack.components if c.name == "backtest"]
    assert backtest.env["QUANTFLOW_BACKTEST_METRICS_PORT"] not in ("9104", "0")


def test_plan_hands_the_captured_symbols_and_streams_to_every_component(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, symbols=("ETHUSDT",), streams=("trade", "kline_1h"))
    stack = Stack(settings)
    stack._plan()
    (ingest,) = [c for c in stack.components if c.name == "ingest"]
    assert ingest.env["QUANTFLOW_SYMBOLS"] == "ETHUSDT"
    assert ingest.env["QUANTFLOW_STREAMS"] == "trade,kline_1h"


@dataclass
class _Handle:
    port: int
    pid: int
    running: bool = True

    def is_running(self) -> bool:
        return self.running

    def stop(self) -> None:
        self.running = False


class _Launcher:
    """Starts a new handle on the port asked for, each with the next pid."""

    def __init__(self) -> None:
        self.handles: list[_Handle] = []

    def __call__(self, port: int | None) -> _Handle:
        handle = _Handle(port or 4321, pid=1000 + len(self.handles))
        self.handles.append(handle)
        return handle


async def _until(condition: Callable[[], bool]) -> None:
    async def holds() -> bool:
        return condition()

    await eventually(holds, timeout=10.0)


async def test_restart_backoff_ends_as_soon_as_stop_is_set(tmp_path: Path) -> None:
    stack = Stack(Settings(data_dir=tmp_path))
    launcher = _Launcher()
    stack.nats = Server("nats", launcher)
    await stack.nats.start()
    stack.nats.restarts = 10  # the next wait is the longest one, 30 s
    stop = asyncio.Event()
    supervising = asyncio.create_task(stack.supervise(stop))
    launcher.handles[0].running = False
    await _until(lambda: stack.nats is not None and stack.nats.restarts == 11)
    stop.set()
    # Far less than the 30 s backoff: the wait ended with `stop`, not with its delay.
    await asyncio.wait_for(supervising, 5.0)
    assert len(launcher.handles) == 1


async def test_server_restarts_on_its_old_port_and_run_file_gets_its_new_pid(
    tmp_path: Path,
) -> None:
    stack = Stack(Settings(data_dir=tmp_path))
    launcher = _Launcher()
    stack.nats = Server("nats", launcher)
    await stack.nats.start()
    stack.write_run_file()
    assert json.loads((tmp_path / RUN_FILE).read_text())["nats"]["pid"] == 1000
    stop = asyncio.Event()
    supervising = asyncio.create_task(stack.supervise(stop))
    launcher.handles[0].running = False  # as after kill -9
    await _until(lambda: len(launcher.handles) == 2)
    await _until(lambda: json.loads((tmp_path / RUN_FILE).read_text())["nats"]["pid"] == 1001)
    stop.set()
    await supervising
    assert launcher.handles[1].port == launcher.handles[0].port
    assert json.loads((tmp_path / RUN_FILE).read_text())["nats"]["restarts"] == 1


def test_plan_starts_alerts_before_graph_and_points_graph_at_it(tmp_path: Path) -> None:
    stack = Stack(Settings(data_dir=tmp_path, alerts_grpc_port=7605))
    stack._plan()
    names = [c.name for c in stack.components]
    assert names.index("storage") < names.index("alerts") < names.index("graph")
    assert all(c.env["QUANTFLOW_ALERTS_TARGET"] == "127.0.0.1:7605" for c in stack.components)
    (alerts,) = [c for c in stack.components if c.name == "alerts"]
    assert alerts.env["QUANTFLOW_ALERTS_GRPC_PORT"] == "7605"
    assert alerts.env["QUANTFLOW_ALERTS_METRICS_PORT"] not in ("9105", "0")
