"""The REST docs page in a real browser with no way out: Debian's Chromium, every request to
a host other than this machine aborted, renders /openapi.json with the vendored Swagger UI and
runs `GET /price/{symbol}` against the gateway over real storage."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from nats.aio.client import Client as NatsClient

from services.common.settings import Settings
from services.storage import service as storage_service
from tests.e2e.test_graphiql_browser import ARTIFACTS, OfflinePage, offline_page
from tests.integration.graph_helpers import gateway, graphql
from tests.integration.helpers import (
    eventually,
    running,
    service_settings,
    trade,
    trade_publisher,
)

pytestmark = pytest.mark.e2e

__all__ = ["offline_page"]  # the fixture, shared with the GraphiQL browser test


@pytest_asyncio.fixture
async def priced(
    database_url: str, nats_url: str, namespace: str, nats_client: NatsClient
) -> AsyncIterator[Settings]:
    """Storage and the gateway with one BTCUSDT trade stored."""
    settings = service_settings(database_url, nats_url, namespace)
    async with running(storage_service.run, settings, settings.storage_grpc_port):
        _, publisher = await trade_publisher(nats_client, namespace)
        await publisher.publish(dataclasses.replace(trade(7, "61234.56000000")))
        await publisher.flush()
        async with gateway(settings):

            async def stored() -> bool:
                answer = await graphql(settings, "{ prices { tradeId } }")
                return bool(answer["data"]["prices"])

            await eventually(stored)
            yield settings


async def test_docs_page_runs_get_price_with_no_internet(
    priced: Settings, offline_page: OfflinePage
) -> None:
    page = offline_page.page
    await page.goto(f"http://127.0.0.1:{priced.graph_port}/docs")
    operation = page.locator("#operations-market_data-getPrice")
    try:
        await operation.locator(".opblock-summary").click(timeout=30_000)
    except Exception:
        raise AssertionError(
            f"Swagger UI never rendered; it tried to reach {offline_page.outside} and "
            f"reported {offline_page.errors}"
        ) from None
    # tryItOutEnabled: the parameters are editable at once.
    await operation.locator('input[placeholder="symbol"]').fill("BTCUSDT")
    await operation.locator("button.execute").click()
    body = operation.locator(".live-responses-table .response-col_description pre").first
    await body.wait_for(timeout=30_000)
    answered = json.loads(await body.inner_text())
    ARTIFACTS.mkdir(exist_ok=True)
    await body.scroll_into_view_if_needed()
    await page.screenshot(path=ARTIFACTS / "docs-get-price.png", full_page=False)
    assert answered["price"] == "61234.56000000" and answered["tradeId"] == "7"
    assert offline_page.outside == []
    assert offline_page.errors == []
