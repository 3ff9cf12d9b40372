"""graph/app.py and graph/body_limit.py over ASGI, without servers (no lifespan runs, so no
backend is reached: only routes that need none are exercised)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
from prometheus_client import CONTENT_TYPE_LATEST
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp

from graph.app import create_app
from graph.body_limit import MAX_BODY_BYTES, BodySizeLimit


def _client(app: ASGIApp) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://gateway", follow_redirects=False
    )


def _gateway() -> Starlette:
    return create_app("nats://127.0.0.1:1", "127.0.0.1:1", "", ingest_target="127.0.0.1:1")


async def test_metrics_answers_200_with_prometheus_text_and_no_redirect() -> None:
    async with _client(_gateway()) as client:
        response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"] == CONTENT_TYPE_LATEST
    assert "python_info" in response.text


async def test_graphql_body_over_the_cap_is_refused_with_413_and_a_json_error() -> None:
    body = b'{"query": "{ prices { symbol } }", "pad": "' + b"x" * MAX_BODY_BYTES + b'"}'
    async with _client(_gateway()) as client:
        response = await client.post(
            "/graphql", content=body, headers={"content-type": "application/json"}
        )
    assert response.status_code == 413
    [error] = response.json()["errors"]
    assert error["extensions"]["code"] == "PAYLOAD_TOO_LARGE"
    assert str(MAX_BODY_BYTES) in error["message"]


async def _echo(request: Request) -> Response:
    return Response(await request.body())


async def test_body_size_limit_passes_a_body_at_the_cap_through() -> None:
    app = Starlette(routes=[Route("/echo", _echo, methods=["POST"])])
    body = b"x" * 1000
    async with _client(BodySizeLimit(app, max_bytes=len(body))) as client:
        response = await client.post("/echo", content=body)
        over = await client.post("/echo", content=body + b"x")
    assert (response.status_code, response.content) == (200, body)
    assert over.status_code == 413


async def test_body_size_limit_counts_a_chunked_body_with_no_content_length() -> None:
    app = Starlette(routes=[Route("/echo", _echo, methods=["POST"])])

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(3):
            yield b"x" * 400

    async with _client(BodySizeLimit(app, max_bytes=1000)) as client:
        response = await client.post("/echo", content=chunks())
    assert "content-length" not in response.request.headers
    assert response.status_code == 413
    assert response.json()["errors"][0]["extensions"]["code"] == "PAYLOAD_TOO_LARGE"
