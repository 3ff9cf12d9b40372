"""Real servers for the I/O benchmarks: the ones in the environment, or embedded ones."""

from __future__ import annotations

import contextlib
import os
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from services.cli.up import Component
from services.common.embedded import start_nats, start_postgres


@dataclass(frozen=True)
class Servers:
    postgres_admin_url: str
    nats_url: str


@contextlib.contextmanager
def servers() -> Iterator[Servers]:
    """``QUANTFLOW_DATABASE_URL`` / ``QUANTFLOW_NATS_URL`` if set, else embedded servers
    in a temporary directory that is removed afterwards."""
    with (
        tempfile.TemporaryDirectory(prefix="quantflow-bench-") as scratch,
        contextlib.ExitStack() as stack,
    ):
        database_url = os.environ.get("QUANTFLOW_DATABASE_URL")
        if not database_url:
            postgres = start_postgres(Path(scratch) / "postgres")
            stack.callback(postgres.delete)
            database_url = postgres.dsn("postgres")
        nats_url = os.environ.get("QUANTFLOW_NATS_URL")
        if not nats_url:
            nats = start_nats(Path(scratch) / "nats")
            stack.callback(nats.delete)
            nats_url = nats.url
        yield Servers(database_url, nats_url)


def unique_name(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:10]}"


@contextlib.asynccontextmanager
async def fresh_database(admin_url: str) -> AsyncIterator[str]:
    """An empty database of its own, dropped at the end."""
    name = unique_name("qf_bench_")
    admin = await asyncpg.connect(admin_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    try:
        yield urlunsplit(urlsplit(admin_url)._replace(path=f"/{name}"))
    finally:
        admin = await asyncpg.connect(admin_url)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a live process has used so far (Linux /proc; 0 elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    # After the command: state is field 3, utime and stime are fields 14 and 15.
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextlib.asynccontextmanager
async def serve(service: str, env: dict[str, str], grpc_port: int) -> AsyncIterator[Component]:
    """One service as `quantflow up` runs it (``quantflow serve <service>``), until the block
    ends."""
    component = Component(service, grpc_port, env)
    await component.start()
    try:
        await component.wait_ready()
        yield component
    finally:
        await component.stop()
