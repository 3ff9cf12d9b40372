"""The alerts rows of the authorisation matrix, over real HTTP in required mode: one user's
alert rules, notification channels and notifications are invisible and untouchable to
another (NOT_FOUND, never FORBIDDEN, so ids leak nothing); the alertFired subscription
refuses another user's rule."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import pytest_asyncio
from websockets.asyncio.client import connect
from websockets.typing import Subprotocol

from services.alerts import service as alerts_service
from services.cli.users import add_user
from services.common.auth.tokens import load_key_ring
from services.common.embedded import free_port
from services.storage import service as storage_service
from tests.fakes.webhook_sink import WebhookSink
from tests.integration.graph_helpers import error_codes, gateway
from tests.integration.helpers import running, service_settings
from tests.integration.test_graph_auth import PASSWORD, Api

pytestmark = pytest.mark.integration


@pytest_asyncio.fixture
async def api(
    database_url: str, nats_url: str, namespace: str, tmp_path: Path
) -> AsyncIterator[tuple[Api, WebhookSink]]:
    keys = tmp_path / "keys"
    load_key_ring(keys, create=True, now=datetime.now(UTC))
    alerts_port = free_port()
    settings = service_settings(
        database_url,
        nats_url,
        namespace,
        auth="required",
        auth_keys_dir=keys,
        alerts_grpc_port=alerts_port,
        alerts_target=f"127.0.0.1:{alerts_port}",
        alerts_metrics_port=0,
        service_token="alerts-matrix-token",
    )
    async with (
        WebhookSink(secret="whsec-matrix") as sink,
        running(storage_service.run, settings, settings.storage_grpc_port),
        running(alerts_service.run, settings, alerts_port),
    ):
        await add_user(settings, "alice", PASSWORD, admin=False)
        await add_user(settings, "bob", PASSWORD, admin=False)
        async with gateway(settings):
            yield Api(settings), sink


async def test_one_user_cannot_read_or_touch_anothers_alerts(
    api: tuple[Api, WebhookSink],
) -> None:
    graph, sink = api
    alice = (await graph.login("alice"))["accessToken"]
    bob = (await graph.login("bob"))["accessToken"]
    channel = (
        await graph.data(
            'mutation { createNotificationChannel(input: {kind: WEBHOOK, name: "desk", '
            f'target: "{sink.url}", secret: "whsec-matrix"}}) {{ id }} }}',
            alice,
        )
    )["createNotificationChannel"]["id"]
    rule = (
        await graph.data(
            'mutation { createAlertRule(input: {symbol: "BTCUSDT", condition: "price > 1", '
            f'channelIds: ["{channel}"]}}) {{ id }} }}',
            alice,
        )
    )["createAlertRule"]["id"]

    # Alice sees hers.
    rules = (await graph.data("{ alertRules { id } }", alice))["alertRules"]
    assert [r["id"] for r in rules] == [rule]
    listed = (await graph.data("{ notificationChannels { id } }", alice))["notificationChannels"]
    assert [c["id"] for c in listed] == [channel]

    # Bob sees none of them ...
    assert (await graph.data("{ alertRules { id } }", bob))["alertRules"] == []
    assert (await graph.data("{ notificationChannels { id } }", bob))["notificationChannels"] == []
    notifications = await graph.data("{ notifications { edges { cursor } } }", bob)
    assert notifications["notifications"]["edges"] == []
    # ... and can neither read, change, pause, delete nor use them.
    for document in (
        f'{{ alertRule(id: "{rule}") {{ id }} }}',
        f'{{ notifications(ruleId: "{rule}") {{ edges {{ cursor }} }} }}',
        f'mutation {{ pauseAlertRule(id: "{rule}") {{ id }} }}',
        f'mutation {{ updateAlertRule(id: "{rule}", input: {{condition: "price > 2"}}) {{ id }} }}',
        f'mutation {{ deleteAlertRule(id: "{rule}") }}',
        f'mutation {{ deleteNotificationChannel(id: "{channel}") }}',
        f'mutation {{ sendTestNotification(channelId: "{channel}") {{ status }} }}',
    ):
        assert error_codes(await graph.ask(document, bob)) == ["NOT_FOUND"], document
    assert sink.requests == []  # Bob's test send never reached Alice's webhook
    # Naming Alice's channel in a rule of his own is refused too (as an unknown channel).
    borrowed = await graph.ask(
        'mutation { createAlertRule(input: {symbol: "BTCUSDT", condition: "price > 1", '
        f'channelIds: ["{channel}"]}}) {{ id }} }}',
        bob,
    )
    assert error_codes(borrowed) in (["INVALID_ARGUMENT"], ["NOT_FOUND"])
    assert (await graph.data("{ alertRules { id } }", bob))["alertRules"] == []

    # Still Alice's, unchanged.
    still = await graph.data(f'{{ alertRule(id: "{rule}") {{ id state condition }} }}', alice)
    assert still["alertRule"] == {"id": rule, "state": "ARMED", "condition": "price > 1"}

    # Nor can Bob follow Alice's rule live.
    ws_url = f"ws://127.0.0.1:{graph.settings.graph_port}/graphql"
    async with connect(ws_url, subprotocols=[Subprotocol("graphql-transport-ws")]) as socket:
        await socket.send(
            json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {bob}"}})
        )
        assert json.loads(await asyncio.wait_for(socket.recv(), 10))["type"] == "connection_ack"
        query = f'subscription {{ alertFired(ruleIds: ["{rule}"]) {{ ruleId }} }}'
        await socket.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": query}}))
        message = json.loads(await asyncio.wait_for(socket.recv(), 10))
        assert message["type"] in ("next", "error"), message
        payload = message["payload"]
        errors = payload if isinstance(payload, list) else payload.get("errors", [])
        assert [e["extensions"]["code"] for e in errors] == ["NOT_FOUND"], message
