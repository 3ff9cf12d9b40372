"""Each notification sender against a local fake of its service, over real loopback HTTP
and SMTP: delivered, rate limits honoured as the service states them, permanent refusals
never retried, webhook signatures verified and idempotency keys stable across retries."""

from __future__ import annotations

import asyncio
import itertools
import socket
from collections.abc import AsyncIterator

import httpx
import pytest
import pytest_asyncio

from services.alerts.channels import message
from services.alerts.channels.discord import DiscordSender
from services.alerts.channels.email import EmailSender, SmtpServer
from services.alerts.channels.message import Notice
from services.alerts.channels.outcome import Channel, ChannelKind, Delivered, Failed, Retry
from services.alerts.channels.retry_policy import RetryPolicy
from services.alerts.channels.senders import Sender
from services.alerts.channels.telegram import TelegramSender
from services.alerts.channels.webhook import WebhookSender
from tests.fakes.discord_webhook import FakeDiscordWebhooks
from tests.fakes.smtp_server import FakeSmtpServer
from tests.fakes.telegram_bot_api import FakeTelegramBotApi
from tests.fakes.webhook_sink import WebhookSink

pytestmark = pytest.mark.integration

TOKEN = "7000000001:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
CHAT = "123456789"
FAST = RetryPolicy(base_s=0.05, factor=2.0, cap_s=1.0, jitter=0.0, max_attempts=5)


def notice(key: str = "n-1", trade_id: int | None = 3716419131) -> Notice:
    return Notice(
        idempotency_key=key,
        rule_id="rule-7",
        symbol="BTCUSDT",
        condition="price crosses_above 61000",
        price="61000.01",
        time_ms=1723118400123,
        trade_id=trade_id,
    )


@pytest_asyncio.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=httpx.Timeout(5.0, connect=2.0)) as shared:
        yield shared


async def send_until_done(sender: Sender, channel: Channel, note: Notice) -> list[object]:
    """What the delivery worker does with one notification: send, and on Retry wait as long
    as the outcome says and send again, until delivered or failed."""
    outcomes: list[object] = []
    for attempt in range(1, 20):
        outcome = await sender.send(channel, note, attempt)
        outcomes.append(outcome)
        if not isinstance(outcome, Retry):
            return outcomes
        await asyncio.sleep(outcome.after_s)
    raise AssertionError(f"never finished: {outcomes}")


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# Telegram


async def test_telegram_delivers_the_firing_text_to_the_chat(client: httpx.AsyncClient) -> None:
    async with FakeTelegramBotApi(tokens={TOKEN}, chats={CHAT}) as telegram:
        sender = TelegramSender(client, api_url=telegram.url)

        outcome = await sender.send(Channel(ChannelKind.TELEGRAM, CHAT, TOKEN), notice(), 1)

    assert outcome == Delivered()
    assert telegram.texts(CHAT) == [message.text(notice())]


async def test_telegram_429_is_honoured_for_its_retry_after(client: httpx.AsyncClient) -> None:
    channel = Channel(ChannelKind.TELEGRAM, CHAT, TOKEN)
    async with FakeTelegramBotApi(tokens={TOKEN}, chats={CHAT}) as telegram:
        telegram.fail_next(429, retry_after=1)
        sender = TelegramSender(client, api_url=telegram.url, policy=FAST)

        first = await sender.send(channel, notice(), 1)
        # Sent again at once, the sender itself holds back: no request reaches Telegram.
        early = await sender.send(channel, notice(), 2)
        outcomes = await send_until_done(sender, channel, notice())

    assert first == Retry(1.0, "Telegram 429: Too Many Requests: retry after 1")
    assert isinstance(early, Retry) and 0.5 < early.after_s <= 1.0
    assert outcomes[-1] == Delivered()
    assert telegram.statuses == [429, 200]
    assert telegram.early_requests == 0


async def test_telegram_keeps_to_one_message_a_second_per_chat(client: httpx.AsyncClient) -> None:
    channel = Channel(ChannelKind.TELEGRAM, CHAT, TOKEN)
    async with FakeTelegramBotApi(tokens={TOKEN}, chats={CHAT}, chat_interval_s=1.0) as telegram:
        sender = TelegramSender(client, api_url=telegram.url, policy=FAST)
        for n in range(3):
            outcomes = await send_until_done(sender, channel, notice(f"n-{n}"))
            assert outcomes[-1] == Delivered()

    assert telegram.statuses == [200, 200, 200]
    times = [m.at for m in telegram.messages]
    assert all(later - earlier >= 0.99 for earlier, later in itertools.pairwise(times))


