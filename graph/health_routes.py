"""``/healthz`` (liveness) and ``/readyz`` (readiness) of the gateway.

Liveness says the process serves HTTP: an orchestrator restarts it when that stops, never
because something upstream is down (restarting the gateway would not bring storage back).
Readiness says whether requests can be answered: the NATS connection is up and every
upstream gRPC service answers SERVING to the standard health protocol (grpc.health.v1);
otherwise 503 naming each one that is not, so traffic goes elsewhere until it is.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from nats.aio.client import Client as NatsClient
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

# Short: a readiness probe that waits longer than its own period piles up.
UPSTREAM_TIMEOUT_S = 2.0
SERVING = "SERVING"
NATS = "nats"


@dataclass
class Upstreams:
    """What the gateway depends on, filled in by the app's lifespan."""

    channels: dict[str, grpc.aio.Channel] = field(default_factory=dict)
    nats: NatsClient | None = None


async def grpc_status(channel: grpc.aio.Channel, timeout: float = UPSTREAM_TIMEOUT_S) -> str:
    """The server's overall health: SERVING, NOT_SERVING, … or UNREACHABLE."""
    stub = health_pb2_grpc.HealthStub(channel)
    try:
        reply = await stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=timeout)
    except grpc.aio.AioRpcError:
        return "UNREACHABLE"
    return str(health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status))


def readiness(statuses: Mapping[str, str]) -> tuple[int, dict[str, Any]]:
    """The HTTP status and body of ``/readyz`` for these upstream statuses (pure)."""
    failing = sorted(name for name, status in statuses.items() if status != SERVING)
    body: dict[str, Any] = {"status": "ready", "upstreams": dict(sorted(statuses.items()))}
    if not failing:
        return 200, body
    body["status"] = "not ready"
    body["error"] = {
        "code": "UNAVAILABLE",
        "message": "not ready: " + ", ".join(f"{name} is {statuses[name]}" for name in failing),
    }
    return 503, body


async def upstream_statuses(upstreams: Upstreams) -> dict[str, str]:
    """Each gRPC upstream's health, asked at once, and the NATS connection's."""
    names = list(upstreams.channels)
    found = await asyncio.gather(*(grpc_status(upstreams.channels[n]) for n in names))
    statuses = dict(zip(names, found, strict=True))
    nats = upstreams.nats
    statuses[NATS] = SERVING if nats is not None and nats.is_connected else "DISCONNECTED"
    return statuses


def health_routes(upstreams: Callable[[], Upstreams | None]) -> list[Route]:
    """The two routes; ``upstreams()`` is None until the app has started."""

    async def healthz(request: Request) -> JSONResponse:
        started = upstreams() is not None
        return JSONResponse({"status": "ok" if started else "starting"}, 200 if started else 503)

    async def readyz(request: Request) -> JSONResponse:
        current = upstreams()
        if current is None:
            status, body = readiness({"gateway": "STARTING"})
        else:
            status, body = readiness(await upstream_statuses(current))
        return JSONResponse(body, status)

    return [Route("/healthz", healthz), Route("/readyz", readyz)]
