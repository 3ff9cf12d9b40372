"""The graph service in-process for integration tests, and GraphQL over HTTP to it."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import httpx

from graph import service as graph_service
from services.common.settings import Settings
from tests.integration.helpers import eventually, running


async def graphql(settings: Settings, query: str) -> dict[str, Any]:
    url = f"http://127.0.0.1:{settings.graph_port}/graphql"
    async with httpx.AsyncClient() as client:
        response = await client.post(url, json={"query": query}, timeout=30)
    response.raise_for_status()
    body: dict[str, Any] = response.json()
    return body


@contextlib.asynccontextmanager
async def gateway(settings: Settings) -> AsyncIterator[None]:
    """The graph service, once its HTTP side answers /healthz (gRPC health comes first)."""
    async with running(graph_service.run, settings, settings.graph_grpc_port):

        async def ready() -> bool:
            async with httpx.AsyncClient() as client:
                try:
                    url = f"http://127.0.0.1:{settings.graph_port}/healthz"
                    return (await client.get(url, timeout=1)).status_code == 200
                except httpx.HTTPError:
                    return False

        await eventually(ready)
        yield


def error_codes(answer: dict[str, Any]) -> list[str]:
    return [error["extensions"]["code"] for error in answer.get("errors", [])]
