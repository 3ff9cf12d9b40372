"""The dashboards and alert rules against a real run: storage, ingest (replaying a real
capture), backtest and graph as `quantflow serve` processes — what each container runs —
with each one's /metrics scraped once trades are stored. Every metric a dashboard or rule
uses must be in some service's scrape, and each service's own metrics in its own."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from services.common.embedded import free_port
from tests.conftest import SAMPLE_CAPTURE
from tests.e2e.conftest import base_env
from tests.e2e.test_stack import stored_ids
from tests.unit.deploy.test_deploy_metrics import (
    PROMETHEUS_SERIES,
    SUFFIXES,
    dashboard_expressions,
    metric_names,
    rule_expressions,
)

pytestmark = pytest.mark.e2e


def _series(exposition: str) -> set[str]:
    """The series names a scrape can hold: a family with no sample yet (a labelled counter
    nothing has counted) still names itself in its # TYPE line."""
    return {
        family.name + suffix
        for family in text_string_to_metric_families(exposition)
        for suffix in SUFFIXES[family.type]
    }


async def _scrape(url: str, process: Any) -> str:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 60
    async with httpx.AsyncClient() as client:
        while True:
            assert process.process.poll() is None, process.output()[-3000:]
            try:
                response = await client.get(url, timeout=2)
                if response.status_code == 200:
                    return response.text
            except httpx.HTTPError:
                pass
            assert loop.time() < deadline, f"{url} never answered:\n{process.output()[-3000:]}"
            await asyncio.sleep(0.25)


async def test_dashboards_and_rules_use_only_metrics_a_real_run_exports(
    cli: Any, database_url: str, nats_url: str, namespace: str
) -> None:
    ports = {name: free_port() for name in ("storage", "ingest", "backtest", "graph")}
    metrics = {name: free_port() for name in ("storage", "ingest", "backtest")}
    graph_http = free_port()
    env = base_env(
        database_url=database_url,
        nats_url=nats_url,
        namespace=namespace,
        source=f"replay:{SAMPLE_CAPTURE}",
        graph_port=str(graph_http),
        **{f"{name}_grpc_port": str(port) for name, port in ports.items()},
        **{f"{name}_metrics_port": str(port) for name, port in metrics.items()},
        storage_target=f"127.0.0.1:{ports['storage']}",
        ingest_target=f"127.0.0.1:{ports['ingest']}",
        backtest_target=f"127.0.0.1:{ports['backtest']}",
    )
    processes = {name: cli(["serve", name], env, name=name) for name in ports}

    loop = asyncio.get_running_loop()
    deadline = loop.time() + 90
    while not await stored_ids(database_url):
        assert loop.time() < deadline, processes["storage"].output()[-3000:]
        await asyncio.sleep(0.25)

    scraped = {
        name: _series(await _scrape(f"http://127.0.0.1:{port}/metrics", processes[name]))
        for name, port in metrics.items()
    }
    scraped["graph"] = _series(
        await _scrape(f"http://127.0.0.1:{graph_http}/metrics", processes["graph"])
    )
    everything = set().union(*scraped.values()) | PROMETHEUS_SERIES

    used: dict[str, str] = {}
    for where, expression in [*dashboard_expressions(), *rule_expressions()]:
        for name in metric_names(expression):
            used.setdefault(name, where)
    missing = {name: where for name, where in used.items() if name not in everything}
    assert not missing, f"used but exported by no service of a real run: {missing}"

    # Each service's own metrics come from that service's process.
    for name in ("storage", "ingest", "backtest"):
        own = {m for m in used if m.startswith(f"quantflow_{name}_")}
        assert own and own <= scraped[name], (name, own - scraped[name])
    for name, series in scraped.items():
        assert "process_cpu_seconds_total" in series, name

    for process in processes.values():
        assert await process.interrupt() == 0, process.output()[-3000:]
