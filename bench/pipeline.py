"""The whole ingest path: a replayed tape → ingest → JetStream → storage → PostgreSQL.

Storage and ingest run as the processes ``quantflow up`` starts (``quantflow serve …``)
against real servers. Three runs:

- the real capture's trades (the capture's bookTickers and depth left out, so the
  hand-rolled collector beside it does the same work), rate from the first stored trade to
  the last;
- the large tape (:mod:`bench.tape`, ≥ 500,000 trades over 3 symbols) at ``--speed 0``,
  rate over the whole run, from ingest's start to the last trade committed;
- the tape paced at 2,000 trades/s (``--speed 1``), for the latency from a message's
  receipt by ingest (``received_at``) to its row's insert (a bench-only ``stored_at``
  column defaulting to ``clock_timestamp()``).
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import asyncpg
import grpc

from bench.data import raw_messages, trades
from bench.infra import cpu_seconds, fresh_database, serve, unique_name
from bench.report import Result, timed_async
from bench.store import INSERT_IDEMPOTENT
from bench.tape import Tape, trades_only_capture
from quantflow.storage.v1 import storage_service_pb2 as storage_pb
from quantflow.storage.v1 import storage_service_pb2_grpc
from services.common.embedded import free_port
from services.storage.migrations import migrate

_TIMEOUT_S = 600.0


async def _trades_written(stub: storage_service_pb2_grpc.StorageServiceStub) -> int:
    """What storage has committed: asked of storage, so the polling costs PostgreSQL
    nothing (a count(*) every 20 ms over half a million rows would compete with it)."""
    status = await stub.GetStorageStatus(storage_pb.GetStorageStatusRequest(), timeout=5)
    return int(status.trades_written)


@dataclass(frozen=True)
class Run:
    """When the services were ready, the first and last trade stored, and how many."""

    ready_at: float
    first_at: float
    first_count: int
    finished_at: float
    latencies_ms: list[float]
    # CPU seconds ingest and storage used together over the run.
    cpu_s: float


async def _stack(admin_url: str, nats_url: str, tape: Path, expected: int, speed: float) -> Run:
    async with fresh_database(admin_url) as url:
        storage_port, ingest_port = free_port(), free_port()
        env = {
            **os.environ,
            "QUANTFLOW_DATABASE_URL": url,
            "QUANTFLOW_NATS_URL": nats_url,
            "QUANTFLOW_NAMESPACE": unique_name("b"),
            "QUANTFLOW_SOURCE": f"replay:{tape}",
            "QUANTFLOW_REPLAY_SPEED": str(speed),
            "QUANTFLOW_LOG_LEVEL": "WARNING",
            "QUANTFLOW_STORAGE_GRPC_PORT": str(storage_port),
            "QUANTFLOW_INGEST_GRPC_PORT": str(ingest_port),
            "QUANTFLOW_STORAGE_TARGET": f"127.0.0.1:{storage_port}",
            "QUANTFLOW_STORAGE_METRICS_PORT": "0",
            "QUANTFLOW_INGEST_METRICS_PORT": "0",
        }
        conn = await asyncpg.connect(url)
        try:
            await migrate(conn)
            # Bench only: when each row was inserted, for the latency (the commit follows
            # within the same batch's transaction).
            await conn.execute(
                "ALTER TABLE trades ADD COLUMN stored_at timestamptz DEFAULT clock_timestamp()"
            )
            async with (
                serve("storage", env, storage_port) as storage,
                grpc.aio.insecure_channel(f"127.0.0.1:{storage_port}") as channel,
            ):
                stub = storage_service_pb2_grpc.StorageServiceStub(channel)
                async with serve("ingest", env, ingest_port) as ingest:
                    pids = [c.process.pid for c in (storage, ingest) if c.process is not None]
                    cpu_before = sum(cpu_seconds(pid) for pid in pids)
                    ready_at = time.monotonic()
                    first_count, first_at, count = 0, 0.0, 0
                    while count < expected:
                        if time.monotonic() - ready_at > _TIMEOUT_S:
                            raise TimeoutError(f"only {count} of {expected} trades stored")
                        await asyncio.sleep(0.02)
                        count = await _trades_written(stub)
                        if count and not first_at:
                            first_count, first_at = count, time.monotonic()
                    finished_at = time.monotonic()
                    cpu_s = sum(cpu_seconds(pid) for pid in pids) - cpu_before
            count = await conn.fetchval("SELECT count(*) FROM trades")
            if count != expected:
                raise RuntimeError(f"{count} trades stored, expected {expected}")
            rows = await conn.fetch(
                "SELECT extract(epoch FROM stored_at - received_at) * 1000 AS ms FROM trades"
            )
        finally:
            await conn.close()
    return Run(ready_at, first_at, first_count, finished_at, [float(r["ms"]) for r in rows], cpu_s)


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


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


async def run(admin_url: str, nats_url: str, scratch: Path) -> list[Result]:
    """The capture's trades: the hand-rolled collector beside QuantFlow."""
    capture = trades_only_capture(scratch / "capture-trades.jsonl")
    messages = raw_messages()
    expected = len({(t.symbol, t.trade_id) for t in trades()})
    direct = await timed_async(
        "pipeline",
        "hand-rolled: json.loads → executemany, no bus",
        expected,
        _direct(admin_url, messages, expected),
        "1 process; a crash loses the batch",
    )
    ours = await _stack(admin_url, nats_url, capture, expected, speed=0)
    return [
        direct,
        Result(
            "pipeline",
            "quantflow: capture's trades → … → PostgreSQL",
            expected - ours.first_count,
            ours.finished_at - ours.first_at,
            "2 processes; first to last row",
        ),
    ]


async def run_tape(admin_url: str, nats_url: str, tape: Tape) -> Result:
    """The large tape as fast as it goes, timed from the services' start to the last row."""
    ours = await _stack(admin_url, nats_url, tape.path, tape.trades, speed=0)
    return Result(
        "end2end",
        f"quantflow: replay --speed 0, {len(tape.symbols)} symbols",
        tape.trades,
        ours.finished_at - ours.ready_at,
        f"ingest + storage, acked after commit; their CPU {ours.cpu_s * 1e6 / tape.trades:.0f} µs "
        "a trade",
    )


async def run_latency(admin_url: str, nats_url: str, tape: Tape) -> Result:
    """The tape paced at its recorded rate: received → row inserted, per trade."""
    ours = await _stack(admin_url, nats_url, tape.path, tape.trades, speed=1)
    latencies = ours.latencies_ms
    summary = (
        f"p50 {statistics.median(latencies):.0f} ms, p99 {_percentile(latencies, 0.99):.0f} ms, "
        f"max {max(latencies):.0f} ms"
    )
    return Result(
        "latency",
        "quantflow: paced replay, received → row",
        tape.trades,
        ours.finished_at - ours.ready_at,
        summary,
    )
