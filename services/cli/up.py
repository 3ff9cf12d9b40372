"""``quantflow up``: the whole system on one machine.

Starts embedded PostgreSQL and NATS (unless their URLs are set), then storage, ingest,
backtest, alerts and graph as child processes (`quantflow serve <service>`, what a container runs),
restarts a child or embedded server that dies (a server on its old port: children have it in
their URLs), and on Ctrl-C stops everything in order: graph, alerts, backtest, ingest, storage,
servers.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import secrets
import signal
import subprocess
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, TypeVar

import asyncpg
from pydantic import SecretStr

from services.cli.preflight import chosen_ports
from services.common.auth.modes import AuthMode, effective_mode
from services.common.embedded import (
    EmbeddedNats,
    EmbeddedPostgres,
    free_port,
    start_nats,
    start_postgres,
)
from services.common.grpc_server import check_health
from services.common.settings import Settings, mask_password

log = logging.getLogger("quantflow.up")

RUN_FILE = "run.json"
DATABASE_NAME = "quantflow"
_READY_TIMEOUT_S = 60.0
_STOP_TIMEOUT_S = 15.0
_SERVER_POLL_S = 0.5
# A unit that ran this long before it died starts its backoff afresh.
_STABLE_S = 60.0
# What a failed (re)start of a server or component raises.
_START_ERRORS = (OSError, RuntimeError, TimeoutError, subprocess.SubprocessError)

T = TypeVar("T")


def restart_delay(restarts: int) -> float:
    """Seconds to wait before restart number ``restarts``: 2, 4, 8, 16, then 30."""
    return min(2.0 ** min(restarts, 5), 30.0)


async def stopped_within(stop: asyncio.Event, seconds: float) -> bool:
    """Wait ``seconds``, or less if ``stop`` is set meanwhile; True if it was."""
    try:
        await asyncio.wait_for(stop.wait(), seconds)
    except TimeoutError:
        return False
    return True


async def unless_stopped(work: Awaitable[T], stop: asyncio.Event) -> T | None:
    """``work``'s result, or None (``work`` cancelled) once ``stop`` is set."""
    task = asyncio.ensure_future(work)
    stopped = asyncio.create_task(stop.wait())
    done, _ = await asyncio.wait({task, stopped}, return_when=asyncio.FIRST_COMPLETED)
    for pending in (task, stopped):
        if pending not in done:
            pending.cancel()
    return task.result() if task in done else None


class Supervised(Protocol):
    """A process `up` keeps running: a component or an embedded server."""

    name: str
    restarts: int

    async def start(self) -> None: ...

    async def exited(self) -> str:
        """Wait until it no longer runs; say how it ended."""
        ...


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

    async def exited(self) -> str:
        if self.process is None:
            return "did not start"
        return f"exited with code {await self.process.wait()}"

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


class EmbeddedServer(Protocol):
    port: int

    @property
    def pid(self) -> int: ...

    def is_running(self) -> bool: ...

    def stop(self) -> None: ...


@dataclass
class Server:
    """An embedded server `up` started; restarted on its first port, which children know."""

    name: str
    launch: Callable[[int | None], EmbeddedServer]
    handle: EmbeddedServer | None = None
    restarts: int = 0

    async def start(self) -> None:
        port = self.handle.port if self.handle is not None else None
        self.handle = await asyncio.to_thread(self.launch, port)

    async def exited(self) -> str:
        # PostgreSQL runs detached (pg_ctl), so there is nothing to wait on: poll.
        while True:
            if self.handle is None or not self.handle.is_running():
                return "is not running"
            await asyncio.sleep(_SERVER_POLL_S)

    async def stop(self) -> None:
        if self.handle is not None:
            await asyncio.to_thread(self.handle.stop)


