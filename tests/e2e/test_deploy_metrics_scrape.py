"""The chart's observability and its `helm test` against a real run: storage, ingest
(replaying a real capture), backtest, alerts and graph as `quantflow serve` processes — what each
container runs. Every metric a dashboard or rule uses must be in some service's /metrics
scrape (each service's own metrics in its own), and the check script of the chart's
`helm test` pod passes against the running services (and fails when one is down)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from services.cli import helm_check
from services.common.auth.tokens import add_key
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


class Stack:
    """The five services as processes, with their ports."""

    def __init__(
        self,
        cli: Any,
        database_url: str,
        nats_url: str,
        namespace: str,
        settings: dict[str, str] | None = None,
    ) -> None:
        self.ports = {
            name: free_port() for name in ("storage", "ingest", "backtest", "alerts", "graph")
        }
        self.metrics = {name: free_port() for name in ("storage", "ingest", "backtest", "alerts")}
        self.graph_http = free_port()
        env = _env(database_url, nats_url, namespace, self.ports, self.metrics, self.graph_http)
        env.update({f"QUANTFLOW_{k.upper()}": v for k, v in (settings or {}).items()})
        self.processes = {name: cli(["serve", name], env, name=name) for name in self.ports}

    async def until_trades_stored(self, database_url: str) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 90
        while not await stored_ids(database_url):
            assert loop.time() < deadline, self.processes["storage"].output()[-3000:]
            await asyncio.sleep(0.25)

    async def stop(self) -> None:
        for process in self.processes.values():
            if process.process.poll() is None:
                assert await process.interrupt() == 0, process.output()[-3000:]


def _env(
    database_url: str,
    nats_url: str,
    namespace: str,
    ports: dict[str, int],
    metrics: dict[str, int],
    graph_http: int,
) -> dict[str, str]:
    return base_env(
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
        alerts_target=f"127.0.0.1:{ports['alerts']}",
    )


async def test_dashboards_and_rules_use_only_metrics_a_real_run_exports(
    cli: Any, database_url: str, nats_url: str, namespace: str
) -> None:
    stack = Stack(cli, database_url, nats_url, namespace)
    processes, metrics, graph_http = stack.processes, stack.metrics, stack.graph_http
    await stack.until_trades_stored(database_url)

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
    for name in ("storage", "ingest", "backtest", "alerts"):
        own = {m for m in used if m.startswith(f"quantflow_{name}_")}
        assert own and own <= scraped[name], (name, own - scraped[name])
    for name, series in scraped.items():
        assert "process_cpu_seconds_total" in series, name

    await stack.stop()


def _helm_test_pod() -> dict[str, Any]:
    try:
        helm = helm_check.helm_binary()
    except helm_check.HelmUnavailable as error:
        if os.environ.get("CI"):
            pytest.fail(f"CI must check the chart: {error}")
        pytest.skip(str(error))
    values = helm_check.CHART / "ci" / "values-minimal.yaml"
    # Rendered without alerts: the check then covers the four services whose start-up it
    # can wait for (alerts turns SERVING only once its consumer exists).
    rendered = helm_check.render(helm, values, "--set", "alerts.enabled=false")
    (pod,) = [m for m in yaml.safe_load_all(rendered) if m and m["kind"] == "Pod"]
    found: dict[str, Any] = pod
    return found


def _run_check(pod: dict[str, Any], targets: dict[str, str], url: str) -> Any:
    container = pod["spec"]["containers"][0]
    assert container["command"] == ["python", "-c"]
    script = container["args"][0]
    return subprocess.run(
        [sys.executable, "-c", script, json.dumps(targets), url],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


async def test_the_helm_test_check_passes_against_running_services(
    cli: Any, database_url: str, nats_url: str, namespace: str, tmp_path: Path
) -> None:
    pod = _helm_test_pod()
    chart_targets = json.loads(pod["spec"]["containers"][0]["args"][1])
    # As in the cluster: the service token checked by every server, auth required, the
    # signing key from a mounted directory. The check pod has neither token nor login.
    keys = tmp_path / "jwt-keys"
    add_key(keys, datetime.now(UTC))
    stack = Stack(
        cli,
        database_url,
        nats_url,
        namespace,
        {"service_token": "t0ken-of-the-release", "auth": "required", "auth_keys_dir": str(keys)},
    )
    await stack.until_trades_stored(database_url)
    # The chart's Service names, as this machine's addresses.
    targets = {name: f"127.0.0.1:{stack.ports[name]}" for name in chart_targets}
    url = f"http://127.0.0.1:{stack.graph_http}/graphql"
    # As the pod's readiness probe would: graph up (it reaches the users' database first).
    await _scrape(f"http://127.0.0.1:{stack.graph_http}/healthz", stack.processes["graph"])

    passed = await asyncio.to_thread(_run_check, pod, targets, url)
    assert passed.returncode == 0, passed.stdout + passed.stderr
    for name in ("storage", "ingest", "backtest", "graph"):
        assert f"{name} {targets[name]}: SERVING" in passed.stdout
    assert "'__typename': 'Query'" in passed.stdout
    async with httpx.AsyncClient() as client:  # and auth is in force for everything else
        refused = (await client.post(url, json={"query": "{ me { name } }"})).json()
    assert refused["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"

    assert await stack.processes["backtest"].interrupt() == 0
    failed = await asyncio.to_thread(_run_check, pod, targets, url)
    assert failed.returncode != 0
    assert "not serving: backtest" in failed.stderr
    await stack.stop()
