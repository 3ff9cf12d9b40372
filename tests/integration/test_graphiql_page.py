"""GraphiQL's page and everything it loads come from the gateway itself, never a CDN."""

from __future__ import annotations

import re

import httpx
import pytest

from graph.app import create_app
from services.cli.graphiql_assets import integrity

pytestmark = pytest.mark.integration


async def test_graphiql_page_loads_every_script_and_style_from_the_gateway(
    nats_url: str, namespace: str
) -> None:
    # Storage is never called for a page: its channel connects lazily.
    app = create_app(nats_url, "127.0.0.1:1", namespace, ingest_target="127.0.0.1:1")
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://gateway") as client,
    ):
        page = await client.get("/graphql", headers={"Accept": "text/html"})
        assert page.status_code == 200
        assert "GraphiQL" in page.text
        tags = re.findall(r'(?:src|href)="([^"]+)"\s+integrity="([^"]+)"', page.text)
        assert len(tags) == 7  # react, react-dom, js-cookie, graphiql js+css, explorer js+css
        for url, stated in tags:
            assert url.startswith("/graphql-static/"), url
            asset = await client.get(url)
            assert asset.status_code == 200, url
            assert integrity(asset.content) == stated, url
        assert not re.findall(r'(?:src|href)="(https?:)', page.text)