@pytest.mark.parametrize(
    ("token", "chat", "status", "reason"),
    [
        ("7000000001:AAWrongTokenWrongTokenWrong", CHAT, 401, "Unauthorized"),
        ("not-a-token", CHAT, 404, "Not Found"),
        (TOKEN, "999", 400, "Bad Request: chat not found"),
        (TOKEN, "555", 403, "Forbidden: bot was blocked by the user"),
        (TOKEN, "-100", 400, "supergroup chat (the chat is now -1001234567890)"),
    ],
)
async def test_telegram_permanent_refusals_fail_without_retry(
    client: httpx.AsyncClient, token: str, chat: str, status: int, reason: str
) -> None:
    async with FakeTelegramBotApi(
        tokens={TOKEN},
        chats={CHAT},
        blocked_chats={"555"},
        migrated_chats={"-100": -1001234567890},
    ) as telegram:
        sender = TelegramSender(client, api_url=telegram.url, policy=FAST)

        outcomes = await send_until_done(
            sender, Channel(ChannelKind.TELEGRAM, chat, token), notice()
        )

    [outcome] = outcomes
    assert isinstance(outcome, Failed) and outcome.permanent
    # The bot or the chat is refused, not just this message: nothing more is sent to it.
    assert outcome.refuses_channel == (status != 400 or "supergroup" in reason)
    assert outcome.reason.startswith(f"Telegram {status}: ") and outcome.reason.endswith(reason)
    assert telegram.statuses == [status]
    # A token in a reason would end up in the notifications list for anyone to read.
    assert "AAWrongToken" not in outcome.reason


@pytest.mark.parametrize("status", [500, 502])
async def test_telegram_5xx_is_retried_with_backoff(client: httpx.AsyncClient, status: int) -> None:
    channel = Channel(ChannelKind.TELEGRAM, CHAT, TOKEN)
    async with FakeTelegramBotApi(tokens={TOKEN}, chats={CHAT}) as telegram:
        telegram.fail_next(status, count=2)
        sender = TelegramSender(client, api_url=telegram.url, policy=FAST)
        outcomes = await send_until_done(sender, channel, notice())

    assert outcomes[-1] == Delivered()
    first = outcomes[0]
    assert isinstance(first, Retry) and not first.maybe_delivered
    assert first.reason.startswith(f"Telegram {status}")
    assert telegram.statuses.count(status) == 2
    assert len(telegram.texts(CHAT)) == 1


async def test_telegram_lost_answer_is_retry_flagged_maybe_delivered() -> None:
    channel = Channel(ChannelKind.TELEGRAM, CHAT, TOKEN)
    async with (
        FakeTelegramBotApi(tokens={TOKEN}, chats={CHAT}, delay_s=1.0) as telegram,
        httpx.AsyncClient(timeout=0.3) as impatient,
    ):
        sender = TelegramSender(impatient, api_url=telegram.url, policy=FAST)

        outcome = await sender.send(channel, notice(), 1)

    assert isinstance(outcome, Retry) and outcome.maybe_delivered
    assert telegram.texts(CHAT) == [message.text(notice())]


# Discord

WEBHOOK_ID = "1187654321098765432"
WEBHOOK_TOKEN = "xK2pQ-9wLmN3vB7cR5tY1uI8oP0aS4dF6gH2jK4lZ9xC7vB5nM3"


async def test_discord_posts_the_firing_and_waits_for_the_message(
    client: httpx.AsyncClient,
) -> None:
    async with FakeDiscordWebhooks(webhooks={WEBHOOK_ID: WEBHOOK_TOKEN}) as discord:
        sender = DiscordSender(client)
        channel = Channel(ChannelKind.DISCORD, discord.webhook_url(WEBHOOK_ID))

        outcome = await sender.send(channel, notice(), 1)

    assert outcome == Delivered()
    assert discord.contents(WEBHOOK_ID) == [message.text(notice())]
    assert discord.statuses == [200]


