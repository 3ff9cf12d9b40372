"""The seed's alert routes over HTTP against the real alerts service, storage, PostgreSQL and
NATS on loopback: `/alerts` (rules), `/alerts/subscriptions` (notification channels) and
`/alerts/notifications` (firings with their deliveries) answer what GraphQL answers, in the
shape their OpenAPI document states, and refuse bad input with a typed error."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import pytest_asyncio
from jsonschema import Draft202012Validator
from nats.aio.client import Client as NatsClient

from services.alerts import service as alerts_service
from services.common.settings import Settings
from services.ingest.publisher import EventPublisher
from services.storage import service as storage_service
from tests.fakes.webhook_sink import WebhookSink
from tests.integration.graph_helpers import gateway, graphql
from tests.integration.helpers import eventually, running, service_settings, trade, trade_publisher

pytestmark = pytest.mark.integration

SECRET = "whsec-rest-7c21"


class Api:
    def __init__(self, settings: Settings, client: httpx.AsyncClient, openapi: dict[str, Any]):
        self.settings, self.client, self.openapi = settings, client, openapi

    async def call(self, method: str, path: str, **kwargs: Any) -> tuple[int, Any]:
        """Request ``path`` and check the answer against its OpenAPI operation."""
        response = await self.client.request(method, path, **kwargs)
        body = response.json()
        operation = self.openapi["paths"][path][method.lower()]
        documented = operation["responses"][str(response.status_code)]
        if "$ref" in documented:
            documented = self.openapi["components"]["responses"][documented["$ref"].rsplit("/")[-1]]
        schema = documented["content"]["application/json"]["schema"]
        Draft202012Validator({**schema, "components": self.openapi["components"]}).validate(body)
        return response.status_code, body


@pytest_asyncio.fixture
async def api(database_url: str, nats_url: str, namespace: str) -> AsyncIterator[Api]:
    settings = service_settings(database_url, nats_url, namespace)
    async with (
        running(storage_service.run, settings, settings.storage_grpc_port),
        running(alerts_service.run, settings, settings.alerts_grpc_port),
        gateway(settings),
    ):
        base = f"http://127.0.0.1:{settings.graph_port}"
        async with httpx.AsyncClient(base_url=base, timeout=60) as client:
            openapi = (await client.get("/openapi.json")).json()
            yield Api(settings, client, openapi)


async def _cross_until(publisher: EventPublisher, seen: asyncio.Event, first_id: int) -> None:
    """BTCUSDT trades at 99 and 101 by turns (each 101 crosses above 100) until told."""
    trade_id = first_id
    while not seen.is_set():
        await publisher.publish(
            trade(trade_id, price="99.00000000" if trade_id % 2 == 0 else "101.00000000")
        )
        await publisher.flush()
        trade_id += 1
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(seen.wait(), 0.3)


async def test_alert_routes_are_documented_with_their_methods(api: Api) -> None:
    paths = api.openapi["paths"]
    assert set(paths["/alerts"]) == {"get", "post"}
    assert set(paths["/alerts/subscriptions"]) == {"get", "post"}
    assert set(paths["/alerts/notifications"]) == {"get"}
    body = paths["/alerts"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/AlertRuleInput"}


async def test_rules_and_channels_are_created_and_listed_as_graphql_lists_them(
    api: Api,
) -> None:
    assert await api.call("GET", "/alerts") == (200, [])
    assert await api.call("GET", "/alerts/subscriptions") == (200, [])
    status, channel = await api.call(
        "POST",
        "/alerts/subscriptions",
        json={
            "kind": "WEBHOOK",
            "name": "desk",
            "target": "http://127.0.0.1:9/hook",
            "secret": "s",
        },
    )
    assert status == 201
    assert (channel["kind"], channel["name"], channel["hasSecret"]) == ("WEBHOOK", "desk", True)
    status, rule = await api.call(
        "POST",
        "/alerts",
        json={"symbol": "btcusdt", "condition": "price > 70000", "channelIds": [channel["id"]]},
    )
    assert status == 201
    assert (rule["symbol"], rule["condition"], rule["state"]) == (
        "BTCUSDT",
        "price > 70000",
        "ARMED",
    )
    assert rule["channelIds"] == [channel["id"]]
    await api.call("POST", "/alerts", json={"symbol": "ETHUSDT", "condition": "price < 1000"})

    graph = await graphql(
        api.settings,
        "{ alertRules { id symbol condition state } notificationChannels { id name } }",
    )
    _, rules = await api.call("GET", "/alerts")
    assert [(r["id"], r["symbol"], r["condition"], r["state"]) for r in rules] == [
        (r["id"], r["symbol"], r["condition"], r["state"]) for r in graph["data"]["alertRules"]
    ]
    assert len(rules) == 2
    _, mine = await api.call("GET", "/alerts", params={"symbol": "BTCUSDT"})
    assert [r["id"] for r in mine] == [rule["id"]]
    _, channels = await api.call("GET", "/alerts/subscriptions")
    assert [(c["id"], c["name"]) for c in channels] == [
        (c["id"], c["name"]) for c in graph["data"]["notificationChannels"]
    ]


async def test_bad_alert_requests_are_typed_errors(api: Api) -> None:
    status, body = await api.call(
        "POST", "/alerts", json={"symbol": "BTCUSDT", "condition": "price >>> 1"}
    )
    assert status == 400 and body["error"]["code"] == "INVALID_ARGUMENT"
    status, body = await api.call("POST", "/alerts", json={"symbol": "BTCUSDT"})
    assert status == 400 and "condition" in body["error"]["message"]
    status, body = await api.call(
        "POST", "/alerts/subscriptions", json={"kind": "PIGEON", "name": "x", "target": "y"}
    )
    assert status == 400
    status, body = await api.call("GET", "/alerts/notifications", params={"after": "nope"})
    assert status == 400 and body["error"]["code"] == "INVALID_ARGUMENT"
    status, body = await api.call("GET", "/alerts/notifications", params={"first": "0"})
    assert status == 400


async def test_notifications_list_a_firing_with_its_delivery_at_the_sink(
    api: Api, nats_client: NatsClient, namespace: str
) -> None:
    async with WebhookSink(secret=SECRET) as sink:
        _, channel = await api.call(
            "POST",
            "/alerts/subscriptions",
            json={"kind": "WEBHOOK", "name": "hook", "target": sink.url, "secret": SECRET},
        )
        _, rule = await api.call(
            "POST",
            "/alerts",
            json={
                "symbol": "BTCUSDT",
                "condition": "price crosses_above 100",
                "channelIds": [channel["id"]],
            },
        )
        _, publisher = await trade_publisher(nats_client, namespace)
        seen = asyncio.Event()
        publishing = asyncio.create_task(_cross_until(publisher, seen, 4_000))

        async def delivered() -> bool:
            status, page = await api.call(
                "GET", "/alerts/notifications", params={"ruleId": rule["id"], "first": "5"}
            )
            assert status == 200, page
            edges = page["edges"]
            return bool(edges) and edges[-1]["node"]["deliveries"][0]["status"] == "DELIVERED"

        try:
            await eventually(delivered)
        finally:
            seen.set()
            await publishing
        _, page = await api.call("GET", "/alerts/notifications", params={"ruleId": rule["id"]})
        node = page["edges"][-1]["node"]
        assert (node["ruleId"], node["symbol"], node["condition"]) == (
            rule["id"],
            "BTCUSDT",
            "price crosses_above 100",
        )
        assert node["price"] == "101.00000000" and int(node["tradeId"]) % 2 == 1
        (delivery,) = node["deliveries"]
        assert (delivery["channelId"], delivery["channelKind"], delivery["channelName"]) == (
            channel["id"],
            "WEBHOOK",
            "hook",
        )
        assert delivery["attempts"] >= 1 and delivery["deliveredAt"] is not None
        hooks = [h.payload for h in sink.accepted()]
        assert any(str(h.get("tradeId")) == node["tradeId"] for h in hooks), hooks
        graph = await graphql(
            api.settings,
            f'{{ notifications(ruleId: "{rule["id"]}") {{ edges {{ node {{ id tradeId }} }} }} }}',
        )
        assert [e["node"]["id"] for e in page["edges"]] == [
            e["node"]["id"] for e in graph["data"]["notifications"]["edges"]
        ]
