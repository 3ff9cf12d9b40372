"""``quantflow up``: the whole system on one machine.

Starts embedded PostgreSQL and NATS (unless their URLs are set), then storage, ingest and
graph as child processes (`quantflow serve <service>`, what a container runs), restarts a
child that dies, and on Ctrl-C stops everything in order: graph, ingest, storage, servers.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import sys
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg

from services.common.embedded import (
    EmbeddedNats,
    EmbeddedPostgres,
    free_port,
    start_nats,
    start_postgres,
)
from services.common.grpc_server import check_health
from services.common.settings import Settings

log = logging.getLogger("quantflow.up")

RUN_FILE = "run.json"
DATABASE_NAME = "quantflow"
_READY_TIMEOUT_S = 60.0
_STOP_TIMEOUT_S = 15.0


@dataclass
class Component:
    name: str
    grpc_port: int
    env: dict[str, str]
    process: asyncio.subprocess.Process | None = None
    restarts: int = 0
    extra: dict[str, object] = field(default_factory=dict)

    @property
    def grpc_target(self) -> str:
        return f"127.0.0.1:{self.grpc_port}"

    async def start(self) -> None:
        self.process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "services.cli.main",
            "serve",
            self.name,
            "--supervisor-pid",
            str(os.getpid()),
            env=self.env,
            stdin=asyncio.subprocess.DEVNULL,
            # Own session: Ctrl-C reaches only `up`, which stops children in order.
            start_new_session=True,
        )

    async def wait_ready(self) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + _READY_TIMEOUT_S
        while loop.time() < deadline:
            if self.process is not None and self.process.returncode is not None:
                raise RuntimeError(f"{self.name} exited with code {self.process.returncode}")
            if await check_health(self.grpc_target, timeout=1.0) == "SERVING":
                return
            await asyncio.sleep(0.2)
        raise TimeoutError(f"{self.name} did not become healthy in {_READY_TIMEOUT_S:.0f}s")

    async def stop(self) -> None:
        process = self.process
        if process is None or process.returncode is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(process.wait(), _STOP_TIMEOUT_S)
        except TimeoutError:
            log.warning("%s did not stop in %.0fs; killing it", self.name, _STOP_TIMEOUT_S)
            process.kill()
            await process.wait()


async def _ensure_database(server: EmbeddedPostgres) -> str:
    conn = await asyncpg.connect(server.dsn("postgres"))
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", DATABASE_NAME)
        if not exists:
            await conn.execute(f'CREATE DATABASE "{DATABASE_NAME}"')
    finally:
        await conn.close()
    return server.dsn(DATABASE_NAME)


class Stack:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.data_dir = settings.data_dir.expanduser().resolve()
        self.postgres: EmbeddedPostgres | None = None
        self.nats: EmbeddedNats | None = None
        self.components: list[Component] = []

    def _start_servers(self) -> tuple[str, str]:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        nats_url = self.settings.nats_url
        if not nats_url:
            self.nats = start_nats(self.data_dir / "nats")
            nats_url = self.nats.url
        database_url = self.settings.database_dsn()
        if not database_url:
            self.postgres = start_postgres(self.data_dir / "postgres")
        return nats_url, database_url or ""

    def _plan(self, nats_url: str, database_url: str) -> None:
        ports = {name: free_port() for name in ("storage", "ingest", "graph")}
        metrics = {name: free_port() for name in ("storage", "ingest")}
        env = {
            **os.environ,
            "QUANTFLOW_NATS_URL": nats_url,
            "QUANTFLOW_DATABASE_URL": database_url,
            "QUANTFLOW_NAMESPACE": self.settings.namespace,
            "QUANTFLOW_SOURCE": self.settings.source,
            "QUANTFLOW_VENUE": self.settings.venue,
            "QUANTFLOW_SYMBOLS": ",".join(self.settings.symbols),
            "QUANTFLOW_REPLAY_SPEED": str(self.settings.replay_speed),
            "QUANTFLOW_REPLAY_LOOP": str(self.settings.replay_loop).lower(),
            "QUANTFLOW_STORAGE_GRPC_PORT": str(ports["storage"]),
            "QUANTFLOW_INGEST_GRPC_PORT": str(ports["ingest"]),
            "QUANTFLOW_GRAPH_GRPC_PORT": str(ports["graph"]),
            "QUANTFLOW_STORAGE_METRICS_PORT": str(metrics["storage"]),
            "QUANTFLOW_INGEST_METRICS_PORT": str(metrics["ingest"]),
            "QUANTFLOW_STORAGE_TARGET": f"127.0.0.1:{ports['storage']}",
        }
        graph_url = f"http://{self.settings.graph_host}:{self.settings.graph_port}"
        self.components = [
            Component(
                "storage",
                ports["storage"],
                env,
                extra={"metrics": f"http://127.0.0.1:{metrics['storage']}/metrics"},
            ),
            Component(
                "ingest",
                ports["ingest"],
                env,
                extra={
                    "metrics": f"http://127.0.0.1:{metrics['ingest']}/metrics",
                    "source": self.settings.source,
                },
            ),
            Component(
                "graph",
                ports["graph"],
                env,
                extra={"graphql": f"{graph_url}/graphql", "metrics": f"{graph_url}/metrics"},
            ),
        ]

    def _write_run_file(self, nats_url: str, database_url: str) -> None:
        state = {
            "pid": os.getpid(),
            "nats": {"url": nats_url, "embedded": self.nats is not None},
            "postgres": {"url": _masked(database_url), "embedded": self.postgres is not None},
            "components": [
                {
                    "name": c.name,
                    "grpc": c.grpc_target,
                    "pid": c.process.pid if c.process else None,
                    **c.extra,
                }
                for c in self.components
            ],
        }
        (self.data_dir / RUN_FILE).write_text(json.dumps(state, indent=2))

    async def run(self, stop: asyncio.Event) -> None:
        try:
            nats_url, database_url = await asyncio.to_thread(self._start_servers)
            if self.postgres is not None:
                database_url = await _ensure_database(self.postgres)
            self._plan(nats_url, database_url)
            for component in self.components:
                await component.start()
                try:
                    await component.wait_ready()
                except (RuntimeError, TimeoutError) as error:
                    raise SystemExit(f"quantflow up: {error}; see its log above") from None
                log.info("%s is up (gRPC %s)", component.name, component.grpc_target)
            self._write_run_file(nats_url, database_url)
            self._banner(nats_url, database_url)
            await self._supervise(stop)
        finally:
            await self.shutdown()

    def _banner(self, nats_url: str, database_url: str) -> None:
        graph = self.components[-1].extra["graphql"]
        lines = [
            "",
            f"  QuantFlow is up. GraphiQL: {graph}",
            f"  source:     {self.settings.source}",
            f"  PostgreSQL: {_masked(database_url)}" + (" (embedded)" if self.postgres else ""),
            f"  NATS:       {nats_url}" + (" (embedded)" if self.nats else ""),
            f"  data:       {self.data_dir}",
            "  `quantflow status` shows health; Ctrl-C stops everything.",
            "",
        ]
        print("\n".join(lines), flush=True)

    async def _supervise(self, stop: asyncio.Event) -> None:
        stopped = asyncio.create_task(stop.wait())
        while not stop.is_set():
            waits = {
                asyncio.create_task(c.process.wait()): c
                for c in self.components
                if c.process is not None
            }
            done, _ = await asyncio.wait({stopped, *waits}, return_when=asyncio.FIRST_COMPLETED)
            for task in waits:
                if task not in done:
                    task.cancel()
            if stop.is_set():
                break
            for task in done:
                component = waits.get(task)
                if component is None:
                    continue
                component.restarts += 1
                delay = min(2.0 ** min(component.restarts, 5), 30.0)
                log.error(
                    "%s exited with code %s; restarting in %.0fs",
                    component.name,
                    task.result(),
                    delay,
                )
                await asyncio.sleep(delay)
                await component.start()
        stopped.cancel()

    async def shutdown(self) -> None:
        for component in reversed(self.components):
            await component.stop()
        if self.nats is not None:
            await asyncio.to_thread(self.nats.stop)
        if self.postgres is not None:
            await asyncio.to_thread(self.postgres.stop)
        (self.data_dir / RUN_FILE).unlink(missing_ok=True)
        log.info("QuantFlow stopped; data kept in %s", self.data_dir)


def _masked(url: str) -> str:
    """Hide a password in a database URL."""
    if "@" not in url or "://" not in url:
        return url
    scheme, rest = url.split("://", 1)
    credentials, host = rest.rsplit("@", 1)
    if ":" in credentials:
        credentials = credentials.split(":", 1)[0] + ":***"
    return f"{scheme}://{credentials}@{host}"


def read_run_file(data_dir: Path) -> dict[str, object] | None:
    path = data_dir.expanduser().resolve() / RUN_FILE
    try:
        state: dict[str, object] = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return state
