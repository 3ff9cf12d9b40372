"""GraphiQL in a real browser with no way out: Debian's Chromium, driven by Playwright, every
request to a host other than this machine aborted, runs a query and a live subscription
against `quantflow up` replaying a real capture at recorded pace."""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import pytest
import pytest_asyncio
from playwright.async_api import Page, Route, WebSocketRoute, async_playwright
from playwright.async_api import TimeoutError as PlaywrightTimeout

from services.common.embedded import free_port
from services.ingest.recordings import read_recording
from tests.conftest import HFT_CAPTURE
from tests.e2e.conftest import base_env, graphql, wait_for_graph
from tests.integration.helpers import eventually

pytestmark = pytest.mark.e2e

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
LOOPBACK = {"127.0.0.1", "localhost", "::1"}
PRICES_QUERY = "{ prices { symbol price } }"
TRADES_SUBSCRIPTION = 'subscription { trades(symbols: ["BTCUSDT"]) { tradeId price } }'


def chromium_or_skip() -> str:
    """Debian's Chromium; Playwright never downloads a browser of its own here."""
    found = shutil.which("chromium")
    if found:
        return found
    reason = "Debian's chromium is not installed (`quantflow dev install-browser` installs it)"
    if os.environ.get("QUANTFLOW_TEST_REQUIRE_BROWSER") == "1":
        pytest.fail(f"{reason}; QUANTFLOW_TEST_REQUIRE_BROWSER=1 asks for the browser test")
    pytest.skip(reason)


class OfflinePage:
    """A page that can reach loopback only, recording what it tried beyond, and its errors."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.outside: list[str] = []
        self.errors: list[str] = []
        page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: self.errors.append(str(e)))

    def _allowed(self, url: str) -> bool:
        if urlsplit(url).hostname in LOOPBACK or url.startswith("data:"):
            return True
        self.outside.append(url)
        return False

    async def route(self, route: Route) -> None:
        if self._allowed(route.request.url):
            await route.continue_()
        else:
            await route.abort("internetdisconnected")

    def outside_socket(self, url: str) -> bool:
        """WebSockets bypass ``route``: those to outside hosts are routed here, never opened."""
        return not self._allowed(url)

    async def refuse_socket(self, socket: WebSocketRoute) -> None:
        await socket.close(code=1008, reason="no internet in this test")

    async def run(self, base_url: str, query: str) -> None:
        """Open GraphiQL with ``query`` in its editor (the page reads ?q=) and press run."""
        await self.page.goto(f"{base_url}/graphql?q={quote(query)}")
        try:
            await self.page.locator(".graphiql-execute-button").click(timeout=30_000)
        except PlaywrightTimeout:
            raise AssertionError(
                f"GraphiQL never rendered; it tried to reach {self.outside} and reported "
                f"{self.errors}"
            ) from None

    async def result(self) -> str:
        text: str = await self.page.locator(".graphiql-response").inner_text()
        return text


@pytest_asyncio.fixture
async def offline_page() -> AsyncIterator[OfflinePage]:
    executable = chromium_or_skip()
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=executable, headless=True)
        context = await browser.new_context(viewport={"width": 1400, "height": 800})
        page = OfflinePage(await context.new_page())
        await context.route("**/*", page.route)
        await context.route_web_socket(page.outside_socket, page.refuse_socket)
        try:
            yield page
        finally:
            await browser.close()


def capture_prices() -> dict[str, str]:
    """trade id → price of every trade in the capture the stack replays."""
    prices = {}
    for line in read_recording(HFT_CAPTURE):
        message = json.loads(line.text)
        if message.get("stream", "").endswith("@trade"):
            prices[str(message["data"]["t"])] = message["data"]["p"]
    return prices


async def test_graphiql_runs_a_query_and_a_live_subscription_with_no_internet(
    cli: Any,
    offline_page: OfflinePage,
    database_url: str,
    nats_url: str,
    namespace: str,
    tmp_path: Path,
) -> None:
    graph_port = free_port()
    url = f"http://127.0.0.1:{graph_port}"
    env = base_env(
        database_url=database_url,
        nats_url=nats_url,
        namespace=namespace,
        graph_port=str(graph_port),
        data_dir=str(tmp_path / "qf"),
        symbols="BTCUSDT",
    )
    up = cli(["up", "--source", f"replay:{HFT_CAPTURE}", "--speed", "1", "--loop"], env)
    await wait_for_graph(url, up)

    async def priced() -> bool:
        return bool((await graphql(url, PRICES_QUERY))["data"]["prices"])

    await eventually(priced, timeout=60)
    ARTIFACTS.mkdir(exist_ok=True)
    page = offline_page

    await page.run(url, PRICES_QUERY)

    async def answered() -> bool:
        return '"symbol": "BTCUSDT"' in await page.result()

    await eventually(answered, timeout=30)
    await page.page.screenshot(path=ARTIFACTS / "graphiql-query.png")

    await page.run(url, TRADES_SUBSCRIPTION)
    prices = capture_prices()
    streamed: dict[str, str] = {}

    async def streaming() -> bool:
        text = await page.result()
        for trade_id, price in re.findall(r'"tradeId": "?(\d+)"?,\s*"price": "([^"]+)"', text):
            streamed[trade_id] = price
        return len(streamed) >= 3

    await eventually(streaming, timeout=60)
    screenshot = ARTIFACTS / "graphiql-subscription.png"
    await page.page.screenshot(path=screenshot)
    print(f"GraphiQL screenshots: {ARTIFACTS}")

    assert all(prices[trade_id] == price for trade_id, price in streamed.items()), streamed
    assert page.outside == [], f"the page tried to reach outside: {page.outside}"
    assert page.errors == [], page.errors
    assert await up.interrupt() == 0, up.output()[-3000:]
