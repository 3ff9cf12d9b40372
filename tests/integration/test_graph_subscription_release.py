"""Subscriptions are released when their client goes away: hundreds of graphql-transport-ws
subscriptions (trades, alertFired, jobProgress) are opened against the gateway, each seen as a
NATS subscription of the gateway's connection on the server's own monitoring endpoint
(`/connz`), then dropped (some completed, most by closing the socket, a few by cutting the
TCP connection without a close frame); afterwards the server counts none of them and the
gateway's process runs no more asyncio tasks than before.

A nats-server of its own (JetStream, monitoring on) so `/connz` sees only this test's
connections; PostgreSQL, the backtest service and the gateway are real, on loopback."""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
import pytest_asyncio
from websockets.asyncio.client import ClientConnection, connect
from websockets.typing import Subprotocol

from quantflow.backtest.v1 import backtest_service_pb2 as pb
from services.backtest import service as backtest_service
from services.backtest.job_runner import backtest_request
from services.backtest.job_store import JobStore
from services.backtest.jobs import JobKind
from services.backtest.runner import check_request
from services.common.embedded import free_port, nats_server_binary
from services.common.settings import Settings
from services.storage.repository import prepare_connection
from tests.integration.graph_helpers import gateway
from tests.integration.helpers import eventually, running, service_settings

pytestmark = pytest.mark.integration

PER_KIND = 100  # 300 subscriptions in all
_CONNECT_BATCH = 25


@pytest.fixture
def monitored_nats(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """A nats-server with JetStream and its monitoring endpoint: (client URL, monitor URL)."""
    port, monitor = free_port(), free_port()
    process = subprocess.Popen(
        [
            str(nats_server_binary()),
            "--addr",
            "127.0.0.1",
            "--port",
            str(port),
            "--http_port",
            str(monitor),
            "--jetstream",
            "--store_dir",
            str(tmp_path / "nats"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield f"nats://127.0.0.1:{port}", f"http://127.0.0.1:{monitor}"
    finally:
        process.terminate()
        process.wait(15)


async def _gateway_subscriptions(monitor: str) -> int:
    """How many subscriptions the server holds for the gateway's connection (named "graph")."""
    async with httpx.AsyncClient() as client:
        connz = (await client.get(f"{monitor}/connz", params={"subs": "1"}, timeout=5)).json()
    return sum(
        int(c.get("subscriptions", 0)) for c in connz["connections"] if c.get("name") == "graph"
    )


@pytest_asyncio.fixture
async def stack(
    database_url: str, monitored_nats: tuple[str, str], namespace: str
) -> AsyncIterator[tuple[Settings, str, str]]:
    """The backtest service and the gateway on the monitored server, and one QUEUED job (never
    put on the work queue, so it stays QUEUED and `jobProgress` keeps following it)."""
    nats_url, monitor = monitored_nats

    async def nats_up() -> bool:
        try:
            async with httpx.AsyncClient() as client:
                return (await client.get(f"{monitor}/healthz", timeout=1)).status_code == 200
        except httpx.HTTPError:
            return False

    await eventually(nats_up)
    settings = service_settings(database_url, nats_url, namespace)
    async with running(backtest_service.run, settings, settings.backtest_grpc_port):
        pool = await asyncpg.create_pool(
            database_url, min_size=1, max_size=1, init=prepare_connection
        )
        try:
            given = pb.BacktestInput(
                symbol="BTCUSDT",
                interval="1h",
                from_ms=1_662_508_800_000,
                to_ms=1_662_595_200_000,
                strategy="sma_cross",
            )
            job = await JobStore(pool).create(
                JobKind.BACKTEST, backtest_request(check_request(given))
            )
        finally:
            await pool.close()
        async with gateway(settings):
            yield settings, monitor, job.id


async def _open(url: str, document: str) -> ClientConnection:
    socket = await connect(url, subprotocols=[Subprotocol("graphql-transport-ws")])
    await socket.send(json.dumps({"type": "connection_init", "payload": {}}))
    assert json.loads(await asyncio.wait_for(socket.recv(), 30))["type"] == "connection_ack"
    await socket.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": document}}))
    return socket


async def _drop(index: int, socket: ClientConnection) -> None:
    """Go away: every tenth completes first, every seventh cuts TCP without a close frame,
    the rest close the socket."""
    if index % 10 == 0:
        await socket.send(json.dumps({"id": "1", "type": "complete"}))
    if index % 7 == 0:
        socket.transport.abort()
        return
    with contextlib.suppress(Exception):
        await asyncio.wait_for(socket.close(), 10)


async def _active_gauge(settings: Settings) -> float:
    """The gateway's own count of open subscriptions, from its /metrics."""
    async with httpx.AsyncClient() as client:
        text = (await client.get(f"http://127.0.0.1:{settings.graph_port}/metrics")).text
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("quantflow_graph_active_subscriptions{")
    )


def _task_count() -> int:
    return len(asyncio.all_tasks())


async def test_hundreds_of_dropped_subscriptions_leave_no_nats_subscription_or_task(
    stack: tuple[Settings, str, str],
) -> None:
    settings, monitor, job_id = stack
    url = f"ws://127.0.0.1:{settings.graph_port}/graphql"
    documents = [
        'subscription { trades(symbols: ["BTCUSDT"]) { tradeId price } }',
        "subscription { alertFired { firingId ruleId } }",
        f'subscription {{ jobProgress(id: "{job_id}") {{ state progress }} }}',
    ]
    baseline_subs = await _gateway_subscriptions(monitor)
    baseline_tasks = _task_count()
    baseline_gauge = await _active_gauge(settings)

    sockets: list[ClientConnection] = []
    wanted = [documents[i % len(documents)] for i in range(PER_KIND * len(documents))]
    for start in range(0, len(wanted), _CONNECT_BATCH):
        batch = wanted[start : start + _CONNECT_BATCH]
        sockets.extend(await asyncio.gather(*(_open(url, d) for d in batch)))

    async def all_subscribed() -> bool:
        return await _gateway_subscriptions(monitor) == baseline_subs + len(sockets)

    await eventually(all_subscribed, timeout=60)
    assert await _active_gauge(settings) == baseline_gauge + len(sockets)
    # Each one is live: jobProgress has answered the job's state already.
    assert _task_count() > baseline_tasks + len(sockets)

    await asyncio.gather(*(_drop(i, s) for i, s in enumerate(sockets)))

    async def all_released() -> bool:
        return await _gateway_subscriptions(monitor) == baseline_subs

    await eventually(all_released, timeout=60)

    async def tasks_back() -> bool:
        return _task_count() <= baseline_tasks

    await eventually(tasks_back, timeout=60)
    assert await _active_gauge(settings) == baseline_gauge
    leftover: list[Any] = [t for t in asyncio.all_tasks() if "websocket" in repr(t).lower()]
    assert leftover == []
