"""The whole ingest path: a replayed capture → ingest → JetStream → storage → PostgreSQL.

Storage and ingest run as the processes ``quantflow up`` starts (``quantflow serve …``)
against real servers; the rate is taken from the first stored trade to the last, so
process start-up is not counted. Beside it: a hand-rolled collector that writes straight
to PostgreSQL from one process, with no bus between the exchange and the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import Decimal

import asyncpg

from bench.data import CAPTURE, raw_messages, trades
from bench.infra import fresh_database, unique_name
from bench.report import Result, timed_async
from bench.store import INSERT_IDEMPOTENT
from services.cli.up import Component
from services.common.embedded import free_port
from services.storage.migrations import migrate

_TIMEOUT_S = 300.0


@contextlib.asynccontextmanager
async def _serve(service: str, env: dict[str, str], grpc_port: int) -> AsyncIterator[None]:
    """One service as `quantflow up` runs it, until the block ends."""
    component = Component(service, grpc_port, env)
    await component.start()
    try:
        await component.wait_ready()
        yield
    finally:
        await component.stop()


async def _quantflow(admin_url: str, nats_url: str, expected: int) -> Result:
    async with fresh_database(admin_url) as url:
        storage_port, ingest_port = free_port(), free_port()
        env = {
            **os.environ,
            "QUANTFLOW_DATABASE_URL": url,
            "QUANTFLOW_NATS_URL": nats_url,
            "QUANTFLOW_NAMESPACE": unique_name("b"),
            "QUANTFLOW_SOURCE": f"replay:{CAPTURE}",
            "QUANTFLOW_LOG_LEVEL": "WARNING",
            "QUANTFLOW_STORAGE_GRPC_PORT": str(storage_port),
            "QUANTFLOW_INGEST_GRPC_PORT": str(ingest_port),
            "QUANTFLOW_STORAGE_TARGET": f"127.0.0.1:{storage_port}",
            "QUANTFLOW_STORAGE_METRICS_PORT": "0",
            "QUANTFLOW_INGEST_METRICS_PORT": "0",
        }
        conn = await asyncpg.connect(url)
        try:
            async with (
                _serve("storage", env, storage_port),
                _serve("ingest", env, ingest_port),
            ):
                started = time.monotonic()
                first_count, first_at, count = 0, 0.0, 0
                while count < expected:
                    if time.monotonic() - started > _TIMEOUT_S:
                        raise TimeoutError(f"only {count} of {expected} trades stored")
                    await asyncio.sleep(0.02)
                    count = await conn.fetchval("SELECT count(*) FROM trades")
                    if count and not first_at:
                        first_count, first_at = count, time.monotonic()
                finished = time.monotonic()
        finally:
            await conn.close()
    return Result(
        "pipeline",
        "quantflow: replay → ingest → JetStream → storage",
        expected - first_count,
        finished - first_at,
        "2 processes, acked after commit",
    )


async def _direct(admin_url: str, messages: list[str], expected: int) -> None:
    async with fresh_database(admin_url) as url:
        conn = await asyncpg.connect(url)
        try:
            await migrate(conn)
            batch: list[tuple[object, ...]] = []
            for text in messages:
                data = json.loads(text).get("data")
                if not data or data.get("e") != "trade":
                    continue
                batch.append(
                    (
                        data["s"],
                        data["t"],
                        Decimal(data["p"]),
                        Decimal(data["q"]),
                        datetime.fromtimestamp(data["T"] / 1000, tz=UTC),
                        data["m"],
                        "binance",
                    )
                )
                if len(batch) == 2000:
                    await conn.executemany(INSERT_IDEMPOTENT, batch)
                    batch = []
            if batch:
                await conn.executemany(INSERT_IDEMPOTENT, batch)
            stored = await conn.fetchval("SELECT count(*) FROM trades")
        finally:
            await conn.close()
    if stored != expected:
        raise RuntimeError(f"direct collector stored {stored} of {expected}")


async def run(admin_url: str, nats_url: str) -> list[Result]:
    messages = raw_messages()
    expected = len({(t.symbol, t.trade_id) for t in trades()})
    direct = await timed_async(
        "pipeline",
        "hand-rolled: json.loads → executemany, no bus",
        expected,
        _direct(admin_url, messages, expected),
        "1 process; a crash loses the batch",
    )
    return [direct, await _quantflow(admin_url, nats_url, expected)]
