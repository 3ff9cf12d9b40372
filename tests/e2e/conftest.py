"""Running the real CLI as a user would: `quantflow up` / `quantflow serve` subprocesses."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from services.common.embedded import free_port


class CliProcess:
    """One `quantflow …` subprocess with its output in a log file."""

    def __init__(self, args: list[str], env: dict[str, str], log_path: Path) -> None:
        self.log_path = log_path
        self._log = log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "services.cli.main", *args],
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    async def interrupt(self, timeout: float = 45.0) -> int:
        """Ctrl-C, as a user stops `quantflow up`; returns the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
        code = await asyncio.to_thread(self.process.wait, timeout)
        self._log.close()
        return code

    async def run_to_end(self, timeout: float = 60.0) -> int:
        code = await asyncio.to_thread(self.process.wait, timeout)
        self._log.close()
        return code

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self._log.close()

    def stop(self) -> None:
        """Ctrl-C, then SIGKILL if that is not enough: `up` gets to stop what it started."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(45)
            except subprocess.TimeoutExpired:
                pass
        self.kill()


async def wait_for_graph(url: str, process: CliProcess, timeout: float = 90.0) -> None:
    """Until `quantflow up` has printed its banner (every component is healthy) and the
    gateway answers: what a user waits for before opening GraphiQL."""
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient() as client:
        while time.monotonic() < deadline:
            if process.process.poll() is not None:
                raise AssertionError(f"quantflow exited early:\n{process.output()[-4000:]}")
            try:
                healthy = (await client.get(f"{url}/healthz", timeout=1)).status_code == 200
                if healthy and "QuantFlow is up." in process.output():
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.2)
    raise AssertionError(f"graph never became healthy:\n{process.output()[-4000:]}")


async def graphql(url: str, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
    async with httpx.AsyncClient() as client:
        response = await client.post(
            f"{url}/graphql", json={"query": query, "variables": variables or {}}, timeout=10
        )
    response.raise_for_status()
    body: dict[str, Any] = response.json()
    return body


def process_alive(pid: int) -> bool:
    """True while ``pid`` runs; a zombie waiting for its reaper counts as ended."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    if stat.exists():
        try:
            return stat.read_text().rsplit(")", 1)[1].split()[0] != "Z"
        except (OSError, IndexError):
            return False
    return True


def read_run_file(data_dir: Path) -> dict[str, Any]:
    state: dict[str, Any] = json.loads((data_dir / "run.json").read_text())
    return state


@pytest.fixture
def cli(tmp_path: Path) -> Iterator[Any]:
    """Start CLI processes; any still running at the end (a failed test) is stopped."""
    started: list[CliProcess] = []

    def start(args: list[str], env: dict[str, str], name: str = "quantflow") -> CliProcess:
        process = CliProcess(args, env, tmp_path / f"{name}-{len(started)}.log")
        started.append(process)
        return process

    yield start
    for process in started:
        process.stop()


def base_env(**values: str) -> dict[str, str]:
    """The test's environment without any QUANTFLOW_ setting of the caller's, plus ``values``.

    Binance's REST API is pointed at a closed loopback port unless a test gives one: a gap
    found during a test must never send a request to the real exchange."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUANTFLOW_")}
    values = {"binance_rest_url": f"http://127.0.0.1:{free_port()}", **values}
    env.update({f"QUANTFLOW_{k.upper()}": v for k, v in values.items()})
    return env