async def test_discord_429_is_honoured_for_its_retry_after(client: httpx.AsyncClient) -> None:
    async with FakeDiscordWebhooks(webhooks={WEBHOOK_ID: WEBHOOK_TOKEN}) as discord:
        discord.fail_next(429, retry_after=0.7)
        sender = DiscordSender(client, policy=FAST)
        channel = Channel(ChannelKind.DISCORD, discord.webhook_url(WEBHOOK_ID))

        first = await sender.send(channel, notice(), 1)
        waiting = sender.wait_s(channel)
        outcomes = await send_until_done(sender, channel, notice())

    assert first == Retry(0.7, "Discord 429: You are being rate limited.")
    assert 0.5 < waiting <= 0.7
    assert outcomes[-1] == Delivered()
    assert discord.statuses == [429, 200]


async def test_discord_global_429_holds_every_webhook(client: httpx.AsyncClient) -> None:
    other_id = "1187654321098765433"
    async with FakeDiscordWebhooks(
        webhooks={WEBHOOK_ID: WEBHOOK_TOKEN, other_id: "other-token"}
    ) as discord:
        discord.fail_next(429, retry_after=2.0, is_global=True)
        sender = DiscordSender(client, policy=FAST)

        await sender.send(
            Channel(ChannelKind.DISCORD, discord.webhook_url(WEBHOOK_ID)), notice(), 1
        )
        other = await sender.send(
            Channel(ChannelKind.DISCORD, discord.webhook_url(other_id)), notice(), 1
        )

    assert isinstance(other, Retry) and other.after_s > 1.5
    assert discord.statuses == [429]


async def test_discord_rate_limit_headers_keep_sends_inside_the_bucket(
    client: httpx.AsyncClient,
) -> None:
    async with FakeDiscordWebhooks(
        webhooks={WEBHOOK_ID: WEBHOOK_TOKEN}, bucket_limit=2, bucket_window_s=0.6
    ) as discord:
        sender = DiscordSender(client, policy=FAST)
        channel = Channel(ChannelKind.DISCORD, discord.webhook_url(WEBHOOK_ID))
        for n in range(5):
            outcomes = await send_until_done(sender, channel, notice(f"n-{n}"))
            assert outcomes[-1] == Delivered()

    # X-RateLimit-Remaining: 0 and Reset-After were obeyed: Discord never had to say 429.
    assert discord.over_limit == 0
    assert discord.statuses == [200] * 5
    assert len(discord.contents(WEBHOOK_ID)) == 5


@pytest.mark.parametrize(
    ("status", "reason"),
    [
        (401, "Discord 401: Invalid Webhook Token (code 50027)"),
        (403, "Discord 403: Missing Permissions (code 50013)"),
        (404, "Discord 404: Unknown Webhook (code 10015)"),
        (400, "Discord 400: Cannot send an empty message (code 50006)"),
    ],
)
async def test_discord_refusals_are_never_retried(
    client: httpx.AsyncClient, status: int, reason: str
) -> None:
    async with FakeDiscordWebhooks(webhooks={WEBHOOK_ID: WEBHOOK_TOKEN}) as discord:
        url = {
            401: discord.webhook_url(WEBHOOK_ID, "wrong-token"),
            404: discord.webhook_url("1100000000000000000", "whatever"),
        }.get(status, discord.webhook_url(WEBHOOK_ID))
        if status in (400, 403):
            discord.fail_next(status)
        sender = DiscordSender(client, policy=FAST)

        outcomes = await send_until_done(sender, Channel(ChannelKind.DISCORD, url), notice())

    assert outcomes == [Failed(reason, refuses_channel=status != 400)]
    assert discord.statuses == [status]
    assert discord.invalid_requests == 0


async def test_discord_5xx_is_retried_with_backoff(client: httpx.AsyncClient) -> None:
    async with FakeDiscordWebhooks(webhooks={WEBHOOK_ID: WEBHOOK_TOKEN}) as discord:
        discord.fail_next(502, count=2)
        sender = DiscordSender(client, policy=FAST)
        channel = Channel(ChannelKind.DISCORD, discord.webhook_url(WEBHOOK_ID))

        outcomes = await send_until_done(sender, channel, notice())

    assert [type(o) for o in outcomes] == [Retry, Retry, Delivered]
    assert [o.after_s for o in outcomes[:2] if isinstance(o, Retry)] == [0.05, 0.1]
    assert len(discord.contents(WEBHOOK_ID)) == 1


