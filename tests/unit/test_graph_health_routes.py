"""graph/health_routes.py without servers: the readiness verdict and the routes before the
gateway has started."""

from __future__ import annotations

import httpx
from starlette.applications import Starlette

from graph.health_routes import health_routes, readiness


def test_every_upstream_serving_is_ready() -> None:
    status, body = readiness({"storage": "SERVING", "nats": "SERVING"})
    assert status == 200
    assert body == {"status": "ready", "upstreams": {"nats": "SERVING", "storage": "SERVING"}}


def test_one_upstream_not_serving_is_503_naming_it_and_its_status() -> None:
    status, body = readiness(
        {"storage": "NOT_SERVING", "ingest": "SERVING", "nats": "DISCONNECTED"}
    )
    assert status == 503
    assert body["status"] == "not ready"
    assert body["error"] == {
        "code": "UNAVAILABLE",
        "message": "not ready: nats is DISCONNECTED, storage is NOT_SERVING",
    }


async def test_before_start_up_both_routes_answer_503_starting() -> None:
    app = Starlette(routes=health_routes(lambda: None))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
        live = await client.get("/healthz")
        ready = await client.get("/readyz")
    assert (live.status_code, live.json()) == (503, {"status": "starting"})
    assert ready.status_code == 503
    assert ready.json()["error"]["message"] == "not ready: gateway is STARTING"