async def ensure_database(server: EmbeddedPostgres) -> str:
    """The DSN of QuantFlow's database on ``server``, created if missing."""
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
        self.postgres: Server | None = None
        self.nats: Server | None = None
        self.components: list[Component] = []
        self.nats_url = settings.nats_url or ""
        self.database_url = settings.database_dsn() or ""
        # Every gRPC call between the processes of this run carries it (one per run).
        self.service_token = (
            settings.service_token.get_secret_value()
            if settings.service_token
            else secrets.token_urlsafe(32)
        )
        self.auth_mode = effective_mode(settings.auth, settings.graph_host)

    @property
    def servers(self) -> list[Server]:
        return [server for server in (self.postgres, self.nats) if server is not None]

    async def _start_servers(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if not self.nats_url:
            nats_dir = self.data_dir / "nats"
            self.nats = Server("nats", lambda port: start_nats(nats_dir, port))
            await self._start_server(self.nats, f"see {nats_dir / 'nats-server.log'}")
            assert isinstance(self.nats.handle, EmbeddedNats)
            self.nats_url = self.nats.handle.url
        if not self.database_url:
            pgdata = self.data_dir / "postgres"
            self.postgres = Server("postgres", lambda port: start_postgres(pgdata, port))
            await self._start_server(self.postgres, f"see {pgdata / 'server.log'}")
            assert isinstance(self.postgres.handle, EmbeddedPostgres)
            self.database_url = await ensure_database(self.postgres.handle)

    async def _start_server(self, server: Server, hint: str) -> None:
        try:
            await server.start()
        except _START_ERRORS as error:
            log.debug("embedded %s did not start", server.name, exc_info=True)
            raise SystemExit(
                f"quantflow up: embedded {server.name} did not start ({error}); {hint}"
            ) from None

    def _plan(self) -> None:
        chosen = chosen_ports(self.settings)

        def port(field: str) -> int:
            return chosen.get(field) or free_port()

        ports = {
            name: port(f"{name}_grpc_port")
            for name in ("storage", "ingest", "backtest", "alerts", "graph")
        }
        metrics = {
            name: port(f"{name}_metrics_port")
            for name in ("storage", "ingest", "backtest", "alerts")
        }
        env = {
            **os.environ,
            "QUANTFLOW_NATS_URL": self.nats_url,
            "QUANTFLOW_DATABASE_URL": self.database_url,
            "QUANTFLOW_NAMESPACE": self.settings.namespace,
            "QUANTFLOW_DATA_DIR": str(self.data_dir),
            "QUANTFLOW_SERVICE_TOKEN": self.service_token,
            "QUANTFLOW_AUTH": self.auth_mode.value,
            "QUANTFLOW_SOURCE": self.settings.source,
            "QUANTFLOW_VENUE": self.settings.venue,
            "QUANTFLOW_SYMBOLS": ",".join(self.settings.symbols),
            "QUANTFLOW_STREAMS": ",".join(self.settings.streams),
            "QUANTFLOW_REPLAY_SPEED": str(self.settings.replay_speed),
            "QUANTFLOW_REPLAY_LOOP": str(self.settings.replay_loop).lower(),
            "QUANTFLOW_LOG_LEVEL": self.settings.log_level,
            "QUANTFLOW_STORAGE_GRPC_PORT": str(ports["storage"]),
            "QUANTFLOW_INGEST_GRPC_PORT": str(ports["ingest"]),
            "QUANTFLOW_GRAPH_GRPC_PORT": str(ports["graph"]),
            "QUANTFLOW_BACKTEST_GRPC_PORT": str(ports["backtest"]),
            "QUANTFLOW_ALERTS_GRPC_PORT": str(ports["alerts"]),
            "QUANTFLOW_STORAGE_METRICS_PORT": str(metrics["storage"]),
            "QUANTFLOW_INGEST_METRICS_PORT": str(metrics["ingest"]),
            "QUANTFLOW_BACKTEST_METRICS_PORT": str(metrics["backtest"]),
            "QUANTFLOW_ALERTS_METRICS_PORT": str(metrics["alerts"]),
            "QUANTFLOW_STORAGE_TARGET": f"127.0.0.1:{ports['storage']}",
            "QUANTFLOW_INGEST_TARGET": f"127.0.0.1:{ports['ingest']}",
            "QUANTFLOW_BACKTEST_TARGET": f"127.0.0.1:{ports['backtest']}",
            "QUANTFLOW_ALERTS_TARGET": f"127.0.0.1:{ports['alerts']}",
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
                "backtest",
                ports["backtest"],
                env,
                extra={"metrics": f"http://127.0.0.1:{metrics['backtest']}/metrics"},
            ),
            Component(
                "alerts",
                ports["alerts"],
                env,
                extra={"metrics": f"http://127.0.0.1:{metrics['alerts']}/metrics"},
            ),
            Component(
                "graph",
                ports["graph"],
                env,
                extra={"graphql": f"{graph_url}/graphql", "metrics": f"{graph_url}/metrics"},
            ),
        ]

    def _server_state(self, server: Server | None, url: str) -> dict[str, object]:
        state: dict[str, object] = {"url": url, "embedded": server is not None}
        if server is not None and server.handle is not None:
            state.update(pid=server.handle.pid, restarts=server.restarts)
        return state

    def write_run_file(self) -> None:
        """What `status` reads; rewritten after every restart, so its pids are current."""
        state = {
            "pid": os.getpid(),
            # For the CLI's calls to this run's services; the file is the user's only.
            "service_token": self.service_token,
            "nats": self._server_state(self.nats, self.nats_url),
            "postgres": self._server_state(self.postgres, mask_password(self.database_url)),
            "components": [
                {
                    "name": c.name,
                    "grpc": c.grpc_target,
                    "pid": c.process.pid if c.process else None,
                    "restarts": c.restarts,
                    **c.extra,
                }
                for c in self.components
            ],
        }
        # Replace, not rewrite in place: `status` may read it at any moment.
        staging = self.data_dir / f".{RUN_FILE}.tmp"
        staging.touch(mode=0o600)
        staging.chmod(0o600)
        staging.write_text(json.dumps(state, indent=2))
        staging.replace(self.data_dir / RUN_FILE)

    async def run(self, stop: asyncio.Event) -> None:
        try:
            await self._start_servers()
            self._plan()
            for component in self.components:
                await component.start()
                try:
                    await component.wait_ready()
                except (RuntimeError, TimeoutError) as error:
                    raise SystemExit(f"quantflow up: {error}; see its log above") from None
                log.info("%s is up (gRPC %s)", component.name, component.grpc_target)
            self.write_run_file()
            self._banner()
            await self.supervise(stop)
        finally:
            await self.shutdown()

    def _target(self, name: str) -> str:
        return next(c.grpc_target for c in self.components if c.name == name)

    def _banner(self) -> None:
        graph = str(self.components[-1].extra["graphql"])
        lines = [
            "",
            f"  QuantFlow is up. GraphiQL: {graph}",
            f"  REST docs:  {graph.removesuffix('/graphql')}/docs",
            f"  source:     {self.settings.source}",
            f"  PostgreSQL: {mask_password(self.database_url)}"
            + (" (embedded)" if self.postgres else ""),
            f"  NATS:       {self.nats_url}" + (" (embedded)" if self.nats else ""),
            f"  data:       {self.data_dir}",
            f"  alerts:     gRPC {self._target('alerts')} (rules, channels, notifications)",
            f"  auth:       {auth_banner(self.auth_mode)}",
            "  `quantflow status` shows health; Ctrl-C stops everything.",
            "",
        ]
        print("\n".join(lines), flush=True)

    async def supervise(self, stop: asyncio.Event) -> None:
        """Keep every server and component running until ``stop`` is set."""
        units: list[Supervised] = [*self.servers, *self.components]
        await asyncio.gather(*(self._keep_running(unit, stop) for unit in units))

    async def _keep_running(self, unit: Supervised, stop: asyncio.Event) -> None:
        loop = asyncio.get_running_loop()
        while True:
            started = loop.time()
            why = await unless_stopped(unit.exited(), stop)
            if why is None:
                return
            if loop.time() - started >= _STABLE_S:
                unit.restarts = 0
            unit.restarts += 1
            delay = restart_delay(unit.restarts)
            log.error("%s %s; restarting in %.0fs", unit.name, why, delay)
            if await stopped_within(stop, delay):
                return
            try:
                await unit.start()
            except _START_ERRORS as error:
                log.error("%s did not restart: %s", unit.name, error)
                continue
            log.info("%s restarted", unit.name)
            self.write_run_file()

    async def shutdown(self) -> None:
        for component in reversed(self.components):
            await component.stop()
        for server in self.servers:
            await server.stop()
        (self.data_dir / RUN_FILE).unlink(missing_ok=True)
        log.info("QuantFlow stopped; data kept in %s", self.data_dir)


def auth_banner(mode: AuthMode) -> str:
    if mode is AuthMode.LOCAL:
        return "local (loopback only: requests without a token act as the admin 'local')"
    return "required (add users with `quantflow user add NAME`, then log in)"


def running_service_token(settings: Settings) -> SecretStr | None:
    """The service token the CLI sends: QUANTFLOW_SERVICE_TOKEN, else the running
    `quantflow up`'s (from its run file), else none."""
    if settings.service_token:
        return settings.service_token
    state = read_run_file(settings.data_dir)
    token = state.get("service_token") if state else None
    return SecretStr(token) if isinstance(token, str) and token else None


def read_run_file(data_dir: Path) -> dict[str, object] | None:
    path = data_dir.expanduser().resolve() / RUN_FILE
    try:
        state: dict[str, object] = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return state
