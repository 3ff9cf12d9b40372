"""The REST routes over HTTP against real storage and backtest services (PostgreSQL, NATS,
gRPC on loopback): each answers what GraphQL answers, in the shape its OpenAPI document
states, and every bad request is a typed JSON error with its HTTP status."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import pytest
import pytest_asyncio
from jsonschema import Draft202012Validator
from nats.aio.client import Client as NatsClient
from openapi_spec_validator import validate

from services.backtest import service as backtest_service
from services.common.settings import Settings
from services.storage import service as storage_service
from services.storage import tables
from services.storage.repository import TradeRepository, prepare_connection
from tests.integration.graph_helpers import gateway, graphql
from tests.integration.helpers import (
    eventually,
    running,
    service_settings,
    trade,
    trade_publisher,
)
from tests.vision_klines import USDM_1M, klines

pytestmark = pytest.mark.integration

USDM = "binance_usdm"
DAY = {"from": "2022-04-08T00:00:00Z", "to": "2022-04-09T00:00:00Z"}
BACKTEST = {
    "symbol": "BTCUSDT",
    "venue": USDM,
    "interval": "1h",
    **DAY,
    "strategy": "sma_cross",
    "params": {"fast": 3, "slow": 8},
}


@dataclasses.dataclass
class Api:
    settings: Settings
    client: httpx.AsyncClient
    openapi: dict[str, Any]

    async def call(self, method: str, path: str, template: str, **kwargs: Any) -> tuple[int, Any]:
        """Request ``path`` (an instance of the documented ``template``) and check the answer
        against the OpenAPI document: a documented status, a body of its schema."""
        response = await self.client.request(method, path, **kwargs)
        body = response.json()
        operation = self.openapi["paths"][template][method.lower()]
        documented = operation["responses"][str(response.status_code)]
        if "$ref" in documented:
            name = documented["$ref"].rsplit("/", 1)[1]
            documented = self.openapi["components"]["responses"][name]
        schema = documented["content"]["application/json"]["schema"]
        Draft202012Validator({**schema, "components": self.openapi["components"]}).validate(body)
        return response.status_code, body


@pytest_asyncio.fixture
async def api(
    database_url: str, nats_url: str, namespace: str, nats_client: NatsClient
) -> AsyncIterator[Api]:
    """Storage, backtest (one worker) and the gateway, with Binance's USDⓈ-M BTCUSDT 1m
    klines of 2022-04-08 and three futures trades stored."""
    settings = service_settings(database_url, nats_url, namespace)
    async with (
        running(storage_service.run, settings, settings.storage_grpc_port),
        running(backtest_service.run, settings, settings.backtest_grpc_port),
    ):
        pool = await asyncpg.create_pool(
            database_url, min_size=1, max_size=1, init=prepare_connection
        )
        try:
            await TradeRepository(pool).write(tables.KLINES, klines(USDM_1M, USDM, "BTCUSDT", "1m"))
        finally:
            await pool.close()
        _, publisher = await trade_publisher(nats_client, namespace)
        for trade_id, price in ((1, "45001.10"), (2, "45002.20"), (3, "45003.30")):
            await publisher.publish(dataclasses.replace(trade(trade_id, price), venue=USDM))
        await publisher.flush()
        async with gateway(settings):
            base = f"http://127.0.0.1:{settings.graph_port}"
            async with httpx.AsyncClient(base_url=base, timeout=60) as client:

                async def stored() -> bool:
                    answer = await client.get("/prices", params={"venue": USDM})
                    return bool([p["tradeId"] for p in answer.json()] == ["3"])

                await eventually(stored)
                openapi = (await client.get("/openapi.json")).json()
                yield Api(settings, client, openapi)


async def test_openapi_document_is_valid_openapi_3_1_and_docs_page_loads_local_assets(
    api: Api,
) -> None:
    validate(api.openapi)
    assert api.openapi["openapi"] == "3.1.0"
    docs = await api.client.get("/docs")
    assert docs.status_code == 200 and "SwaggerUIBundle" in docs.text
    for asset in ("swagger-ui-bundle.js", "swagger-ui.css"):
        url = f"/graphql-static/swagger-ui/{asset}"
        assert url in docs.text
        assert (await api.client.get(url)).status_code == 200
    assert "https://" not in docs.text and "http://" not in docs.text


async def test_prices_and_price_answer_what_graphql_answers(api: Api) -> None:
    fields = "venue symbol price quantity tradeId tradeTimeMs tradeTime"
    expected = await graphql(
        api.settings,
        f'{{ prices(venue: "{USDM}") {{ {fields} }} '
        f'price(symbol: "BTCUSDT", venue: "{USDM}") {{ {fields} }} }}',
    )
    status, prices = await api.call("GET", f"/prices?venue={USDM}", "/prices")
    assert (status, prices) == (200, expected["data"]["prices"])
    status, price = await api.call("GET", f"/price/btcusdt?venue={USDM}", "/price/{symbol}")
    assert (status, price) == (200, expected["data"]["price"])
    assert price["price"] == "45003.30" and price["tradeId"] == "3"
    status, listed = await api.call("GET", "/prices?symbols=BTCUSDT&symbols=ETHUSDT", "/prices")
    assert status == 200 and [p["venue"] for p in listed] == [USDM]


async def test_price_errors_are_typed_with_their_http_status(api: Api) -> None:
    status, body = await api.call("GET", "/price/ETHUSDT", "/price/{symbol}")
    assert status == 404 and body["error"]["code"] == "NOT_FOUND"
    assert "ETHUSDT" in body["error"]["message"]
    status, body = await api.call("GET", "/price/BTC!USDT", "/price/{symbol}")
    assert status == 400 and body["error"]["code"] == "INVALID_ARGUMENT"
    assert "BTC!USDT" in body["error"]["message"]
    status, body = await api.call("GET", "/price/BTCUSDT?venue=nasdaq", "/price/{symbol}")
    assert status == 400 and "nasdaq" in body["error"]["message"]
    status, body = await api.call(
        "GET", "/price/BTCUSDT?venue=binance&venue=binance_usdm", "/price/{symbol}"
    )
    assert status == 400 and "venue" in body["error"]["message"]


async def test_history_pages_with_cursors_and_refuses_bad_page_sizes(api: Api) -> None:
    template = "/history/{symbol}"
    status, page = await api.call("GET", f"/history/BTCUSDT?venue={USDM}&first=2", template)
    assert status == 200
    assert [e["node"]["tradeId"] for e in page["edges"]] == ["1", "2"]
    assert page["pageInfo"]["hasNextPage"] is True
    after = page["pageInfo"]["endCursor"]
    status, rest = await api.call(
        "GET", template.replace("{symbol}", "BTCUSDT"), template,
        params={"venue": USDM, "after": after},
    )  # fmt: skip
    assert [e["node"]["tradeId"] for e in rest["edges"]] == ["3"]
    for first, named in (("abc", "first: 'abc' is not an integer"), ("5000", "first 5000")):
        status, body = await api.call("GET", f"/history/BTCUSDT?first={first}", template)
        assert status == 400 and body["error"]["code"] == "INVALID_ARGUMENT"
        assert named in body["error"]["message"]
    status, body = await api.call("GET", "/history/BTCUSDT?from=yesterday", template)
    assert status == 400 and "yesterday" in body["error"]["message"]


async def test_ohlc_and_indicators_answer_what_graphql_answers(api: Api) -> None:
    range_ = (
        f'symbol: "BTCUSDT", venue: "{USDM}", interval: "1h", '
        f'from: "{DAY["from"]}", to: "{DAY["to"]}"'
    )
    expected = (
        await graphql(
            api.settings,
            f"{{ ohlc({range_}) {{ symbol interval venue source openTime open high low close "
            "volume quoteVolume trades } "
            f'indicators({range_}, specs: ["rsi(14)", "macd(12,26,9)"]) '
            "{ source openTime series { spec name values } } }",
        )
    )["data"]
    query = {"interval": "1h", "venue": USDM, **DAY}
    status, ohlc = await api.call(
        "GET", "/chart/ohlc/BTCUSDT", "/chart/ohlc/{symbol}", params=query
    )
    assert (status, ohlc) == (200, expected["ohlc"])
    assert len(ohlc["close"]) == 24
    status, indicators = await api.call(
        "GET",
        "/indicators/BTCUSDT",
        "/indicators/{symbol}",
        params={**query, "specs": ["rsi(14)", "macd(12,26,9)"]},
    )
    assert (status, indicators) == (200, expected["indicators"])
    assert [s["spec"] for s in indicators["series"]] == ["rsi(14)"] + ["macd(12,26,9)"] * 3
    status, body = await api.call(
        "GET", "/indicators/BTCUSDT", "/indicators/{symbol}",
        params={**query, "specs": "nope(3)"},
    )  # fmt: skip
    assert status == 400 and "nope" in body["error"]["message"]
    status, body = await api.call(
        "GET", "/chart/ohlc/BTCUSDT", "/chart/ohlc/{symbol}", params={"interval": "1h"}
    )
    assert status == 400 and "$from" in body["error"]["message"]


async def test_backtest_run_answers_its_result_and_refuses_bad_bodies(api: Api) -> None:
    status, strategies = await api.call("GET", "/backtest/strategies", "/backtest/strategies")
    assert status == 200 and "sma_cross" in [s["name"] for s in strategies]
    status, result = await api.call("POST", "/backtest/run", "/backtest/run", json=BACKTEST)
    assert status == 200
    assert result["strategy"] == "sma_cross" and result["params"] == {"fast": 3, "slow": 8}
    assert result["dataQuality"]["bars"] == 24
    assert result["tradeList"]["totalCount"] == result["metrics"]["entries"]
    stored = await graphql(
        api.settings, f'{{ backtest(id: "{result["id"]}") {{ metrics {{ finalEquity }} }} }}'
    )
    assert stored["data"]["backtest"]["metrics"] == {
        "finalEquity": result["metrics"]["finalEquity"]
    }
    for body, named in (
        ({**BACKTEST, "strategy": "moonshot"}, "moonshot"),
        ({k: v for k, v in BACKTEST.items() if k != "interval"}, "interval"),
        ({**BACKTEST, "cash": "lots"}, "cash"),
    ):
        status, error = await api.call("POST", "/backtest/run", "/backtest/run", json=body)
        assert status == 400 and error["error"]["code"] == "INVALID_ARGUMENT", error
        assert named in error["error"]["message"]
    status, error = await api.call("POST", "/backtest/run", "/backtest/run", content=b"{not json")
    assert status == 400 and "not JSON" in error["error"]["message"]
    status, error = await api.call(
        "POST", "/backtest/run", "/backtest/run", json={**BACKTEST, "pad": "x" * 70_000}
    )
    assert status == 413 and error["errors"][0]["extensions"]["code"] == "PAYLOAD_TOO_LARGE"


async def test_optimize_queues_a_job_followed_to_its_result_at_the_job_route(api: Api) -> None:
    body = {
        "backtest": BACKTEST,
        "ranges": [{"name": "fast", "start": 2, "stop": 4, "step": 1}],
        "objective": "totalReturn",
    }
    status, job = await api.call("POST", "/backtest/optimize", "/backtest/optimize", json=body)
    assert status == 202 and (job["kind"], job["state"]) == ("OPTIMIZE", "QUEUED")
    template = "/backtest/jobs/{jobId}"

    async def finished() -> bool:
        status, found = await api.call("GET", f"/backtest/jobs/{job['id']}", template)
        return status == 200 and found["state"] == "SUCCEEDED"

    await eventually(finished, timeout=120)
    status, done = await api.call("GET", f"/backtest/jobs/{job['id']}", template)
    assert done["result"]["__typename"] == "OptimizeResult"
    assert sorted(row["params"]["fast"] for row in done["result"]["rows"]) == [2, 3, 4]
    unknown = "00000000-0000-4000-8000-000000000000"
    status, error = await api.call("GET", f"/backtest/jobs/{unknown}", template)
    assert status == 404 and error["error"]["code"] == "NOT_FOUND"