# Email


async def test_email_delivers_one_message_with_the_idempotency_message_id() -> None:
    with FakeSmtpServer() as smtp:
        sender = EmailSender(SmtpServer(smtp.host, smtp.port, sender="alerts@quantflow.test"))

        outcome = await sender.send(Channel(ChannelKind.EMAIL, "ada@example.org"), notice(), 1)

    assert outcome == Delivered()
    [mail] = smtp.mails
    assert mail.sender == "alerts@quantflow.test"
    assert mail.recipients == ["ada@example.org"]
    assert mail.message["Subject"] == "QuantFlow alert BTCUSDT: price crosses_above 61000"
    assert mail.message["Message-ID"] == "<n-1@quantflow>"
    body = mail.message.get_payload(decode=True)
    assert isinstance(body, bytes) and body.decode().strip() == message.text(notice())


@pytest.mark.parametrize(
    ("step", "reply", "retried"),
    [
        ("RCPT", "451 4.3.0 Mail server temporarily rejected message", True),
        ("DATA", "452 4.3.1 Insufficient system storage", True),
        ("RCPT", "550 5.1.1 The email account that you tried to reach does not exist", False),
        ("DATA", "554 5.7.1 Message rejected as spam", False),
    ],
)
async def test_email_4xx_is_retried_and_5xx_is_permanent(
    step: str, reply: str, retried: bool
) -> None:
    with FakeSmtpServer() as smtp:
        smtp.reply_next(step, reply)
        sender = EmailSender(SmtpServer(smtp.host, smtp.port), policy=FAST)

        outcomes = await send_until_done(
            sender, Channel(ChannelKind.EMAIL, "ada@example.org"), notice()
        )

    refused = f"{'RCPT TO' if step == 'RCPT' else step} refused: {reply}"
    if retried:
        assert outcomes == [Retry(0.05, refused), Delivered()]
        assert len(smtp.mails) == 1
    else:
        assert outcomes == [Failed(refused)]
        assert smtp.mails == []


async def test_email_lost_answer_to_data_is_retry_maybe_delivered_with_the_same_id() -> None:
    with FakeSmtpServer(data_delay_s=1.0) as smtp:
        server = SmtpServer(smtp.host, smtp.port, timeout_s=0.3)
        sender = EmailSender(server, policy=FAST)
        channel = Channel(ChannelKind.EMAIL, "ada@example.org")

        first = await sender.send(channel, notice(), 1)
        smtp.data_delay_s = 0.0
        second = await sender.send(channel, notice(), 2)

    assert isinstance(first, Retry) and first.maybe_delivered
    assert second == Delivered()
    assert [m.message["Message-ID"] for m in smtp.mails] == ["<n-1@quantflow>"] * 2


async def test_email_with_no_server_listening_is_retried_as_not_sent() -> None:
    sender = EmailSender(SmtpServer("127.0.0.1", closed_port()), policy=FAST)

    outcome = await sender.send(Channel(ChannelKind.EMAIL, "ada@example.org"), notice(), 1)

    assert isinstance(outcome, Retry) and not outcome.maybe_delivered
    assert outcome.reason.startswith("SMTP connection: ConnectionRefusedError")


# Webhooks

SECRET = "whsec-5f1d0c9a"


async def test_webhook_posts_signed_json_with_the_firing(client: httpx.AsyncClient) -> None:
    async with WebhookSink(SECRET) as sink:
        sender = WebhookSender(client)

        outcome = await sender.send(Channel(ChannelKind.WEBHOOK, sink.url, SECRET), notice(), 1)

    assert outcome == Delivered()
    [hook] = sink.requests
    assert hook.signature_ok
    assert hook.headers["content-type"] == "application/json"
    assert hook.headers["idempotency-key"] == "n-1"
    assert hook.payload == {
        "idempotencyKey": "n-1",
        "ruleId": "rule-7",
        "symbol": "BTCUSDT",
        "condition": "price crosses_above 61000",
        "price": "61000.01",
        "time": 1723118400123,
        "tradeId": 3716419131,
        "value": None,
    }


