"""Alerts through GraphQL over real HTTP and WebSocket: the gateway, the alerts service and
storage on loopback, real PostgreSQL and NATS JetStream, webhooks to a local sink.

Channels (create, list, sendTestNotification arriving signed at the sink, delete), rules
(create, update, pause, resume, delete; a bad condition refused with its code and column),
``ruleHistory`` over stored trades and over real 1m klines against crossings computed
here, and a rule firing on published trades: ``alertFired`` receives it and
``notifications`` lists it with its delivery to the sink, delivered."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import asyncpg
import pytest
import pytest_asyncio
from nats.aio.client import Client as NatsClient
from websockets.asyncio.client import ClientConnection, connect
from websockets.typing import Subprotocol

from quantflow.alerts.v1 import alert_fired_pb2
from services.alerts import service as alerts_service
from services.common import names
from services.common.embedded import free_port
from services.common.settings import Settings
from services.ingest.publisher import EventPublisher
from services.storage import service as storage_service
from services.storage import tables
from services.storage.repository import TradeRepository, prepare_connection
from tests.fakes.webhook_sink import WebhookSink
from tests.integration.graph_helpers import error_codes, gateway, graphql
from tests.integration.helpers import (
    eventually,
    running,
    service_settings,
    trade,
    trade_publisher,
)
from tests.vision_klines import USDM_1M, klines

pytestmark = pytest.mark.integration

SECRET = "whsec-test-3f9a"
RULE_FIELDS = (
    "id symbol venue condition interval mode cooldownSeconds rearm expiresAt channelIds state "
    "firedCount lastFiredAt createdAt updatedAt"
)


@dataclasses.dataclass
class Stack:
    settings: Settings
    sink: WebhookSink
    database_url: str

    async def data(self, document: str) -> dict[str, Any]:
        answer = await graphql(self.settings, document)
        assert "errors" not in answer, answer["errors"]
        data: dict[str, Any] = answer["data"]
        return data

    async def errors(self, document: str) -> list[dict[str, Any]]:
        answer = await graphql(self.settings, document)
        assert answer.get("errors"), answer
        errors: list[dict[str, Any]] = answer["errors"]
        return errors

    async def webhook_channel(self, name: str = "desk hook") -> str:
        created = await self.data(
            "mutation { createNotificationChannel(input: {kind: WEBHOOK, "
            f'name: "{name}", target: "{self.sink.url}", secret: "{SECRET}"}}) '
            "{ id kind name target hasSecret } }"
        )
        channel = created["createNotificationChannel"]
        assert (channel["kind"], channel["name"], channel["hasSecret"]) == ("WEBHOOK", name, True)
        return str(channel["id"])


@pytest_asyncio.fixture
async def stack(database_url: str, nats_url: str, namespace: str) -> AsyncIterator[Stack]:
    alerts_port = free_port()
    settings = service_settings(
        database_url,
        nats_url,
        namespace,
        alerts_grpc_port=alerts_port,
        alerts_target=f"127.0.0.1:{alerts_port}",
        alerts_metrics_port=0,
    )
    async with (
        WebhookSink(secret=SECRET) as sink,
        running(storage_service.run, settings, settings.storage_grpc_port),
        running(alerts_service.run, settings, alerts_port),
        gateway(settings),
    ):
        yield Stack(settings, sink, database_url)


async def test_webhook_channel_is_listed_tested_at_the_sink_and_deleted(stack: Stack) -> None:
    channel_id = await stack.webhook_channel()
    listed = (await stack.data("{ notificationChannels { id kind name target hasSecret } }"))[
        "notificationChannels"
    ]
    assert [c["id"] for c in listed] == [channel_id]
    assert listed[0]["target"] == stack.sink.url
    assert SECRET not in json.dumps(listed)

    sent = (
        await stack.data(
            f'mutation {{ sendTestNotification(channelId: "{channel_id}") '
            "{ status delivered reason attempts } }"
        )
    )["sendTestNotification"]
    assert sent == {"status": "DELIVERED", "delivered": True, "reason": None, "attempts": 1}
    (hook,) = stack.sink.accepted()  # signed with the channel's secret, checked by the sink
    assert hook.payload  # a JSON body

    deleted = await stack.data(f'mutation {{ deleteNotificationChannel(id: "{channel_id}") }}')
    assert deleted == {"deleteNotificationChannel": True}
    assert (await stack.data("{ notificationChannels { id } }"))["notificationChannels"] == []
    errors = await stack.errors(
        f'mutation {{ sendTestNotification(channelId: "{channel_id}") {{ status }} }}'
    )
    assert errors[0]["extensions"]["code"] == "NOT_FOUND"


async def test_send_test_notification_reports_a_refusal_with_its_reason(stack: Stack) -> None:
    channel_id = await stack.webhook_channel()
    stack.sink.fail_next(404)  # permanent: not retried
    sent = (
        await stack.data(
            f'mutation {{ sendTestNotification(channelId: "{channel_id}") '
            "{ status delivered reason attempts } }"
        )
    )["sendTestNotification"]
    assert (sent["status"], sent["delivered"], sent["attempts"]) == ("FAILED", False, 1)
    assert "404" in sent["reason"]
    assert stack.sink.accepted() == []


async def test_rule_is_created_updated_paused_resumed_and_deleted(stack: Stack) -> None:
    channel_id = await stack.webhook_channel()
    created = (
        await stack.data(
            'mutation { createAlertRule(input: {symbol: "btcusdt", condition: '
            f'"price > 2680", mode: ONCE, cooldownSeconds: 30, channelIds: ["{channel_id}"], '
            f'expiresAt: "2030-01-01T00:00:00Z"}}) {{ {RULE_FIELDS} }} }}'
        )
    )["createAlertRule"]
    rule_id = created["id"]
    assert created["symbol"] == "BTCUSDT" and created["venue"] == "binance"
    assert (created["condition"], created["interval"], created["mode"]) == (
        "price > 2680",
        None,
        "ONCE",
    )
    assert (created["state"], created["firedCount"], created["lastFiredAt"]) == ("ARMED", 0, None)
    assert created["cooldownSeconds"] == 30 and created["channelIds"] == [channel_id]
    assert created["expiresAt"].startswith("2030-01-01T00:00:00")

    listed = (await stack.data("{ alertRules { id state } }"))["alertRules"]
    assert listed == [{"id": rule_id, "state": "ARMED"}]

    updated = (
        await stack.data(
            f'mutation {{ updateAlertRule(id: "{rule_id}", input: {{cooldownSeconds: 120, '
            f"expiresAt: null}}) {{ {RULE_FIELDS} }} }}"
        )
    )["updateAlertRule"]
    assert updated["cooldownSeconds"] == 120 and updated["expiresAt"] is None
    assert (updated["condition"], updated["mode"], updated["channelIds"]) == (
        "price > 2680",
        "ONCE",
        [channel_id],
    )

    paused = await stack.data(f'mutation {{ pauseAlertRule(id: "{rule_id}") {{ state }} }}')
    assert paused == {"pauseAlertRule": {"state": "PAUSED"}}
    fetched = await stack.data(f'{{ alertRule(id: "{rule_id}") {{ state }} }}')
    assert fetched == {"alertRule": {"state": "PAUSED"}}
    resumed = await stack.data(f'mutation {{ resumeAlertRule(id: "{rule_id}") {{ state }} }}')
    assert resumed == {"resumeAlertRule": {"state": "ARMED"}}

    assert await stack.data(f'mutation {{ deleteAlertRule(id: "{rule_id}") }}') == {
        "deleteAlertRule": True
    }
    assert (await stack.data("{ alertRules { id } }"))["alertRules"] == []
    for document in (
        f'{{ alertRule(id: "{rule_id}") {{ id }} }}',
        f'mutation {{ pauseAlertRule(id: "{rule_id}") {{ id }} }}',
        f'mutation {{ updateAlertRule(id: "{rule_id}", input: {{rearm: 1}}) {{ id }} }}',
    ):
        assert error_codes(await graphql(stack.settings, document)) == ["NOT_FOUND"], document


@pytest.mark.parametrize(
    ("condition", "column", "named"),
    [
        ("price > ", 9, ""),  # syntax: the value is missing at the end
        ("rsx(14) < 30", 1, "rsx"),  # unknown indicator
        ("close > 10 and rsi(0) < 30", 20, "rsi"),  # nonsense parameter, at the 0
    ],
)
async def test_invalid_condition_is_refused_with_its_code_and_column(
    stack: Stack, condition: str, column: int, named: str
) -> None:
    errors = await stack.errors(
        f'mutation {{ createAlertRule(input: {{symbol: "BTCUSDT", condition: "{condition}", '
        'interval: "1m"}) { id } }'
    )
    (error,) = errors
    assert error["extensions"]["code"] == "INVALID_ARGUMENT"
    assert error["extensions"]["column"] == column, error
    assert f"column {column}" in error["message"] and named in error["message"]
    assert (await stack.data("{ alertRules { id } }"))["alertRules"] == []


async def test_rule_on_an_unknown_channel_is_refused(stack: Stack) -> None:
    errors = await stack.errors(
        'mutation { createAlertRule(input: {symbol: "BTCUSDT", condition: "price > 1", '
        'channelIds: ["7f1c1f0e-0000-4000-8000-000000000000"]}) { id } }'
    )
    assert errors[0]["extensions"]["code"] in {"INVALID_ARGUMENT", "NOT_FOUND"}


# Prices a BTCUSDT tape walks through; `price crosses_above 100` holds where one is above 100
# and the one before is at or below it.
TAPE = ["99", "101", "100", "100", "102", "98", "100.5", "100.5", "99.99", "100.01", "101"]
LEVEL = Decimal(100)


def crossings_above(prices: list[str], level: Decimal) -> list[int]:
    """Indexes of the trades where the price crosses above ``level``, computed here."""
    return [
        i
        for i in range(1, len(prices))
        if Decimal(prices[i]) > level and Decimal(prices[i - 1]) <= level
    ]


async def test_rule_history_fires_where_the_stored_tape_crosses_the_level(stack: Stack) -> None:
    trades = [trade(1_000 + i, price=price) for i, price in enumerate(TAPE)]
    pool = await asyncpg.create_pool(
        stack.database_url, min_size=1, max_size=2, init=prepare_connection
    )
    try:
        assert await TradeRepository(pool).write_trades(trades) == len(trades)
    finally:
        await pool.close()
    start = datetime.fromtimestamp(trades[0].trade_time_ms / 1000, tz=UTC)
    end = datetime.fromtimestamp((trades[-1].trade_time_ms + 1) / 1000, tz=UTC)
    answer = await stack.data(
        '{ ruleHistory(symbol: "BTCUSDT", condition: "price crosses_above 100", '
        f'from: "{start.isoformat()}", to: "{end.isoformat()}") '
        "{ time price tradeId value } }"
    )
    expected = [trades[i] for i in crossings_above(TAPE, LEVEL)]
    assert expected  # the tape does cross
    assert answer["ruleHistory"] == [
        {
            "time": str(t.trade_time_ms),
            "price": t.price,
            "tradeId": str(t.trade_id),
            "value": float(t.price),
        }
        for t in expected
    ]
    # Half-open: a window ending at the last crossing's trade leaves that firing out.
    last = datetime.fromtimestamp(expected[-1].trade_time_ms / 1000, tz=UTC)
    shorter = await stack.data(
        '{ ruleHistory(symbol: "BTCUSDT", condition: "price crosses_above 100", '
        f'from: "{start.isoformat()}", to: "{last.isoformat()}") {{ tradeId }} }}'
    )
    assert [f["tradeId"] for f in shorter["ruleHistory"]] == [
        str(t.trade_id) for t in expected[:-1]
    ]
    errors = await stack.errors(
        '{ ruleHistory(symbol: "BTCUSDT", condition: "price crosses_above", '
        f'from: "{start.isoformat()}", to: "{end.isoformat()}") {{ tradeId }} }}'
    )
    assert errors[0]["extensions"]["code"] == "INVALID_ARGUMENT"
    empty = await stack.errors(
        '{ ruleHistory(symbol: "BTCUSDT", condition: "price > 1", '
        f'from: "{end.isoformat()}", to: "{start.isoformat()}") {{ tradeId }} }}'
    )
    assert empty[0]["extensions"]["code"] == "INVALID_ARGUMENT"


async def _subscribe(socket: ClientConnection, query: str) -> None:
    await socket.send(json.dumps({"type": "connection_init", "payload": {}}))
    assert json.loads(await socket.recv())["type"] == "connection_ack"
    await socket.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": query}}))


async def _next_data(socket: ClientConnection) -> dict[str, Any]:
    while True:
        message = json.loads(await asyncio.wait_for(socket.recv(), 30))
        if message["type"] in {"ping", "pong"}:
            continue
        assert message["type"] == "next", message
        assert "errors" not in message["payload"], message
        data: dict[str, Any] = message["payload"]["data"]
        return data


async def _cross_until(publisher: EventPublisher, fired: asyncio.Event, first_id: int) -> int:
    """Publish BTCUSDT trades at 99 and 101 by turns (each 101 crosses above 100) until the
    subscriber saw a firing; the subscription starts at some moment we cannot see."""
    trade_id = first_id
    while not fired.is_set():
        price = "99.00000000" if trade_id % 2 == 0 else "101.00000000"
        await publisher.publish(trade(trade_id, price=price))
        await publisher.flush()
        trade_id += 1
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(fired.wait(), 0.3)
    return trade_id


async def test_a_firing_reaches_alert_fired_and_notifications_with_its_delivery(
    stack: Stack, nats_client: NatsClient, namespace: str
) -> None:
    channel_id = await stack.webhook_channel()
    rule = (
        await stack.data(
            'mutation { createAlertRule(input: {symbol: "BTCUSDT", condition: '
            f'"price crosses_above 100", channelIds: ["{channel_id}"]}}) {{ id }} }}'
        )
    )["createAlertRule"]
    _, publisher = await trade_publisher(nats_client, namespace)
    url = f"ws://127.0.0.1:{stack.settings.graph_port}/graphql"
    async with connect(url, subprotocols=[Subprotocol("graphql-transport-ws")]) as socket:
        await _subscribe(
            socket,
            f'subscription {{ alertFired(ruleIds: ["{rule["id"]}"]) {{ firingId ruleId '
            "symbol condition time price tradeId value } }",
        )
        fired = asyncio.Event()
        publishing = asyncio.create_task(_cross_until(publisher, fired, 2_000))
        try:
            event = (await _next_data(socket))["alertFired"]
        finally:
            fired.set()
            await publishing
    assert event["ruleId"] == rule["id"] and event["symbol"] == "BTCUSDT"
    assert event["condition"] == "price crosses_above 100"
    assert event["price"] == "101.00000000" and int(event["tradeId"]) % 2 == 1
    assert int(event["time"]) == trade(int(event["tradeId"])).trade_time_ms

    # Two queries: the gateway's cost limit keeps one from asking for everything at once.
    identity = (
        "id ruleId symbol condition time price tradeId value deliveries { channelId "
        "channelKind channelName idempotencyKey }"
    )
    outcome = "id deliveries { status reason attempts attemptOutcomes lastAttempt { outcome } }"

    async def listed(fields: str) -> dict[str, Any]:
        answer = await stack.data(
            f'{{ notifications(ruleId: "{rule["id"]}", first: 50) '
            f"{{ edges {{ node {{ {fields} }} }} }} }}"
        )
        nodes: dict[str, dict[str, Any]] = {
            e["node"]["id"]: e["node"] for e in answer["notifications"]["edges"]
        }
        return nodes[event["firingId"]]  # recorded (with its outbox rows) before published

    node = await listed(identity)
    same = ("ruleId", "symbol", "condition", "time", "price", "tradeId")
    assert {k: node[k] for k in same} == {k: event[k] for k in same}
    (delivery,) = node["deliveries"]
    assert (delivery["channelId"], delivery["channelKind"]) == (channel_id, "WEBHOOK")
    assert delivery["channelName"] == "desk hook" and delivery["idempotencyKey"]

    async def delivered() -> bool:
        return bool((await listed(outcome))["deliveries"][0]["status"] == "DELIVERED")

    await eventually(delivered)
    (delivery,) = (await listed(outcome))["deliveries"]
    assert delivery["attempts"] >= 1 and delivery["attemptOutcomes"][-1] == "DELIVERED"
    assert delivery["lastAttempt"] == {"outcome": "DELIVERED"} and delivery["reason"] is None
    hooks = [h.payload for h in stack.sink.accepted()]  # signed with the channel's secret
    mine = [h for h in hooks if str(h.get("tradeId")) == event["tradeId"]]
    assert mine and str(mine[0]["ruleId"]) == rule["id"], hooks


async def test_notifications_pages_follow_their_cursors(
    stack: Stack, nats_client: NatsClient, namespace: str
) -> None:
    channel_id = await stack.webhook_channel()
    rule = (
        await stack.data(
            'mutation { createAlertRule(input: {symbol: "BTCUSDT", condition: '
            f'"price crosses_above 100", channelIds: ["{channel_id}"]}}) {{ id }} }}'
        )
    )["createAlertRule"]
    _, publisher = await trade_publisher(nats_client, namespace)
    # Several crossings: 99, 101, 99, 101 … (the first trade only sets the state).
    for trade_id in range(3_000, 3_010):
        price = "99.00000000" if trade_id % 2 == 0 else "101.00000000"
        await publisher.publish(trade(trade_id, price=price))
    await publisher.flush()
    page = "{ edges { cursor node { id tradeId } } pageInfo { hasNextPage endCursor } }"

    async def all_recorded() -> bool:
        answer = await stack.data(f'{{ notifications(ruleId: "{rule["id"]}") {page} }}')
        return len(answer["notifications"]["edges"]) == 5

    await eventually(all_recorded)
    everything = (await stack.data(f'{{ notifications(ruleId: "{rule["id"]}") {page} }}'))[
        "notifications"
    ]
    ids = [e["node"]["tradeId"] for e in everything["edges"]]
    assert ids == [str(i) for i in (3009, 3007, 3005, 3003, 3001)]  # newest first
    assert not everything["pageInfo"]["hasNextPage"]

    seen: list[str] = []
    after = None
    for _ in range(5):
        argument = "" if after is None else f', after: "{after}"'
        answer = (
            await stack.data(
                f'{{ notifications(ruleId: "{rule["id"]}", first: 2{argument}) {page} }}'
            )
        )["notifications"]
        seen.extend(e["node"]["tradeId"] for e in answer["edges"])
        after = answer["pageInfo"]["endCursor"]
        if not answer["pageInfo"]["hasNextPage"]:
            break
    assert seen == ids
    # Any edge's cursor resumes right after it.
    second = everything["edges"][1]["cursor"]
    rest = (
        await stack.data(
            f'{{ notifications(ruleId: "{rule["id"]}", first: 10, after: "{second}") {page} }}'
        )
    )["notifications"]
    assert [e["node"]["tradeId"] for e in rest["edges"]] == ids[2:]
    bad = await graphql(stack.settings, '{ notifications(after: "nope") { edges { cursor } } }')
    assert error_codes(bad) == ["INVALID_ARGUMENT"]


async def _publish_fired_until(
    nats_client: NatsClient, namespace: str, rule_ids: list[str], seen: asyncio.Event
) -> None:
    """Publish a firing of each rule by turns, as an evaluator does, until one is seen."""
    trade_id = 1
    while not seen.is_set():
        for rule_id in rule_ids:
            event = alert_fired_pb2.AlertFired(
                firing_id=str(trade_id),
                rule_id=rule_id,
                symbol="BTCUSDT",
                venue="binance",
                condition="price > 1",
                time_ms=1_723_161_255_000 + trade_id,
                price="101.00000000",
                trade_id=9_007_199_254_740_993 + trade_id,
                value=101.0,
                owner="local",
            )
            await nats_client.publish(
                names.alert_fired_subject("BTCUSDT", namespace), event.SerializeToString()
            )
            trade_id += 1
        await nats_client.flush()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(seen.wait(), 0.2)


async def test_alert_fired_passes_only_the_rules_asked_for(
    stack: Stack, nats_client: NatsClient, namespace: str
) -> None:
    rules = [
        (
            await stack.data(
                'mutation { createAlertRule(input: {symbol: "BTCUSDT", '
                f'condition: "price > {level}"}}) {{ id }} }}'
            )
        )["createAlertRule"]["id"]
        for level in (1, 2)
    ]
    url = f"ws://127.0.0.1:{stack.settings.graph_port}/graphql"
    async with connect(url, subprotocols=[Subprotocol("graphql-transport-ws")]) as socket:
        await _subscribe(
            socket,
            f'subscription {{ alertFired(ruleIds: ["{rules[1]}"]) {{ firingId ruleId symbol '
            "venue condition interval time occurredAt price tradeId value candleOpenTime } }",
        )
        seen = asyncio.Event()
        publishing = asyncio.create_task(_publish_fired_until(nats_client, namespace, rules, seen))
        try:
            received = [(await _next_data(socket))["alertFired"] for _ in range(3)]
        finally:
            seen.set()
            await publishing
    assert {r["ruleId"] for r in received} == {rules[1]}
    first = received[0]
    assert first["symbol"] == "BTCUSDT" and first["interval"] is None
    assert int(first["tradeId"]) > 2**53 and first["price"] == "101.00000000"
    assert int(first["time"]) == 1_723_161_255_000 + int(first["firingId"])
    assert first["candleOpenTime"] is None and first["occurredAt"].startswith("2024-08-0")


async def test_alert_fired_on_an_unknown_rule_answers_not_found(stack: Stack) -> None:
    url = f"ws://127.0.0.1:{stack.settings.graph_port}/graphql"
    async with connect(url, subprotocols=[Subprotocol("graphql-transport-ws")]) as socket:
        await _subscribe(
            socket,
            'subscription { alertFired(ruleIds: ["7f1c1f0e-0000-4000-8000-000000000000"]) '
            "{ ruleId } }",
        )
        message = json.loads(await asyncio.wait_for(socket.recv(), 30))
    assert message["type"] in {"next", "error"}, message
    errors = message["payload"]["errors"] if message["type"] == "next" else message["payload"]
    assert errors[0]["extensions"]["code"] == "NOT_FOUND"


async def test_rule_history_of_a_candle_condition_fires_on_the_candles_that_cross(
    stack: Stack,
) -> None:
    stored = klines(USDM_1M, "binance_usdm", "BTCUSDT", "1m")
    pool = await asyncpg.create_pool(
        stack.database_url, min_size=1, max_size=2, init=prepare_connection
    )
    try:
        assert await TradeRepository(pool).write(tables.KLINES, stored) == len(stored)
    finally:
        await pool.close()
    closes = [Decimal(k.close) for k in stored]
    level = sorted(closes)[len(closes) // 2]  # the median: the day crosses it now and then
    expected = [stored[i] for i in range(1, len(stored)) if closes[i] > level >= closes[i - 1]]
    assert len(expected) > 3
    answer = await stack.data(
        '{ ruleHistory(symbol: "BTCUSDT", venue: "binance_usdm", interval: "1m", '
        f'condition: "close crosses_above {level}", from: "2022-04-08T00:00:00Z", '
        'to: "2022-04-09T00:00:00Z") { time price tradeId value candleOpenTime } }'
    )
    firings = answer["ruleHistory"]
    assert [f["candleOpenTime"] for f in firings] == [str(k.open_time_ms) for k in expected]
    assert [f["time"] for f in firings] == [str(k.open_time_ms) for k in expected]
    assert [Decimal(f["price"]) for f in firings] == [Decimal(k.close) for k in expected]
    assert all(f["tradeId"] is None for f in firings)
    # A candle condition needs its interval.
    errors = await stack.errors(
        '{ ruleHistory(symbol: "BTCUSDT", venue: "binance_usdm", '
        f'condition: "close crosses_above {level}", from: "2022-04-08T00:00:00Z", '
        'to: "2022-04-09T00:00:00Z") { time } }'
    )
    assert errors[0]["extensions"]["code"] == "INVALID_ARGUMENT"
    assert "interval" in errors[0]["message"]
