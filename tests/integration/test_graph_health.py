"""``/healthz`` and ``/readyz`` of the gateway against real upstream services on loopback:
readiness follows each one's grpc.health.v1 answer, liveness does not."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from nats.aio.client import Client as NatsClient

from services.alerts import service as alerts_service
from services.backtest import service as backtest_service
from services.common.settings import Settings
from services.ingest import service as ingest_service
from services.storage import service as storage_service
from tests.conftest import SAMPLE_CAPTURE
from tests.integration.graph_helpers import gateway
from tests.integration.helpers import eventually, running, service_settings

pytestmark = pytest.mark.integration


async def _get(settings: Settings, path: str) -> tuple[int, dict[str, Any]]:
    async with httpx.AsyncClient() as client:
        response = await client.get(f"http://127.0.0.1:{settings.graph_port}{path}", timeout=10)
    body: dict[str, Any] = response.json()
    return response.status_code, body


async def test_readyz_names_each_upstream_that_is_not_serving_and_healthz_stays_live(
    database_url: str, nats_url: str, namespace: str, nats_client: NatsClient
) -> None:
    settings = service_settings(
        database_url, nats_url, namespace, source=f"replay:{SAMPLE_CAPTURE}", replay_speed=0
    )
    async with running(storage_service.run, settings, settings.storage_grpc_port):
        async with gateway(settings):
            status, body = await _get(settings, "/readyz")
            assert status == 503
            assert body["upstreams"] == {
                "alerts": "UNREACHABLE",
                "backtest": "UNREACHABLE",
                "ingest": "UNREACHABLE",
                "nats": "SERVING",
                "storage": "SERVING",
            }
            assert body["error"] == {
                "code": "UNAVAILABLE",
                "message": "not ready: alerts is UNREACHABLE, backtest is UNREACHABLE, "
                "ingest is UNREACHABLE",
            }
            assert await _get(settings, "/healthz") == (200, {"status": "ok"})

            async with (
                running(ingest_service.run, settings, settings.ingest_grpc_port),
                running(backtest_service.run, settings, settings.backtest_grpc_port),
                running(alerts_service.run, settings, settings.alerts_grpc_port),
            ):

                async def ready() -> bool:
                    # A channel that failed before retries on its own backoff: not at once.
                    return (await _get(settings, "/readyz"))[0] == 200

                await eventually(ready)
                status, body = await _get(settings, "/readyz")
                assert body["status"] == "ready"
                assert set(body["upstreams"].values()) == {"SERVING"}

            async def ingest_gone() -> bool:
                status, body = await _get(settings, "/readyz")
                return status == 503 and body["upstreams"]["ingest"] == "UNREACHABLE"

            await eventually(ingest_gone)
            assert await _get(settings, "/healthz") == (200, {"status": "ok"})
