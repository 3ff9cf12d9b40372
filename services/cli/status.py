"""``quantflow status``: each component's gRPC health and the servers' addresses."""

from __future__ import annotations

import asyncio
from typing import Any

import grpc

from quantflow.market.v1 import ingest_service_pb2, ingest_service_pb2_grpc
from quantflow.storage.v1 import storage_service_pb2, storage_service_pb2_grpc
from services.cli.up import read_run_file
from services.common.grpc_server import check_health
from services.common.settings import Settings


async def _details(name: str, target: str) -> str:
    try:
        async with grpc.aio.insecure_channel(target) as channel:
            if name == "ingest":
                ingest = await ingest_service_pb2_grpc.IngestServiceStub(channel).GetIngestStatus(
                    ingest_service_pb2.GetIngestStatusRequest(), timeout=2
                )
                state = (
                    "finished"
                    if ingest.source_finished
                    else ("connected" if ingest.connected else "disconnected")
                )
                return (
                    f"source {ingest.source} ({state}), {ingest.messages_received} messages, "
                    f"{ingest.events_published} published, "
                    f"{ingest.messages_dead_lettered} dead-lettered"
                )
            if name == "storage":
                storage = await storage_service_pb2_grpc.StorageServiceStub(
                    channel
                ).GetStorageStatus(storage_service_pb2.GetStorageStatusRequest(), timeout=2)
                return (
                    f"{storage.backend} {storage.server_version}, schema "
                    f"v{storage.schema_version}, {storage.trades_written} trades written, "
                    f"{storage.events_dead_lettered} dead-lettered"
                )
    except grpc.aio.AioRpcError as error:
        return f"({error.code().name})"
    return ""


async def _report(state: dict[str, Any]) -> bool:
    healthy = True
    print(f"QuantFlow (pid {state['pid']})")
    for server in ("postgres", "nats"):
        info = state[server]
        kind = "embedded" if info["embedded"] else "external"
        print(f"  {server:<9} {info['url']} ({kind})")
    for component in state["components"]:
        health = await check_health(component["grpc"], timeout=2.0)
        healthy &= health == "SERVING"
        details = (
            await _details(component["name"], component["grpc"]) if health == "SERVING" else ""
        )
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