async def test_webhook_signed_with_another_secret_is_refused_for_good(
    client: httpx.AsyncClient,
) -> None:
    async with WebhookSink(SECRET) as sink:
        sender = WebhookSender(client, policy=FAST)
        channel = Channel(ChannelKind.WEBHOOK, sink.url, "not-the-secret")

        outcomes = await send_until_done(sender, channel, notice())

    assert outcomes == [Failed('webhook answered 401: {"error":"bad signature"}')]
    assert [r.signature_ok for r in sink.requests] == [False]


async def test_webhook_5xx_is_retried_with_the_same_key_and_bytes(
    client: httpx.AsyncClient,
) -> None:
    async with WebhookSink(SECRET) as sink:
        sink.fail_next(503, count=2)
        sender = WebhookSender(client, policy=FAST)

        outcomes = await send_until_done(
            sender, Channel(ChannelKind.WEBHOOK, sink.url, SECRET), notice()
        )

    assert [type(o) for o in outcomes] == [Retry, Retry, Delivered]
    assert [r.status for r in sink.requests] == [503, 503, 200]
    assert {r.body for r in sink.requests} == {sink.requests[0].body}
    assert {r.headers["idempotency-key"] for r in sink.requests} == {"n-1"}
    assert len(sink.accepted()) == 1


async def test_webhook_gives_up_after_the_policys_attempts(client: httpx.AsyncClient) -> None:
    async with WebhookSink(SECRET) as sink:
        sink.fail_next(500, count=100)
        sender = WebhookSender(client, policy=FAST)

        outcomes = await send_until_done(
            sender, Channel(ChannelKind.WEBHOOK, sink.url, SECRET), notice()
        )

    assert outcomes[-1] == Failed(
        'gave up after 5 attempts: webhook answered 500: {"error":"status 500"}', permanent=False
    )
    assert len(sink.requests) == 5


async def test_webhook_429_waits_for_its_retry_after(client: httpx.AsyncClient) -> None:
    async with WebhookSink(SECRET) as sink:
        sink.fail_next(429, retry_after=7)
        sender = WebhookSender(client, policy=FAST)

        outcome = await sender.send(Channel(ChannelKind.WEBHOOK, sink.url, SECRET), notice(), 1)

    assert outcome == Retry(7.0, 'webhook answered 429: {"error":"status 429"}')


@pytest.mark.parametrize("status", [400, 404, 410, 422])
async def test_webhook_4xx_is_permanent(client: httpx.AsyncClient, status: int) -> None:
    async with WebhookSink(SECRET) as sink:
        sink.fail_next(status)
        sender = WebhookSender(client, policy=FAST)

        outcomes = await send_until_done(
            sender, Channel(ChannelKind.WEBHOOK, sink.url, SECRET), notice()
        )

    assert outcomes == [Failed(f'webhook answered {status}: {{"error":"status {status}"}}')]
    assert len(sink.requests) == 1


async def test_webhook_timeout_after_sending_is_maybe_delivered_and_resent_with_same_key() -> None:
    async with WebhookSink(SECRET) as sink, httpx.AsyncClient(timeout=0.3) as impatient:
        sink.delay_next(1.0)
        sender = WebhookSender(impatient, policy=FAST)

        outcomes = await send_until_done(
            sender, Channel(ChannelKind.WEBHOOK, sink.url, SECRET), notice()
        )

    first = outcomes[0]
    assert isinstance(first, Retry) and first.maybe_delivered
    assert first.reason == "no answer (ReadTimeout)"
    assert outcomes[-1] == Delivered()
    # The receiver saw the notification twice with one key, so it can drop the repeat.
    assert [r.payload["idempotencyKey"] for r in sink.requests] == ["n-1", "n-1"]
    assert all(r.signature_ok for r in sink.requests)


async def test_webhook_nobody_listening_is_retried_as_not_sent(client: httpx.AsyncClient) -> None:
    sender = WebhookSender(client, policy=FAST)
    channel = Channel(ChannelKind.WEBHOOK, f"http://127.0.0.1:{closed_port()}/hook", SECRET)

    outcome = await sender.send(channel, notice(), 1)

    assert outcome == Retry(0.05, "could not connect (ConnectError)")
