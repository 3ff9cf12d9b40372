"""The alerts service delivers what it fires: real trades of a capture on the bus, a rule and
channels made over gRPC, and the firings arriving at a local webhook receiver and a local
Telegram Bot API — each once, in order, signed — with each delivery and its attempt listed
by ListNotifications."""

from __future__ import annotations

import itertools
import json
from collections.abc import AsyncIterator

import grpc
import pytest
import pytest_asyncio
from nats.aio.client import Client as NatsClient
from nats.js.errors import NotFoundError

from quantflow.alerts.v1 import alerts_service_pb2 as pb
from quantflow.alerts.v1 import alerts_service_pb2_grpc
from services.alerts import service as alerts_service
from services.common import names
from services.common.embedded import free_port
from services.common.trades import Trade
from services.storage import service as storage_service
from tests.conftest import HFT_CAPTURE
from tests.fakes.binance_rest import trades_from_capture
from tests.fakes.telegram_bot_api import FakeTelegramBotApi
from tests.fakes.webhook_sink import WebhookSink
from tests.integration.helpers import eventually, running, service_settings, trade_publisher

pytestmark = pytest.mark.integration

TOKEN = "7000000001:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
CHAT = "123456789"
SECRET = "s3cret-signing-key"
LEVEL = "61710"


def capture_trades() -> list[Trade]:
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


def crossings_above(trades: list[Trade], level: float) -> list[Trade]:
    """The trades where the price goes above ``level`` from at or below it (computed here,
    independently of the evaluator)."""
    return [
        after
        for before, after in itertools.pairwise(trades)
        if float(before.price) <= level < float(after.price)
    ]


@pytest_asyncio.fixture
async def fakes() -> AsyncIterator[tuple[WebhookSink, FakeTelegramBotApi]]:
    async with (
        WebhookSink(SECRET) as sink,
        FakeTelegramBotApi(tokens={TOKEN}, chats={CHAT}) as telegram,
    ):
        yield sink, telegram


async def test_firings_of_live_trades_reach_the_webhook_and_the_chat_once_each_in_order(
    database_url: str,
    nats_url: str,
    namespace: str,
    nats_client: NatsClient,
    fakes: tuple[WebhookSink, FakeTelegramBotApi],
) -> None:
    sink, telegram = fakes
    trades = capture_trades()
    expected = crossings_above(trades, float(LEVEL))
    assert len(expected) == 4
    port = free_port()
    settings = service_settings(
        database_url,
        nats_url,
        namespace,
        symbols=("BTCUSDT",),
        alerts_grpc_port=port,
        alerts_metrics_port=0,
        telegram_api_url=telegram.url,
        alerts_delivery_poll_s=0.2,
        alerts_retry_base_s=0.1,
    )
    try:
        async with (
            running(storage_service.run, settings, settings.storage_grpc_port),
            running(alerts_service.run, settings, port),
            grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel,
        ):
            stub = alerts_service_pb2_grpc.AlertsServiceStub(channel)
            hook = await stub.CreateChannel(
                pb.CreateChannelRequest(
                    kind=pb.CHANNEL_KIND_WEBHOOK, name="sink", target=sink.url, secret=SECRET
                )
            )
            chat = await stub.CreateChannel(
                pb.CreateChannelRequest(
                    kind=pb.CHANNEL_KIND_TELEGRAM, name="chat", target=CHAT, secret=TOKEN
                )
            )
            rule = (
                await stub.CreateRule(
                    pb.CreateRuleRequest(
                        input=pb.RuleInput(
                            symbol="BTCUSDT",
                            condition=f"price crosses_above {LEVEL}",
                            mode=pb.RULE_MODE_RECURRING,
                            channel_ids=[hook.channel.id, chat.channel.id],
                        )
                    )
                )
            ).rule
            # Telegram's one message a second per chat paces the chat: four take ~3 s.
            sink.fail_next(503)  # the first POST is refused once: retried, still in order
            _, publisher = await trade_publisher(nats_client, namespace)
            for trade in trades:
                await publisher.publish(trade)
            await publisher.flush()
            assert not await publisher.close(10)

            listed: list[pb.Firing] = []

            async def all_delivered() -> bool:
                reply = await stub.ListNotifications(
                    pb.ListNotificationsRequest(rule_id=rule.id, page_size=50)
                )
                listed[:] = reply.firings
                deliveries = [d for f in reply.firings for d in f.deliveries]
                return len(reply.firings) == len(expected) and all(
                    d.status == pb.DELIVERY_STATUS_DELIVERED for d in deliveries
                )

            await eventually(all_delivered, timeout=60)
    finally:
        js = nats_client.jetstream()
        try:
            await js.delete_stream(names.alerts_stream(namespace))
        except NotFoundError:
            pass

    # The webhook: one accepted, signed POST per firing, in trade order, the refused one
    # sent again with the same body.
    accepted = sink.accepted()
    assert [hook.payload["tradeId"] for hook in accepted] == [t.trade_id for t in expected]
    assert [hook.payload["price"] for hook in accepted] == [t.price for t in expected]
    assert {hook.payload["ruleId"] for hook in accepted} == {rule.id}
    assert [r.status for r in sink.requests] == [503] + [200] * len(expected)
    assert sink.requests[0].body == sink.requests[1].body
    keys = [hook.payload["idempotencyKey"] for hook in accepted]
    assert len(set(keys)) == len(expected)
    times = [json.loads(hook.body)["time"] for hook in accepted]
    assert times == [t.trade_time_ms for t in expected]

    # The chat: one message per firing, in trade order.
    texts = telegram.texts(CHAT)
    assert len(texts) == len(expected)
    assert all(f"(trade {t.trade_id})" in text for text, t in zip(texts, expected, strict=True))
    assert telegram.early_requests == 0

    # ListNotifications: newest first; each delivery with its attempts.
    assert [f.trade_id for f in listed] == [t.trade_id for t in reversed(expected)]
    # The first firing, whose POST was refused once.
    by_channel = {d.channel_id: d for d in listed[-1].deliveries}
    webhook = by_channel[hook.channel.id]
    assert [a.outcome for a in webhook.attempts] == ["RETRY", "DELIVERED"]
    assert webhook.idempotency_key == keys[0] and not webhook.possible_duplicate
    assert [a.outcome for a in by_channel[chat.channel.id].attempts] == ["DELIVERED"]
