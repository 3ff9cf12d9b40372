"""``quantflow status``: the servers' and components' health; exit 1 if any is unhealthy."""

from __future__ import annotations

import asyncio
from typing import Any

import grpc

from quantflow.alerts.v1 import alerts_service_pb2, alerts_service_pb2_grpc
from quantflow.backtest.v1 import backtest_service_pb2, backtest_service_pb2_grpc
from quantflow.market.v1 import ingest_service_pb2, ingest_service_pb2_grpc
from quantflow.storage.v1 import storage_service_pb2, storage_service_pb2_grpc
from services.cli.probe import unreachable_reason
from services.cli.up import read_run_file
from services.common.grpc_server import check_health
from services.common.service_token import service_channel
from services.common.settings import Settings

# A live source without a connection for this long is unhealthy (one that never connected
# is unhealthy at once): reconnects after a network blip take a few seconds.
SOURCE_DOWN_LIMIT_S = 60.0


def source_health(status: ingest_service_pb2.GetIngestStatusResponse) -> tuple[str, bool]:
    """How ingest's source is doing, in words, and whether that is healthy."""
    if status.source_finished:
        return "finished", True
    if status.connected:
        return "connected", True
    if not status.ever_connected:
        if not status.last_error:
            return "connecting", True
        return f"not connected, never was: {status.last_error}", False
    down_s = status.disconnected_for_ms / 1000
    why = f": {status.last_error}" if status.last_error else ""
    return f"not connected for {down_s:.0f}s{why}", down_s < SOURCE_DOWN_LIMIT_S


def ingest_summary(status: ingest_service_pb2.GetIngestStatusResponse, state: str) -> str:
    """Ingest's line in ``status``; a live source adds its connections, rotations and stalls."""
    summary = (
        f"source {status.source} ({state}), {status.messages_received} messages, "
        f"{status.events_published} published, {status.messages_dead_lettered} dead-lettered"
    )
    if status.source == "binance":
        summary += (
            f", {status.streams} streams on {status.connections} connections, "
            f"{status.rotations} rotations, {status.stalls} stalls"
        )
    summary += "".join(
        f", gap {gap.symbol} {gap.kind} {gap.first_id}-{gap.last_id} filling"
        for gap in status.open_gaps
    )
    return summary


async def _details(name: str, target: str, token: str | None) -> tuple[str, bool]:
    try:
        async with service_channel(target, token) as channel:
            if name == "ingest":
                ingest = await ingest_service_pb2_grpc.IngestServiceStub(channel).GetIngestStatus(
                    ingest_service_pb2.GetIngestStatusRequest(), timeout=2
                )
                state, healthy = source_health(ingest)
                return ingest_summary(ingest, state), healthy
            if name == "storage":
                storage = await storage_service_pb2_grpc.StorageServiceStub(
                    channel
                ).GetStorageStatus(storage_service_pb2.GetStorageStatusRequest(), timeout=2)
                return (
                    f"{storage.backend} mode (PostgreSQL {storage.server_version}), schema "
                    f"v{storage.schema_version}, {storage.trades_written} trades written "
                    f"({storage.agg_trades_written} aggTrades, {storage.klines_written} klines, "
                    f"{storage.book_tickers_written} book and {storage.tickers_written} ticker "
                    f"updates), {storage.events_dead_lettered} dead-lettered" + _retention(storage)
                ), True
            if name == "backtest":
                listed = await backtest_service_pb2_grpc.BacktestServiceStub(
                    channel
                ).ListStrategies(backtest_service_pb2.ListStrategiesRequest(), timeout=2)
                return f"{len(listed.strategies)} strategies", True
            if name == "alerts":
                rules = await alerts_service_pb2_grpc.AlertsServiceStub(channel).ListRules(
                    alerts_service_pb2.ListRulesRequest(), timeout=2
                )
                return f"{len(rules.rules)} rules of the local user", True
    except grpc.aio.AioRpcError as error:
        return f"({error.code().name})", False
    return "", True


def _retention(storage: storage_service_pb2.GetStorageStatusResponse) -> str:
    if not storage.retention:
        return ""
    expired = sum(storage.rows_expired.values())
    return f", retention {storage.retention} ({storage.retention_mode}: {expired} rows expired)"


async def reachable(url: str) -> bool:
    """True if something accepts TCP connections where ``url`` points."""
    return await asyncio.to_thread(unreachable_reason, url) is None


async def _report(state: dict[str, Any]) -> bool:
    healthy = True
    print(f"QuantFlow (pid {state['pid']})")
    for server in ("postgres", "nats"):
        info = state[server]
        up = await reachable(info["url"])
        healthy &= up
        if info["embedded"]:
            kind = f"embedded, pid {info.get('pid')}, {info.get('restarts', 0)} restarts"
        else:
            kind = "external"
        print(f"  {server:<9} {'UP' if up else 'DOWN':<11} {info['url']} ({kind})")
    for component in state["components"]:
        health = await check_health(component["grpc"], timeout=2.0)
        healthy &= health == "SERVING"
        details = ""
        if health == "SERVING":
            # The run's service token (the run file holds it): status calls go past health.
            token = state.get("service_token")
            details, fine = await _details(component["name"], component["grpc"], token)
            healthy &= fine
        print(f"  {component['name']:<9} {health:<11} gRPC {component['grpc']}  {details}")
        for key in ("graphql", "metrics"):
            if key in component:
                print(f"  {'':<9} {key}: {component[key]}")
    return healthy


def status(settings: Settings) -> int:
    state = read_run_file(settings.data_dir)
    if state is None:
        print(f"QuantFlow is not running (no run file in {settings.data_dir.resolve()}).")
        return 1
    return 0 if asyncio.run(_report(state)) else 1
