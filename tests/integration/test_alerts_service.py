"""The alerts service end to end: rules and channels over gRPC, real trades and klines
published on the bus by ingest's publisher, firings and their outbox rows in PostgreSQL
exactly where the condition turns true (computed here, independently), RuleHistory over
what storage stored agreeing with live evaluation, and no firing lost or doubled across a
restart or a redelivery."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import itertools
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from decimal import Decimal

import asyncpg
import grpc
import pytest
import pytest_asyncio
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.js.errors import NotFoundError

from quantflow.alerts.v1 import alert_fired_pb2, alerts_service_pb2_grpc
from quantflow.alerts.v1 import alerts_service_pb2 as pb
from quantflow.storage.v1 import storage_service_pb2 as storage_pb
from quantflow.storage.v1 import storage_service_pb2_grpc
from services.alerts import service as alerts_service
from services.alerts.evaluator import Evaluator
from services.common import bus, names
from services.common.codec import BATCH_HEADER, encode_batch
from services.common.embedded import free_port
from services.common.events import Event, Kline
from services.common.grpc_server import check_health
from services.common.settings import Settings
from services.common.trades import Trade
from services.storage import service as storage_service
from services.storage.migrations import prepare_schema
from tests.conftest import HFT_CAPTURE
from tests.fakes.binance_rest import trades_from_capture
from tests.fakes.telegram_bot_api import FakeTelegramBotApi
from tests.fakes.webhook_sink import WebhookSink
from tests.integration.helpers import eventually, running, service_settings, trade_publisher
from tests.vision_klines import SPOT_1M, klines

pytestmark = pytest.mark.integration

LEVEL = 61710.0  # crossed 4 times upwards by the capture's trades


def capture_trades() -> list[Trade]:
    """The real BTCUSDT trades of the 2024-08-08 capture, in id order."""
    return [
        Trade(
            venue="binance",
            symbol="BTCUSDT",
            trade_id=int(item["id"]),
            price=item["price"],
            quantity=item["qty"],
            trade_time_ms=int(item["time"]),
            event_time_ms=int(item["time"]),
            buyer_is_maker=bool(item["isBuyerMaker"]),
        )
        for item in trades_from_capture(HFT_CAPTURE)["BTCUSDT"]
    ]


TRADES = capture_trades()


def crossings_above(trades: list[Trade], level: float) -> list[int]:
    """Trade ids where the price goes above ``level`` from at or below it."""
    return [
        after.trade_id
        for before, after in itertools.pairwise(trades)
        if float(before.price) <= level < float(after.price)
    ]


@dataclass
class Alerts:
    stub: alerts_service_pb2_grpc.AlertsServiceStub
    settings: Settings
    database_url: str
    nats_client: NatsClient
    namespace: str

    async def channel(self, owner: str = "") -> str:
        reply = await self.stub.CreateChannel(
            pb.CreateChannelRequest(
                kind=pb.CHANNEL_KIND_WEBHOOK,
                name="sink",
                target="http://127.0.0.1:9/hook",
                secret="s3cret",
                owner=owner,
            )
        )
        return str(reply.channel.id)

    async def rule(self, condition: str, channel_id: str, **fields: object) -> pb.Rule:
        given = pb.RuleInput(
            symbol=str(fields.pop("symbol", "BTCUSDT")),
            condition=condition,
            channel_ids=[channel_id],
            **fields,
        )
        reply = await self.stub.CreateRule(pb.CreateRuleRequest(input=given))
        return reply.rule

    async def fired(self, rule_id: str) -> list[asyncpg.Record]:
        conn = await asyncpg.connect(self.database_url)
        try:
            return list(
                await conn.fetch(
                    "SELECT id, trade_id, candle_open_ms, event_key, price FROM alert_firings "
                    "WHERE rule_id = $1 ORDER BY time_ms, id",
                    uuid.UUID(rule_id),
                )
            )
        finally:
            await conn.close()

    async def outbox(self, rule_id: str) -> list[asyncpg.Record]:
        conn = await asyncpg.connect(self.database_url)
        try:
            return list(
                await conn.fetch(
                    "SELECT n.firing_id, n.channel_id, n.idempotency_key, n.status "
                    "FROM alert_notifications n JOIN alert_firings f ON f.id = n.firing_id "
                    "WHERE f.rule_id = $1 ORDER BY n.id",
                    uuid.UUID(rule_id),
                )
            )
        finally:
            await conn.close()

    async def seen_up_to(self, kind: str = names.TRADE, symbol: str = "BTCUSDT") -> int | None:
        conn = await asyncpg.connect(self.database_url)
        try:
            value = await conn.fetchval(
                "SELECT last_id FROM alert_feeds WHERE symbol = $1 AND kind = $2", symbol, kind
            )
            return None if value is None else int(value)
        finally:
            await conn.close()

    async def publish(self, events: Sequence[Event]) -> None:
        _, publisher = await trade_publisher(self.nats_client, self.namespace)
        for event in events:
            await publisher.publish(event)
        await publisher.flush()
        assert not await publisher.close(10)

    async def evaluated(
        self, last_id: int, kind: str = names.TRADE, symbol: str = "BTCUSDT"
    ) -> None:
        async def done() -> bool:
            return await self.seen_up_to(kind, symbol) == last_id

        await eventually(done)


async def _stored(settings: Settings, events: list[Kline]) -> None:
    """Wait until storage holds these 1m candles (RuleHistory and warm-ups read them)."""
    async with grpc.aio.insecure_channel(settings.storage_target) as channel:
        storage = storage_service_pb2_grpc.StorageServiceStub(channel)

        async def stored() -> bool:
            request = storage_pb.GetOhlcRequest(
                symbol=events[0].symbol,
                interval=events[0].interval,
                from_ms=events[0].open_time_ms,
                to_ms=events[-1].open_time_ms + 1,
            )
            count = 0
            async for chunk in storage.GetOhlc(request):
                count += len(chunk.open_time)
            return count == len(events)

        await eventually(stored)


async def _consumer_exists(nc: NatsClient, namespace: str) -> bool:
    try:
        await nc.jetstream().consumer_info(
            names.market_stream(namespace), names.alerts_market_durable(namespace)
        )
    except NotFoundError:
        return False
    return True


@pytest_asyncio.fixture
async def alerts(
    database_url: str, nats_url: str, namespace: str, nats_client: NatsClient
) -> AsyncIterator[Alerts]:
    port = free_port()
    settings = service_settings(
        database_url,
        nats_url,
        namespace,
        symbols=("BTCUSDT", "ETHUSDT"),
        alerts_grpc_port=port,
        alerts_metrics_port=0,
    )
    async with (
        running(storage_service.run, settings, settings.storage_grpc_port),
        running(alerts_service.run, settings, port),
        grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel,
    ):
        # SERVING only once the evaluator's durable consumer exists: from then on every
        # trade published reaches the rules, so no test waits for the consumer itself.
        assert await _consumer_exists(nats_client, namespace)
        yield Alerts(
            alerts_service_pb2_grpc.AlertsServiceStub(channel),
            settings,
            database_url,
            nats_client,
            namespace,
        )
    js = nats_client.jetstream()
    try:
        await js.delete_stream(names.alerts_stream(namespace))
    except NotFoundError:
        pass


async def test_threshold_rules_fire_exactly_at_the_crossings_with_one_outbox_row_per_channel(
    alerts: Alerts,
) -> None:
    channel = await alerts.channel()
    crosses = await alerts.rule(f"price crosses_above {LEVEL}", channel)
    above = await alerts.rule(f"price > {LEVEL}", channel)
    # Not indexed (a `not`): evaluated rule by rule, the reference path.
    negated = await alerts.rule(f"not (price <= {LEVEL})", channel)
    assert crosses.state == pb.RULE_STATE_ARMED

    fired_on_bus = await alerts.nats_client.jetstream().subscribe(
        names.all_alerts_fired_subject(alerts.namespace),
        stream=names.alerts_stream(alerts.namespace),
        ordered_consumer=True,
    )
    await alerts.publish(list(TRADES))
    await alerts.evaluated(TRADES[-1].trade_id)

    expected = crossings_above(TRADES, LEVEL)
    assert len(expected) == 4
    for rule in (crosses, above, negated):
        firings = await alerts.fired(rule.id)
        assert [row["trade_id"] for row in firings] == expected, rule.condition
        assert [row["event_key"] for row in firings] == [f"trade:binance:{i}" for i in expected]
        outbox = await alerts.outbox(rule.id)
        assert [row["idempotency_key"] for row in outbox] == [
            f"{row['id']}:{channel}" for row in firings
        ]
        assert {row["status"] for row in outbox} == {"PENDING"}

    stored = (await alerts.stub.GetRule(pb.GetRuleRequest(id=crosses.id))).rule
    assert stored.fired_count == 4

    # A cross holds at one trade only: the rule re-armed at the next (the API says so
    # within a second or so).
    async def rearmed() -> bool:
        reply = await alerts.stub.GetRule(pb.GetRuleRequest(id=crosses.id))
        return bool(reply.rule.state == pb.RULE_STATE_ARMED)

    await eventually(rearmed)
    ends_above = float(TRADES[-1].price) > LEVEL
    settled = pb.RULE_STATE_DISARMED if ends_above else pb.RULE_STATE_ARMED

    async def above_settled() -> bool:
        reply = await alerts.stub.GetRule(pb.GetRuleRequest(id=above.id))
        return bool(reply.rule.state == settled)

    await eventually(above_settled)

    published = []
    for _ in range(12):
        message = await fired_on_bus.next_msg(timeout=5)
        published.append(alert_fired_pb2.AlertFired.FromString(message.data))
    assert sorted(m.trade_id for m in published if m.rule_id == crosses.id) == expected
    await fired_on_bus.unsubscribe()

    # ListNotifications: newest first, in pages, each firing with its delivery.
    first = await alerts.stub.ListNotifications(
        pb.ListNotificationsRequest(rule_id=crosses.id, page_size=3)
    )
    rest = await alerts.stub.ListNotifications(
        pb.ListNotificationsRequest(
            rule_id=crosses.id, page_size=3, page_token=first.next_page_token
        )
    )
    listed = [f.trade_id for f in (*first.firings, *rest.firings)]
    assert listed == expected[::-1]
    assert rest.next_page_token == ""
    delivery = first.firings[0].deliveries[0]
    assert delivery.status == pb.DELIVERY_STATUS_PENDING
    assert delivery.channel_id == channel

    # What a delivery worker records shows up as it is: attempts in order, the reason.
    conn = await asyncpg.connect(alerts.database_url)
    try:
        await conn.execute(
            "INSERT INTO alert_delivery_attempts (notification_id, number, started_at, "
            "finished_at, outcome, detail) VALUES ($1, 1, now(), now(), 'RETRY', '503'), "
            "($1, 2, now(), now(), 'FAILED', 'webhook answered 404')",
            int(delivery.id),
        )
        await conn.execute(
            "UPDATE alert_notifications SET status = 'FAILED', reason = 'webhook answered 404', "
            "attempts = 2 WHERE id = $1",
            int(delivery.id),
        )
    finally:
        await conn.close()
    again = await alerts.stub.ListNotifications(
        pb.ListNotificationsRequest(rule_id=crosses.id, page_size=1)
    )
    (failed,) = again.firings[0].deliveries
    assert (failed.status, failed.reason) == (pb.DELIVERY_STATUS_FAILED, "webhook answered 404")
    assert [(a.number, a.outcome) for a in failed.attempts] == [(1, "RETRY"), (2, "FAILED")]
    assert failed.idempotency_key == f"{again.firings[0].id}:{channel}"

    # RuleHistory over what storage stored: the same trades as live.
    async def all_stored() -> bool:
        reply = await alerts.stub.RuleHistory(
            pb.RuleHistoryRequest(
                symbol="BTCUSDT",
                condition="price > 0",
                from_ms=TRADES[0].trade_time_ms,
                to_ms=TRADES[-1].trade_time_ms + 1,
            )
        )
        return len(reply.firings) == 0  # a constant truth never turns: proves it ran

    await eventually(all_stored)

    async def history_agrees() -> bool:
        reply = await alerts.stub.RuleHistory(
            pb.RuleHistoryRequest(
                symbol="BTCUSDT",
                condition=f"price crosses_above {LEVEL}",
                from_ms=TRADES[0].trade_time_ms,
                to_ms=TRADES[-1].trade_time_ms + 1,
            )
        )
        return [f.trade_id for f in reply.firings] == expected

    await eventually(history_agrees)


async def test_trades_delivered_twice_neither_fire_again_nor_disturb_later_firings(
    alerts: Alerts,
) -> None:
    channel = await alerts.channel()
    rule = await alerts.rule(f"price crosses_above {LEVEL}", channel)
    indexed_gt = await alerts.rule(f"price > {LEVEL}", channel)
    half = len(TRADES) // 2
    await alerts.publish(TRADES[:half])
    await alerts.evaluated(TRADES[half - 1].trade_id)

    # The same trades again in a message of its own (a reconnect overlap): skipped.
    js = alerts.nats_client.jetstream()
    repeat = TRADES[half - 300 : half]
    await js.publish(
        names.trade_subject("BTCUSDT", namespace=alerts.namespace),
        encode_batch(repeat),
        headers={"Nats-Msg-Id": f"repeat-{uuid.uuid4()}", BATCH_HEADER: str(len(repeat))},
    )
    await alerts.publish(TRADES[half:])
    await alerts.evaluated(TRADES[-1].trade_id)

    expected = crossings_above(TRADES, LEVEL)
    for watched in (rule, indexed_gt):
        firings = await alerts.fired(watched.id)
        assert [row["trade_id"] for row in firings] == expected
        assert len(await alerts.outbox(watched.id)) == len(expected)


async def test_a_service_restarted_just_before_a_crossing_fires_at_it_after_the_restart(
    database_url: str, nats_url: str, namespace: str, nats_client: NatsClient
) -> None:
    port = free_port()
    settings = service_settings(
        database_url,
        nats_url,
        namespace,
        symbols=("BTCUSDT",),
        alerts_grpc_port=port,
        alerts_metrics_port=0,
    )
    # Down just before the first crossing: the first trade after the restart is the one
    # that fires, so the rules must resume their state and the previous price.
    first_crossing = crossings_above(TRADES, LEVEL)[0]
    half = next(i for i, t in enumerate(TRADES) if t.trade_id == first_crossing)
    async with running(storage_service.run, settings, settings.storage_grpc_port):
        async with (
            running(alerts_service.run, settings, port),
            grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel,
        ):
            assert await _consumer_exists(nats_client, namespace)  # SERVING: it is there
            alerts = Alerts(
                alerts_service_pb2_grpc.AlertsServiceStub(channel),
                settings,
                database_url,
                nats_client,
                namespace,
            )
            channel_id = await alerts.channel()
            rule = await alerts.rule(f"price crosses_above {LEVEL}", channel_id)
            machine_rule = await alerts.rule(f"not (price <= {LEVEL})", channel_id)
            await alerts.publish(TRADES[:half])
            await alerts.evaluated(TRADES[half - 1].trade_id)
        # Down: the second half waits on the bus.
        await alerts.publish(TRADES[half:])
        async with running(alerts_service.run, settings, port):
            await alerts.evaluated(TRADES[-1].trade_id)
    expected = crossings_above(TRADES, LEVEL)
    assert [r["trade_id"] for r in await alerts.fired(rule.id)] == expected
    assert [r["trade_id"] for r in await alerts.fired(machine_rule.id)] == expected
    await nats_client.jetstream().delete_stream(names.alerts_stream(namespace))


async def test_a_candle_rule_fires_on_the_closed_klines_where_close_crosses_its_sma(
    alerts: Alerts,
) -> None:
    channel = await alerts.channel()
    rule = await alerts.rule(
        "close crosses_above sma(20)", channel, symbol="ETHUSDT", interval="1m"
    )
    events = klines(SPOT_1M, "binance", "ETHUSDT", "1m")
    # An in-progress update is no closed candle: never evaluated.
    first = events[0]
    in_progress = dataclasses.replace(first, closed=False, close=first.low)
    await alerts.publish([in_progress, *events])
    await alerts.evaluated(events[-1].open_time_ms, kind="kline_1m", symbol="ETHUSDT")

    closes = [Decimal(k.close) for k in events]
    sma: list[float | None] = [None] * len(closes)
    for i in range(19, len(closes)):
        sma[i] = float(sum(closes[i - 19 : i + 1])) / 20
    expected = [
        events[i].open_time_ms
        for i in range(20, len(closes))
        if float(closes[i]) > sma[i] and float(closes[i - 1]) <= sma[i - 1]  # type: ignore[operator]
    ]
    assert expected
    firings = await alerts.fired(rule.id)
    assert [row["candle_open_ms"] for row in firings] == expected
    assert [row["event_key"] for row in firings] == [f"candle:1m:{t}" for t in expected]

    # RuleHistory over the candles storage stored from the same bus: the same candles.
    async def history_agrees() -> bool:
        reply = await alerts.stub.RuleHistory(
            pb.RuleHistoryRequest(
                symbol="ETHUSDT",
                condition="close crosses_above sma(20)",
                interval="1m",
                from_ms=events[0].open_time_ms,
                to_ms=events[-1].open_time_ms + 1,
            )
        )
        return [f.candle_open_ms for f in reply.firings] == expected

    await eventually(history_agrees)


@pytest.mark.parametrize(
    ("condition", "interval", "symbol", "problem"),
    [
        ("price crosses_above", "", "BTCUSDT", "at column"),
        ("frob(3) > 1", "1m", "BTCUSDT", "at column 1"),
        ("rsi(14) < 30", "", "BTCUSDT", "interval"),
        ("rsi(14) < 30", "7m", "BTCUSDT", "not a Binance interval"),
        ("price > 2680", "1m", "BTCUSDT", "leave the interval empty"),
        ("price > 2680", "", "NOPEUSDT", "NOPEUSDT is unknown"),
        ("price > 2680", "", "btc-usdt", "symbol"),
        ("no_trade(5x)", "", "BTCUSDT", "no_trade"),
    ],
)
async def test_an_invalid_rule_is_refused_naming_the_problem(
    alerts: Alerts, condition: str, interval: str, symbol: str, problem: str
) -> None:
    channel = await alerts.channel()
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await alerts.rule(condition, channel, symbol=symbol, interval=interval)
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert problem in (refused.value.details() or "")


async def test_owners_see_only_their_own_rules_and_channels(alerts: Alerts) -> None:
    mine = await alerts.channel()
    theirs = await alerts.channel(owner="bob")
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await alerts.rule("price > 2680", theirs)
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    rule = await alerts.rule("price > 2680", mine, cooldown_seconds=60)
    for request in (
        pb.GetRuleRequest(id=rule.id, owner="bob"),
        pb.GetRuleRequest(id=str(uuid.uuid4())),
    ):
        with pytest.raises(grpc.aio.AioRpcError) as missing:
            await alerts.stub.GetRule(request)
        assert missing.value.code() == grpc.StatusCode.NOT_FOUND
    listed = await alerts.stub.ListChannels(pb.ListChannelsRequest())
    assert [c.id for c in listed.channels] == [mine]
    assert listed.channels[0].has_secret and listed.channels[0].owner == "local"

    paused = (await alerts.stub.PauseRule(pb.PauseRuleRequest(id=rule.id))).rule
    assert paused.state == pb.RULE_STATE_PAUSED
    resumed = (await alerts.stub.ResumeRule(pb.ResumeRuleRequest(id=rule.id))).rule
    assert resumed.state == pb.RULE_STATE_ARMED
    updated = (
        await alerts.stub.UpdateRule(
            pb.UpdateRuleRequest(
                id=rule.id,
                input=pb.RuleInput(
                    symbol="BTCUSDT",
                    condition="price < 100",
                    channel_ids=[mine],
                    mode=pb.RULE_MODE_ONCE,
                ),
            )
        )
    ).rule
    assert (updated.condition, updated.mode) == ("price < 100", pb.RULE_MODE_ONCE)
    await alerts.stub.DeleteRule(pb.DeleteRuleRequest(id=rule.id))
    assert not (await alerts.stub.ListRules(pb.ListRulesRequest())).rules
    await alerts.stub.DeleteChannel(pb.DeleteChannelRequest(id=mine))
    with pytest.raises(grpc.aio.AioRpcError) as gone:
        await alerts.stub.DeleteChannel(pb.DeleteChannelRequest(id=mine))
    assert gone.value.code() == grpc.StatusCode.NOT_FOUND


class _Crash(Exception):
    pass


class _CrashAfterCommit(Evaluator):
    """An evaluator that dies between committing a batch with firings and acking it."""

    async def _acknowledge(self, messages: list[Msg]) -> None:
        if self.firings_recorded:
            raise _Crash
        await super()._acknowledge(messages)


async def test_an_evaluator_dying_between_commit_and_ack_loses_and_doubles_nothing(
    database_url: str, nats_url: str, namespace: str, nats_client: NatsClient
) -> None:
    dsn = database_url
    pool = await alerts_service.open_pool(dsn)
    js = nats_client.jetstream()
    await bus.ensure_streams(js, namespace, 3600)
    await bus.ensure_alerts_stream(js, namespace)
    try:
        conn = await asyncpg.connect(dsn)
        try:
            channel_id = uuid.uuid4()
            await conn.execute(
                "INSERT INTO alert_channels (id, kind, name, target, secret) "
                "VALUES ($1, 'WEBHOOK', 'sink', 'http://127.0.0.1:9/', 'k')",
                channel_id,
            )
            rule_ids = []
            for condition in (f"price crosses_above {LEVEL}", f"not (price <= {LEVEL})"):
                rule_id = uuid.uuid4()
                await conn.execute(
                    "INSERT INTO alert_rules (id, symbol, condition, mode, channel_ids) "
                    "VALUES ($1, 'BTCUSDT', $2, 'RECURRING', $3)",
                    rule_id,
                    condition,
                    [channel_id],
                )
                rule_ids.append(rule_id)
        finally:
            await conn.close()
        stop = asyncio.Event()
        crashing = _CrashAfterCommit(pool, dsn, js, namespace, batch_size=200, ack_wait_s=1.0)
        task = asyncio.create_task(crashing.run(stop))
        await asyncio.wait_for(crashing.consuming.wait(), 30)
        assert await _consumer_exists(nats_client, namespace)
        alerts = Alerts(None, None, dsn, nats_client, namespace)  # type: ignore[arg-type]
        await alerts.publish(TRADES)
        with pytest.raises(_Crash):
            await asyncio.wait_for(task, 30)
        assert crashing.firings_recorded > 0

        restarted = Evaluator(pool, dsn, js, namespace, batch_size=200, ack_wait_s=1.0)
        task = asyncio.create_task(restarted.run(stop))
        try:
            await alerts.evaluated(TRADES[-1].trade_id)
        finally:
            stop.set()
            await asyncio.wait_for(task, 30)
        expected = crossings_above(TRADES, LEVEL)
        for rule_id in rule_ids:
            firings = await alerts.fired(str(rule_id))
            assert [row["trade_id"] for row in firings] == expected
            assert len(await alerts.outbox(str(rule_id))) == len(expected)
    finally:
        await pool.close()
        await js.delete_stream(names.alerts_stream(namespace))


TOKEN, CHAT = "7000000001:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw", "4242"


async def test_send_test_notification_answers_what_each_channel_said(
    database_url: str, nats_url: str, namespace: str, nats_client: NatsClient
) -> None:
    port = free_port()
    async with (
        WebhookSink("s3cret") as sink,
        FakeTelegramBotApi(tokens={TOKEN}, chats={CHAT}) as telegram,
    ):
        settings = service_settings(
            database_url,
            nats_url,
            namespace,
            alerts_grpc_port=port,
            alerts_metrics_port=0,
            telegram_api_url=telegram.url,
        )
        async with (
            running(storage_service.run, settings, settings.storage_grpc_port),
            running(alerts_service.run, settings, port),
            grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel,
        ):
            stub = alerts_service_pb2_grpc.AlertsServiceStub(channel)

            async def channel_of(kind: int, target: str, secret: str) -> str:
                reply = await stub.CreateChannel(
                    pb.CreateChannelRequest(kind=kind, name="c", target=target, secret=secret)
                )
                return str(reply.channel.id)

            async def test_send(channel_id: str) -> pb.SendTestNotificationResponse:
                request = pb.SendTestNotificationRequest(channel_id=channel_id)
                reply: pb.SendTestNotificationResponse = await stub.SendTestNotification(
                    request, timeout=20
                )
                return reply

            hook = await channel_of(pb.CHANNEL_KIND_WEBHOOK, sink.url, "s3cret")
            sink.fail_next(503)
            sent = await test_send(hook)
            assert (sent.status, sent.attempts) == (pb.DELIVERY_STATUS_DELIVERED, 2)
            (received,) = sink.accepted()
            assert received.signature_ok
            assert received.payload["symbol"] == "TEST"

            chat = await channel_of(pb.CHANNEL_KIND_TELEGRAM, CHAT, TOKEN)
            assert (await test_send(chat)).status == pb.DELIVERY_STATUS_DELIVERED
            assert len(telegram.texts(CHAT)) == 1
            stranger = await channel_of(pb.CHANNEL_KIND_TELEGRAM, "999", TOKEN)
            refused = await test_send(stranger)
            assert refused.status == pb.DELIVERY_STATUS_FAILED
            assert "chat not found" in refused.reason
    with contextlib.suppress(NotFoundError):
        await nats_client.jetstream().delete_stream(names.alerts_stream(namespace))


async def test_the_scheduler_expires_rules_and_reports_a_silent_feed_once(
    alerts: Alerts,
) -> None:
    channel = await alerts.channel()
    now = int(time.time() * 1000)
    expiring = await alerts.rule("price > 1", channel, expires_ms=now + 1500)
    stale = await alerts.rule("no_trade(10s)", channel)
    await alerts.publish(TRADES[:5])
    await alerts.evaluated(TRADES[4].trade_id)

    async def expired() -> bool:
        rule: pb.Rule = (await alerts.stub.GetRule(pb.GetRuleRequest(id=expiring.id))).rule
        return bool(rule.state == pb.RULE_STATE_EXPIRED)

    await eventually(expired)

    async def reported() -> bool:
        return bool(await alerts.fired(stale.id))

    await eventually(reported)
    await asyncio.sleep(6)  # another round of the scheduler: the same silence, no new firing
    (firing,) = await alerts.fired(stale.id)
    assert firing["event_key"] == f"stale:binance:{TRADES[4].trade_id}"
    assert firing["trade_id"] == TRADES[4].trade_id
    assert len(await alerts.outbox(stale.id)) == 1


async def test_a_paused_rule_does_not_fire_and_a_resumed_one_starts_afresh(alerts: Alerts) -> None:
    channel = await alerts.channel()
    rule = await alerts.rule(f"price crosses_above {LEVEL}", channel)
    await alerts.stub.PauseRule(pb.PauseRuleRequest(id=rule.id))
    first_crossing = crossings_above(TRADES, LEVEL)[0]
    split = next(i for i, t in enumerate(TRADES) if t.trade_id == first_crossing) + 1
    await alerts.publish(TRADES[:split])
    await alerts.evaluated(TRADES[split - 1].trade_id)
    assert await alerts.fired(rule.id) == []
    await alerts.stub.ResumeRule(pb.ResumeRuleRequest(id=rule.id))
    await asyncio.sleep(1)  # the evaluator hears the change (LISTEN) before the next trades
    await alerts.publish(TRADES[split:])
    await alerts.evaluated(TRADES[-1].trade_id)
    fired = [row["trade_id"] for row in await alerts.fired(rule.id)]
    assert fired == crossings_above(TRADES[split:], LEVEL)


def _sma_crossings(events: list[Kline], window: int) -> list[int]:
    """Indices of the candles whose close crosses above its simple moving average."""
    closes = [float(Decimal(k.close)) for k in events]
    sma = [
        sum(Decimal(k.close) for k in events[i + 1 - window : i + 1]) / window
        if i + 1 >= window
        else None
        for i in range(len(events))
    ]
    return [
        i
        for i in range(window, len(events))
        if closes[i] > float(sma[i]) and closes[i - 1] <= float(sma[i - 1])  # type: ignore[arg-type]
    ]


async def test_a_candle_rule_created_mid_series_is_warmed_up_and_fires_at_its_first_candle(
    alerts: Alerts,
) -> None:
    events = klines(SPOT_1M, "binance", "ETHUSDT", "1m")
    crossings = _sma_crossings(events, 20)
    split = next(i for i in crossings if i >= 100)  # the first live candle is a crossing
    await alerts.publish(events[:split])
    await alerts.evaluated(events[split - 1].open_time_ms, kind="kline_1m", symbol="ETHUSDT")
    await _stored(alerts.settings, events[:split])
    channel_id = await alerts.channel()
    rule = await alerts.rule(
        "close crosses_above sma(20)", channel_id, symbol="ETHUSDT", interval="1m"
    )
    await asyncio.sleep(2)  # the evaluator hears of the rule and warms it up
    await alerts.publish(events[split:])
    await alerts.evaluated(events[-1].open_time_ms, kind="kline_1m", symbol="ETHUSDT")
    expected = [events[i].open_time_ms for i in crossings if i >= split]
    assert expected[0] == events[split].open_time_ms
    assert [row["candle_open_ms"] for row in await alerts.fired(rule.id)] == expected

    reply = await alerts.stub.RuleHistory(
        pb.RuleHistoryRequest(
            symbol="ETHUSDT",
            condition="close crosses_above sma(20)",
            interval="1m",
            from_ms=events[split].open_time_ms,
            to_ms=events[-1].open_time_ms + 1,
        )
    )
    assert [f.candle_open_ms for f in reply.firings] == expected


async def test_alerts_connections_dropped_while_trades_flow_lose_and_double_nothing(
    alerts: Alerts, database_url: str
) -> None:
    channel_id = await alerts.channel()
    rule = await alerts.rule(f"price crosses_above {LEVEL}", channel_id)
    machine_rule = await alerts.rule(f"not (price <= {LEVEL})", channel_id)
    database = database_url.rsplit("/", 1)[1]
    killer = await asyncpg.connect(database_url)
    dropped = 0

    async def drop_connections() -> None:
        nonlocal dropped
        while True:
            await asyncio.sleep(0.15)
            dropped += len(
                await killer.fetch(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = $1 AND application_name = 'quantflow-alerts'",
                    database,
                )
            )

    dropping = asyncio.create_task(drop_connections())
    try:
        for start in range(0, len(TRADES), 1000):
            await alerts.publish(TRADES[start : start + 1000])
            await asyncio.sleep(0.2)
    finally:
        dropping.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await dropping
        await killer.close()
    assert dropped > 0
    await alerts.evaluated(TRADES[-1].trade_id)
    expected = crossings_above(TRADES, LEVEL)
    for watched in (rule, machine_rule):
        assert [r["trade_id"] for r in await alerts.fired(watched.id)] == expected
        assert len(await alerts.outbox(watched.id)) == len(expected)


async def test_a_5m_rule_fires_on_candles_built_from_the_1m_klines_on_the_bus(
    alerts: Alerts,
) -> None:
    channel_id = await alerts.channel()
    rule = await alerts.rule(
        "close crosses_above sma(20)", channel_id, symbol="ETHUSDT", interval="5m"
    )
    minutes = klines(SPOT_1M, "binance", "ETHUSDT", "1m")
    await alerts.publish(minutes)
    await alerts.evaluated(minutes[-1].open_time_ms, kind="kline_1m", symbol="ETHUSDT")
    # The 5m candles, by hand: every fifth minute's close, opening with the run's first.
    runs = [minutes[i : i + 5] for i in range(0, len(minutes), 5)]
    five = [dataclasses.replace(run[-1], open_time_ms=run[0].open_time_ms) for run in runs]
    expected = [five[i].open_time_ms for i in _sma_crossings(five, 20)]
    assert expected
    assert [row["candle_open_ms"] for row in await alerts.fired(rule.id)] == expected

    async def history_agrees() -> bool:
        reply = await alerts.stub.RuleHistory(
            pb.RuleHistoryRequest(
                symbol="ETHUSDT",
                condition="close crosses_above sma(20)",
                interval="5m",
                from_ms=minutes[0].open_time_ms,
                to_ms=minutes[-1].open_time_ms + 1,
            )
        )
        return [f.candle_open_ms for f in reply.firings] == expected

    await eventually(history_agrees)


async def test_a_restart_mid_candle_seeds_the_built_candle_from_storage(
    database_url: str, nats_url: str, namespace: str, nats_client: NatsClient
) -> None:
    minutes = klines(SPOT_1M, "binance", "ETHUSDT", "1m")
    runs = [minutes[i : i + 5] for i in range(0, len(minutes), 5)]
    five = [dataclasses.replace(run[-1], open_time_ms=run[0].open_time_ms) for run in runs]
    crossings = _sma_crossings(five, 20)
    # Down two minutes into a 5m candle that fires: its first minutes come from storage.
    firing_bucket = next(i for i in crossings if i >= 30)
    split = firing_bucket * 5 + 2
    port = free_port()
    settings = service_settings(
        database_url,
        nats_url,
        namespace,
        symbols=("ETHUSDT",),
        alerts_grpc_port=port,
        alerts_metrics_port=0,
    )
    async with running(storage_service.run, settings, settings.storage_grpc_port):
        async with (
            running(alerts_service.run, settings, port),
            grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel,
        ):
            assert await _consumer_exists(nats_client, namespace)  # SERVING: it is there
            alerts = Alerts(
                alerts_service_pb2_grpc.AlertsServiceStub(channel),
                settings,
                database_url,
                nats_client,
                namespace,
            )
            channel_id = await alerts.channel()
            rule = await alerts.rule(
                "close crosses_above sma(20)", channel_id, symbol="ETHUSDT", interval="5m"
            )
            await alerts.publish(minutes[:split])
            await alerts.evaluated(minutes[split - 1].open_time_ms, "kline_1m", "ETHUSDT")
        await _stored(settings, minutes[:split])
        await alerts.publish(minutes[split:])
        async with running(alerts_service.run, settings, port):
            await alerts.evaluated(minutes[-1].open_time_ms, "kline_1m", "ETHUSDT")
    expected = [five[i].open_time_ms for i in crossings]
    assert five[firing_bucket].open_time_ms in expected
    assert [row["candle_open_ms"] for row in await alerts.fired(rule.id)] == expected
    await nats_client.jetstream().delete_stream(names.alerts_stream(namespace))


async def test_the_service_is_serving_only_once_the_evaluator_consumes_the_market(
    database_url: str, nats_url: str, namespace: str, nats_client: NatsClient
) -> None:
    """Health says SERVING only once the evaluator's durable consumer exists: a trade
    published when a deployment sees SERVING reaches the rules. The evaluator is held
    loading its rules by a lock on ``alert_rules``; meanwhile the service answers
    NOT_SERVING."""
    port = free_port()
    settings = service_settings(
        database_url, nats_url, namespace, alerts_grpc_port=port, alerts_metrics_port=0
    )
    target = f"127.0.0.1:{port}"
    conn = await asyncpg.connect(database_url)
    stop = asyncio.Event()
    task: asyncio.Task[None] | None = None
    try:
        await prepare_schema(conn)
        locking = conn.transaction()
        await locking.start()
        await conn.execute("LOCK TABLE alert_rules IN ACCESS EXCLUSIVE MODE")
        task = asyncio.create_task(alerts_service.run(settings, stop))

        async def answering() -> bool:
            assert task is not None and not task.done()
            return await check_health(target, timeout=0.5) != "UNREACHABLE"

        await eventually(answering)
        await asyncio.sleep(1.0)  # the evaluator waits for the lock meanwhile
        assert await check_health(target) == "NOT_SERVING"
        assert not await _consumer_exists(nats_client, namespace)
        await locking.rollback()

        async def serving() -> bool:
            return await check_health(target, timeout=0.5) == "SERVING"

        await eventually(serving)
        assert await _consumer_exists(nats_client, namespace)
    finally:
        stop.set()
        if task is not None:
            await asyncio.wait_for(task, 30)
        await conn.close()


async def test_a_disarmed_rule_shows_armed_again_only_once_its_cooldown_has_passed(
    alerts: Alerts,
) -> None:
    """The evaluator looks at a disarmed rule's re-arming only from the end of its cooldown
    (by the trades' time) on: false inside the cooldown leaves it DISARMED, false after it
    re-arms it (the API says so), and the next rise fires it again."""
    channel = await alerts.channel()
    rule = await alerts.rule("price > 100", channel, cooldown_seconds=60)
    base = int(time.time() * 1000) - 600_000

    def trade(trade_id: int, price: str, after_ms: int) -> Trade:
        at = base + after_ms
        return Trade("binance", "BTCUSDT", trade_id, price, "1", at, at, False, 0)

    async def state() -> int:
        return int((await alerts.stub.GetRule(pb.GetRuleRequest(id=rule.id))).rule.state)

    await alerts.publish([trade(1, "90", 0), trade(2, "110", 1_000), trade(3, "90", 30_000)])
    await alerts.evaluated(3)
    await asyncio.sleep(2.5)  # more than the evaluator's once-a-second look
    assert await state() == pb.RULE_STATE_DISARMED  # false, but inside the cooldown

    await alerts.publish([trade(4, "95", 61_000)])
    await alerts.evaluated(4)

    async def armed() -> bool:
        return bool(await state() == pb.RULE_STATE_ARMED)

    await eventually(armed)
    await alerts.publish([trade(5, "120", 62_000)])
    await alerts.evaluated(5)
    assert [row["trade_id"] for row in await alerts.fired(rule.id)] == [2, 5]
