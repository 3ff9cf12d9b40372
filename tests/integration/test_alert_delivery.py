"""The delivery worker over the PostgreSQL outbox, against real PostgreSQL and the local
fakes of Telegram, Discord, SMTP and a webhook receiver on loopback.

Firings and their notifications are inserted as the evaluator writes them; the worker must
deliver each one exactly once (or once plus one repeat flagged ``possible_duplicate``, with
the same idempotency key, when a send's outcome was unknown), in order per channel, through
rate limits, refusals, a SIGKILLed worker and a PostgreSQL restart."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from pathlib import Path
from typing import TypeVar
from uuid import UUID

import asyncpg
import httpx
import pytest
import pytest_asyncio
from prometheus_client import REGISTRY

from services.alerts.channels.discord import DiscordSender
from services.alerts.channels.email import EmailSender, SmtpServer
from services.alerts.channels.outcome import ChannelKind
from services.alerts.channels.retry_policy import RetryPolicy
from services.alerts.channels.senders import Sender
from services.alerts.channels.telegram import TelegramSender
from services.alerts.channels.webhook import WebhookSender
from services.alerts.delivery import DeliverySettings, DeliveryWorker
from services.alerts.delivery_rules import UNKNOWN_TWICE
from services.alerts.metrics import OutboxGauges
from services.alerts.outbox import OUTBOX_CHANNEL
from services.common.embedded import EmbeddedPostgres, start_postgres
from services.storage.migrations import migrate
from tests.fakes.discord_webhook import FakeDiscordWebhooks
from tests.fakes.smtp_server import FakeSmtpServer
from tests.fakes.telegram_bot_api import FakeTelegramBotApi
from tests.fakes.webhook_sink import WebhookSink

pytestmark = pytest.mark.integration

TOKEN = "7000000001:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
CHAT_A = "123456789"
CHAT_B = "987654321"
WEBHOOK_ID = "1187654321098765432"
WEBHOOK_TOKEN = "xK2pQ-9wLmN3vB7cR5tY1uI8oP0aS4dF6gH2jK4lZ9xC7vB5nM3"
SECRET = "s3cret-signing-key"
FAST = RetryPolicy(base_s=0.1, factor=2.0, cap_s=1.0, jitter=0.0, max_attempts=5)
QUICK = DeliverySettings(poll_s=0.2, database_retry_s=0.2, drain_s=5.0)
DELIVERIES = "quantflow_alerts_deliveries_total"
WORKER_PROCESS = Path(__file__).with_name("delivery_worker_process.py")
T0_MS = 1723118400123

T = TypeVar("T")


# Rows, as the evaluator writes them.


class Outbox:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool
        self._trade_ids = itertools.count(3716419131)

    async def channel(self, kind: ChannelKind, target: str, secret: str = "") -> UUID:
        channel_id = uuid.uuid4()
        await self.pool.execute(
            "INSERT INTO alert_channels (id, kind, name, target, secret) VALUES ($1,$2,$3,$4,$5)",
            channel_id,
            kind.value,
            f"{kind.value.lower()} channel",
            target,
            secret,
        )
        return channel_id

    async def rule(self, condition: str = "price crosses_above 61000") -> UUID:
        rule_id = uuid.uuid4()
        await self.pool.execute(
            """INSERT INTO alert_rules (id, symbol, condition, mode, channel_ids)
               VALUES ($1, 'BTCUSDT', $2, 'RECURRING', '{}')""",
            rule_id,
            condition,
        )
        return rule_id

    async def fire(
        self, rule_id: UUID, channel_ids: Sequence[UUID], price: str = "61000.01"
    ) -> list[int]:
        """One firing and its notifications, in one transaction with the outbox NOTIFY; the
        notifications' ids, in ``channel_ids`` order."""
        trade_id = next(self._trade_ids)
        async with self.pool.acquire() as conn, conn.transaction():
            condition = await conn.fetchval(
                "SELECT condition FROM alert_rules WHERE id = $1", rule_id
            )
            firing_id = await conn.fetchval(
                """INSERT INTO alert_firings
                       (rule_id, symbol, condition, event_key, time_ms, price, value, trade_id)
                   VALUES ($1, 'BTCUSDT', $2, $3, $4, $5, $6, $7) RETURNING id""",
                rule_id,
                condition,
                f"trade:binance:{trade_id}",
                T0_MS + trade_id % 1000,
                price,
                float(price),
                trade_id,
            )
            ids = []
            for channel_id in channel_ids:
                ids.append(
                    await conn.fetchval(
                        """INSERT INTO alert_notifications (firing_id, channel_id, idempotency_key)
                           VALUES ($1, $2, $3) RETURNING id""",
                        firing_id,
                        channel_id,
                        f"{firing_id}:{channel_id}",  # as the evaluator writes it
                    )
                )
            await conn.execute("SELECT pg_notify($1, '')", OUTBOX_CHANNEL)
        return ids

    async def notification(self, notification_id: int) -> asyncpg.Record:
        row = await self.pool.fetchrow(
            """SELECT n.*, f.trade_id, f.rule_id FROM alert_notifications n
               JOIN alert_firings f ON f.id = n.firing_id WHERE n.id = $1""",
            notification_id,
        )
        assert row is not None
        return row

    async def attempts(self, notification_id: int) -> list[asyncpg.Record]:
        return list(
            await self.pool.fetch(
                "SELECT * FROM alert_delivery_attempts WHERE notification_id = $1 ORDER BY number",
                notification_id,
            )
        )

    async def settled(self, ids: Sequence[int], timeout_s: float = 30.0) -> list[asyncpg.Record]:
        """The notifications once none is PENDING any more (the database may be down for a
        while meanwhile)."""

        async def done() -> list[asyncpg.Record] | None:
            rows = [await self.notification(i) for i in ids]
            return None if any(r["status"] == "PENDING" for r in rows) else rows

        return await eventually(done, timeout_s)


async def eventually(check: Callable[[], Awaitable[T | None]], timeout_s: float) -> T:
    deadline = time.monotonic() + timeout_s
    last_error: BaseException | None = None
    while time.monotonic() < deadline:
        try:
            result = await check()
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
            last_error, result = error, None
        if result is not None:
            return result
        await asyncio.sleep(0.05)
    raise AssertionError(f"not done after {timeout_s}s (last error: {last_error!r})")


@pytest_asyncio.fixture
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    conn = await asyncpg.connect(database_url)
    try:
        await migrate(conn)
    finally:
        await conn.close()
    shared = await asyncpg.create_pool(database_url, min_size=1, max_size=6)
    yield shared
    await shared.close()


@pytest_asyncio.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=httpx.Timeout(5.0, connect=2.0)) as shared:
        yield shared


def fast_senders(
    client: httpx.AsyncClient, telegram_url: str = "http://127.0.0.1:9", smtp_port: int = 9
) -> dict[ChannelKind, Sender]:
    return {
        ChannelKind.TELEGRAM: TelegramSender(client, api_url=telegram_url, policy=FAST),
        ChannelKind.DISCORD: DiscordSender(client, policy=FAST),
        ChannelKind.EMAIL: EmailSender(
            SmtpServer("127.0.0.1", smtp_port, sender="alerts@quantflow.test"), policy=FAST
        ),
        ChannelKind.WEBHOOK: WebhookSender(client, policy=FAST),
    }


@contextlib.asynccontextmanager
async def delivering(
    pool: asyncpg.Pool, senders: dict[ChannelKind, Sender], settings: DeliverySettings = QUICK
) -> AsyncIterator[None]:
    stop = asyncio.Event()
    task = asyncio.create_task(DeliveryWorker(pool, senders, settings).run(stop))
    try:
        yield
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def arrivals_are_once_or_flagged_twice(
    keys_received: Sequence[str], rows: Sequence[asyncpg.Record]
) -> None:
    """Every notification arrived once, or twice with the same key and flagged."""
    counts = Counter(keys_received)
    for row in rows:
        key = row["idempotency_key"]
        assert counts[key] in (1, 2), f"{key} arrived {counts[key]} times"
        if counts[key] == 2:
            assert row["possible_duplicate"], f"{key} arrived twice unflagged"
    assert set(counts) <= {row["idempotency_key"] for row in rows}


def first_arrivals(keys_received: Sequence[str]) -> list[str]:
    return list(dict.fromkeys(keys_received))


# Delivered once, with the firing's body.


async def test_each_kind_is_delivered_once_with_the_firings_body(
    pool: asyncpg.Pool, client: httpx.AsyncClient
) -> None:
    rows = Outbox(pool)
    delivered_before = sample(DELIVERIES, kind="WEBHOOK", outcome="delivered")
    async with (
        FakeTelegramBotApi(tokens={TOKEN}, chats={CHAT_A}) as telegram,
        FakeDiscordWebhooks(webhooks={WEBHOOK_ID: WEBHOOK_TOKEN}) as discord,
        WebhookSink(SECRET) as sink,
    ):
        with FakeSmtpServer() as smtp:
            channels = [
                await rows.channel(ChannelKind.TELEGRAM, CHAT_A, TOKEN),
                await rows.channel(ChannelKind.DISCORD, discord.webhook_url(WEBHOOK_ID)),
                await rows.channel(ChannelKind.EMAIL, "ada@example.test"),
                await rows.channel(ChannelKind.WEBHOOK, sink.url, SECRET),
            ]
            rule_id = await rows.rule()
            ids = await rows.fire(rule_id, channels)
            async with delivering(pool, fast_senders(client, telegram.url, smtp.port)):
                settled = await rows.settled(ids)

    for row in settled:
        assert (row["status"], row["attempts"], row["reason"]) == ("DELIVERED", 1, "")
        assert row["delivered_at"] is not None and row["sending_since"] is None
        assert not row["possible_duplicate"]
        [attempt] = await rows.attempts(row["id"])
        assert attempt["outcome"] == "DELIVERED" and attempt["finished_at"] is not None
    trade_id = settled[0]["trade_id"]

    [text] = telegram.texts(CHAT_A)
    assert text.startswith("BTCUSDT: price crosses_above 61000\n")
    assert "price 61000.01 at " in text and f"(trade {trade_id})" in text
    assert str(rule_id) in text
    assert discord.contents(WEBHOOK_ID) == [text]

    [mail] = smtp.mails
    assert mail.recipients == ["ada@example.test"]
    assert "BTCUSDT: price crosses_above 61000" in str(mail.message["Subject"])
    key = settled[2]["idempotency_key"]
    assert mail.message["Message-ID"] == f"<{key.replace(':', '-')}@quantflow>"
    body = mail.message.get_payload(decode=True)
    assert isinstance(body, bytes) and f"(trade {trade_id})" in body.decode()

    [hook] = sink.requests
    assert hook.signature_ok and hook.status == 200
    assert hook.payload == {
        "idempotencyKey": settled[3]["idempotency_key"],
        "ruleId": str(rule_id),
        "symbol": "BTCUSDT",
        "condition": "price crosses_above 61000",
        "price": "61000.01",
        "time": T0_MS + trade_id % 1000,
        "tradeId": trade_id,
        "value": "61000.01",
    }
    assert hook.headers["idempotency-key"] == settled[3]["idempotency_key"]
    assert sample(DELIVERIES, kind="WEBHOOK", outcome="delivered") == delivered_before + 1


async def test_nothing_is_sent_before_it_is_due_and_the_backlog_shows_it(
    pool: asyncpg.Pool, client: httpx.AsyncClient
) -> None:
    rows = Outbox(pool)
    gauges = OutboxGauges(pool)
    async with WebhookSink(SECRET) as sink:
        channel = await rows.channel(ChannelKind.WEBHOOK, sink.url, SECRET)
        rule_id = await rows.rule()
        ids = [(await rows.fire(rule_id, [channel]))[0] for _ in range(3)]
        await pool.execute(
            "UPDATE alert_notifications SET next_attempt_at = now() + interval '1 hour'"
        )
        async with delivering(pool, fast_senders(client)):
            await asyncio.sleep(0.5)
            assert sink.requests == []
            await gauges.read()
            assert sample("quantflow_alerts_outbox_pending") == 3
            assert sample("quantflow_alerts_outbox_oldest_pending_seconds") > 0
            await pool.execute("UPDATE alert_notifications SET next_attempt_at = now()")
            await rows.settled(ids)
    await gauges.read()
    assert sample("quantflow_alerts_outbox_pending") == 0
    assert [r.payload["idempotencyKey"] for r in sink.accepted()] == [
        f"{(await rows.notification(i))['idempotency_key']}" for i in ids
    ]


async def test_notify_and_due_retries_wake_the_worker_without_waiting_for_its_poll(
    pool: asyncpg.Pool, client: httpx.AsyncClient
) -> None:
    rows = Outbox(pool)
    sleepy = DeliverySettings(poll_s=60.0, database_retry_s=0.2, drain_s=5.0)
    async with WebhookSink(SECRET) as sink:
        channel = await rows.channel(ChannelKind.WEBHOOK, sink.url, SECRET)
        rule_id = await rows.rule()
        async with delivering(pool, fast_senders(client), sleepy):
            await asyncio.sleep(0.5)  # the worker found nothing and sleeps for a minute
            sink.fail_next(503)
            [notification] = await rows.fire(rule_id, [channel])  # with its NOTIFY
            [row] = await rows.settled([notification], timeout_s=10)

    assert (row["status"], row["attempts"]) == ("DELIVERED", 2)
    assert [r.status for r in sink.requests] == [503, 200]


# Each service's rules.


async def test_telegram_429_for_a_while_then_every_chat_gets_all_in_order(
    pool: asyncpg.Pool, client: httpx.AsyncClient
) -> None:
    rows = Outbox(pool)
    async with FakeTelegramBotApi(
        tokens={TOKEN}, chats={CHAT_A, CHAT_B}, chat_interval_s=1.0
    ) as telegram:
        chat_a = await rows.channel(ChannelKind.TELEGRAM, CHAT_A, TOKEN)
        chat_b = await rows.channel(ChannelKind.TELEGRAM, CHAT_B, TOKEN)
        rule_id = await rows.rule()
        telegram.fail_next(429, count=3, retry_after=1)
        ids = [await rows.fire(rule_id, [chat_a, chat_b]) for _ in range(3)]
        async with delivering(pool, fast_senders(client, telegram.url)):
            settled = await rows.settled([i for pair in ids for i in pair])

    assert all(row["status"] == "DELIVERED" for row in settled)
    assert telegram.statuses.count(429) >= 3
    assert telegram.early_requests == 0
    trades = [row["trade_id"] for row in settled[::2]]
    for chat in (CHAT_A, CHAT_B):
        texts = telegram.texts(chat)
        assert len(texts) == 3
        assert [f"(trade {t})" in text for t, text in zip(trades, texts, strict=True)] == [True] * 3
    retried = [
        attempt
        for row in settled
        for attempt in await rows.attempts(row["id"])
        if attempt["outcome"] == "RETRY"
    ]
    assert retried and all("Telegram 429" in a["detail"] for a in retried)


@pytest.mark.parametrize(
    ("status", "reason"),
    [(401, "Invalid Webhook Token"), (403, "Missing Permissions"), (404, "Unknown Webhook")],
)
async def test_discord_401_403_404_fail_at_once_and_are_never_retried(
    pool: asyncpg.Pool, client: httpx.AsyncClient, status: int, reason: str
) -> None:
    rows = Outbox(pool)
    async with FakeDiscordWebhooks(webhooks={WEBHOOK_ID: WEBHOOK_TOKEN}) as discord:
        url = {
            401: discord.webhook_url(WEBHOOK_ID, "wrong-token"),
            403: discord.webhook_url(WEBHOOK_ID),
            404: discord.webhook_url("1000000000000000001", "whatever"),
        }[status]
        if status == 403:
            discord.fail_next(403)
        channel = await rows.channel(ChannelKind.DISCORD, url)
        rule_id = await rows.rule()
        [refused] = await rows.fire(rule_id, [channel])
        [next_one] = await rows.fire(rule_id, [channel])
        async with delivering(pool, fast_senders(client)):
            [row, later] = await rows.settled([refused, next_one])
            await asyncio.sleep(0.5)  # time enough for a retry that must not come

    assert row["status"] == "FAILED" and row["attempts"] == 1
    assert row["reason"].startswith(f"Discord {status}: {reason}")
    assert [a["outcome"] for a in await rows.attempts(refused)] == ["FAILED"]
    # The webhook itself was refused: the next notification is not sent to it either.
    assert (later["status"], later["attempts"]) == ("FAILED", 0)
    assert later["reason"].startswith("not sent: the channel was refused by its service")
    assert f"Discord {status}" in later["reason"]
    assert discord.statuses == [status]
    assert discord.invalid_requests == 0


async def test_discord_bucket_headers_and_429_are_waited_out_in_order(
    pool: asyncpg.Pool, client: httpx.AsyncClient
) -> None:
    rows = Outbox(pool)
    async with FakeDiscordWebhooks(
        webhooks={WEBHOOK_ID: WEBHOOK_TOKEN}, bucket_limit=3, bucket_window_s=1.0
    ) as discord:
        channel = await rows.channel(ChannelKind.DISCORD, discord.webhook_url(WEBHOOK_ID))
        rule_id = await rows.rule()
        discord.fail_next(429, retry_after=0.5)
        ids = [(await rows.fire(rule_id, [channel]))[0] for _ in range(7)]
        async with delivering(pool, fast_senders(client)):
            settled = await rows.settled(ids)

    assert all(row["status"] == "DELIVERED" for row in settled)
    # X-RateLimit-Remaining: 0 holds the webhook until its bucket resets: never over it.
    assert discord.over_limit == 0
    assert discord.statuses == [429] + [200] * 7
    trades = [row["trade_id"] for row in settled]
    contents = discord.contents(WEBHOOK_ID)
    assert all(f"(trade {t})" in c for t, c in zip(trades, contents, strict=True))
    [first_try, delivered] = await rows.attempts(ids[0])
    assert first_try["outcome"] == "RETRY"
    assert first_try["detail"] == "Discord 429: You are being rate limited."
    assert (delivered["started_at"] - first_try["finished_at"]).total_seconds() >= 0.49


async def test_webhook_answer_lost_is_repeated_once_with_the_same_key_then_not_again(
    pool: asyncpg.Pool,
) -> None:
    rows = Outbox(pool)
    async with (
        WebhookSink(SECRET) as sink,
        httpx.AsyncClient(timeout=httpx.Timeout(0.3, connect=2.0)) as impatient,
    ):
        # Taken in, answered too late, twice in a row for the first notification; the
        # second one's first answer is late once.
        sink.delay_next(1.0, count=2)
        channel = await rows.channel(ChannelKind.WEBHOOK, sink.url, SECRET)
        other = await rows.channel(ChannelKind.WEBHOOK, sink.url, SECRET)
        rule_id = await rows.rule()
        [twice_lost] = await rows.fire(rule_id, [channel])
        async with delivering(pool, fast_senders(impatient)):
            [given_up] = await rows.settled([twice_lost])
            sink.delay_next(1.0)
            [once_lost] = await rows.fire(rule_id, [other])
            [repeated] = await rows.settled([once_lost])

    assert (given_up["status"], given_up["attempts"]) == ("FAILED", 2)
    assert given_up["reason"].startswith(UNKNOWN_TWICE)
    assert [a["outcome"] for a in await rows.attempts(twice_lost)] == ["UNKNOWN", "UNKNOWN"]
    assert (repeated["status"], repeated["possible_duplicate"]) == ("DELIVERED", True)
    assert [a["outcome"] for a in await rows.attempts(once_lost)] == ["UNKNOWN", "DELIVERED"]
    keys = [r.payload["idempotencyKey"] for r in sink.requests]
    assert keys == [given_up["idempotency_key"]] * 2 + [repeated["idempotency_key"]] * 2
    assert all(r.signature_ok for r in sink.requests)


async def test_smtp_4xx_is_retried_until_the_mail_is_accepted(
    pool: asyncpg.Pool, client: httpx.AsyncClient
) -> None:
    rows = Outbox(pool)
    with FakeSmtpServer() as smtp:
        smtp.reply_next("RCPT", "451 4.3.0 Try again later", count=2)
        channel = await rows.channel(ChannelKind.EMAIL, "ada@example.test")
        [notification] = await rows.fire(await rows.rule(), [channel])
        async with delivering(pool, fast_senders(client, smtp_port=smtp.port)):
            [row] = await rows.settled([notification])

    assert (row["status"], row["attempts"]) == ("DELIVERED", 3)
    assert len(smtp.mails) == 1
    outcomes = [(a["outcome"], a["detail"]) for a in await rows.attempts(notification)]
    assert outcomes[:2] == [("RETRY", "RCPT TO refused: 451 4.3.0 Try again later")] * 2
    assert outcomes[2] == ("DELIVERED", "")


async def test_smtp_5xx_fails_at_once_with_the_servers_reply(
    pool: asyncpg.Pool, client: httpx.AsyncClient
) -> None:
    rows = Outbox(pool)
    with FakeSmtpServer(unknown_recipients={"nobody@example.test"}) as smtp:
        channel = await rows.channel(ChannelKind.EMAIL, "nobody@example.test")
        [notification] = await rows.fire(await rows.rule(), [channel])
        async with delivering(pool, fast_senders(client, smtp_port=smtp.port)):
            [row] = await rows.settled([notification])

    assert (row["status"], row["attempts"]) == ("FAILED", 1)
    assert row["reason"] == "RCPT TO refused: 550 5.1.1 User unknown"
    assert smtp.mails == []


async def test_webhook_5xx_is_retried_with_backoff_and_holds_back_the_channels_next(
    pool: asyncpg.Pool, client: httpx.AsyncClient
) -> None:
    rows = Outbox(pool)
    async with WebhookSink(SECRET) as sink:
        sink.fail_next(503, count=2)
        channel = await rows.channel(ChannelKind.WEBHOOK, sink.url, SECRET)
        rule_id = await rows.rule()
        ids = [(await rows.fire(rule_id, [channel]))[0] for _ in range(3)]
        async with delivering(pool, fast_senders(client)):
            settled = await rows.settled(ids)

    keys = [row["idempotency_key"] for row in settled]
    assert [row["status"] for row in settled] == ["DELIVERED"] * 3
    # The first is retried; the others wait their turn behind it.
    assert [r.payload["idempotencyKey"] for r in sink.requests] == [keys[0]] * 3 + keys[1:]
    assert [r.status for r in sink.requests] == [503, 503, 200, 200, 200]
    assert len({r.body for r in sink.requests[:3]}) == 1
    attempts = await rows.attempts(ids[0])
    assert [a["outcome"] for a in attempts] == ["RETRY", "RETRY", "DELIVERED"]
    assert attempts[0]["detail"].startswith("webhook answered 503")
    # FAST backs off 0.1s, then 0.2s (no jitter).
    for earlier, later, delay in ((attempts[0], attempts[1], 0.1), (attempts[1], attempts[2], 0.2)):
        assert (later["started_at"] - earlier["finished_at"]).total_seconds() >= delay - 0.01


async def test_webhook_4xx_fails_without_retry(
    pool: asyncpg.Pool, client: httpx.AsyncClient
) -> None:
    rows = Outbox(pool)
    async with WebhookSink(SECRET) as sink:
        # Signed with another secret: the receiver answers 401.
        channel = await rows.channel(ChannelKind.WEBHOOK, sink.url, "not-the-secret")
        [notification] = await rows.fire(await rows.rule(), [channel])
        async with delivering(pool, fast_senders(client)):
            [row] = await rows.settled([notification])

    assert (row["status"], row["attempts"]) == ("FAILED", 1)
    assert row["reason"].startswith("webhook answered 401")
    assert len(sink.requests) == 1


async def test_deleted_channel_fails_its_notifications_without_sending(
    pool: asyncpg.Pool, client: httpx.AsyncClient
) -> None:
    rows = Outbox(pool)
    async with WebhookSink(SECRET) as sink:
        channel = await rows.channel(ChannelKind.WEBHOOK, sink.url, SECRET)
        [notification] = await rows.fire(await rows.rule(), [channel])
        await pool.execute("UPDATE alert_channels SET deleted_at = now() WHERE id = $1", channel)
        async with delivering(pool, fast_senders(client)):
            [row] = await rows.settled([notification])

    assert (row["status"], row["reason"], row["attempts"]) == (
        "FAILED",
        "the channel was deleted",
        0,
    )
    assert sink.requests == []


# Several workers, crashes and restarts.


async def test_two_workers_deliver_each_notification_once_in_order_per_channel(
    pool: asyncpg.Pool, client: httpx.AsyncClient
) -> None:
    rows = Outbox(pool)
    async with WebhookSink(SECRET) as first, WebhookSink(SECRET) as second:
        channels = [
            await rows.channel(ChannelKind.WEBHOOK, first.url, SECRET),
            await rows.channel(ChannelKind.WEBHOOK, second.url, SECRET),
        ]
        rule_id = await rows.rule()
        ids = [await rows.fire(rule_id, channels) for _ in range(10)]
        async with (
            delivering(pool, fast_senders(client)),
            delivering(pool, fast_senders(client)),
        ):
            settled = await rows.settled([i for pair in ids for i in pair])

    assert all(row["status"] == "DELIVERED" and row["attempts"] == 1 for row in settled)
    for sink, column in ((first, 0), (second, 1)):
        keys = [row["idempotency_key"] for row in settled[column::2]]
        assert [r.payload["idempotencyKey"] for r in sink.requests] == keys


async def test_send_left_mid_flight_is_repeated_once_flagged_then_never_again(
    pool: asyncpg.Pool, client: httpx.AsyncClient
) -> None:
    rows = Outbox(pool)
    async with WebhookSink(SECRET) as sink:
        first = await rows.channel(ChannelKind.WEBHOOK, sink.url, SECRET)
        second = await rows.channel(ChannelKind.WEBHOOK, sink.url, SECRET)
        rule_id = await rows.rule()
        [once] = await rows.fire(rule_id, [first])
        [twice] = await rows.fire(rule_id, [second])
        # As a worker that died leaves them: the claim committed, no answer recorded; the
        # second was already such a repeat.
        await pool.execute(
            """UPDATE alert_notifications SET attempts = 1, sending_since = now(),
                   possible_duplicate = (id = $1)""",
            twice,
        )
        await pool.execute(
            """INSERT INTO alert_delivery_attempts (notification_id, number, started_at, outcome)
               SELECT id, 1, now(), 'UNKNOWN' FROM alert_notifications"""
        )
        unknown_before = sample(DELIVERIES, kind="WEBHOOK", outcome="unknown")
        failed_before = sample(DELIVERIES, kind="WEBHOOK", outcome="failed")
        async with delivering(pool, fast_senders(client)):
            repeated, given_up = await rows.settled([once, twice])

    assert (repeated["status"], repeated["attempts"], repeated["possible_duplicate"]) == (
        "DELIVERED",
        2,
        True,
    )
    attempts = await rows.attempts(once)
    assert [(a["outcome"], a["detail"]) for a in attempts] == [
        ("UNKNOWN", ""),
        ("DELIVERED", "sent again after an unknown outcome"),
    ]
    assert attempts[0]["finished_at"] is None
    assert [r.payload["idempotencyKey"] for r in sink.requests] == [repeated["idempotency_key"]]
    assert (given_up["status"], given_up["reason"]) == ("FAILED", UNKNOWN_TWICE)
    assert [a["outcome"] for a in await rows.attempts(twice)] == ["UNKNOWN"]
    assert sample(DELIVERIES, kind="WEBHOOK", outcome="unknown") == unknown_before + 2
    assert sample(DELIVERIES, kind="WEBHOOK", outcome="failed") == failed_before + 1


@contextlib.contextmanager
def worker_process(dsn: str, telegram_url: str) -> Iterator[subprocess.Popen[str]]:
    config = {"dsn": dsn, "telegram_url": telegram_url, "smtp_port": 9, "retry_base_s": 0.1}
    process = subprocess.Popen(
        [sys.executable, str(WORKER_PROCESS), json.dumps(config)],
        cwd=Path(__file__).parents[2],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)
        if process.stdout is not None:
            process.stdout.close()


@pytest.mark.parametrize("successor", ["restarted", "already running"])
async def test_worker_killed_mid_batch_loses_nothing_and_repeats_at_most_once(
    pool: asyncpg.Pool, client: httpx.AsyncClient, database_url: str, successor: str
) -> None:
    rows = Outbox(pool)
    async with (
        FakeTelegramBotApi(tokens={TOKEN}, chats={CHAT_A}, delay_s=0.2) as telegram,
        WebhookSink(SECRET) as sink,
        contextlib.AsyncExitStack() as workers,
    ):
        hook = await rows.channel(ChannelKind.WEBHOOK, sink.url, SECRET)
        chat = await rows.channel(ChannelKind.TELEGRAM, CHAT_A, TOKEN)
        rule_id = await rows.rule()
        # The webhook takes its first notification in and answers too late: the worker is
        # killed while that send is out.
        sink.delay_next(3.0)
        ids = [await rows.fire(rule_id, [hook, chat]) for _ in range(4)]
        with worker_process(database_url, telegram.url) as process:

            async def mid_send() -> bool | None:
                return (len(sink.requests) == 1 and len(telegram.messages) >= 1) or None

            await eventually(mid_send, 30)
            if successor == "already running":
                # A second worker shares the outbox; it takes over when the first dies.
                await workers.enter_async_context(
                    delivering(pool, fast_senders(client, telegram.url))
                )
            process.send_signal(signal.SIGKILL)
            await asyncio.to_thread(process.wait, 10)

        if successor == "restarted":
            head = await rows.notification(ids[0][0])
            assert head["sending_since"] is not None and head["status"] == "PENDING"
            assert [a["outcome"] for a in await rows.attempts(ids[0][0])] == ["UNKNOWN"]
            await workers.enter_async_context(delivering(pool, fast_senders(client, telegram.url)))
        settled = await rows.settled([i for pair in ids for i in pair])

    assert all(row["status"] == "DELIVERED" for row in settled)
    hooks, chats = settled[0::2], settled[1::2]
    received = [r.payload["idempotencyKey"] for r in sink.requests]
    arrivals_are_once_or_flagged_twice(received, hooks)
    assert first_arrivals(received) == [row["idempotency_key"] for row in hooks]
    # The webhook's head was out when the worker died: repeated, with the same key.
    assert received[:2] == [hooks[0]["idempotency_key"]] * 2 and hooks[0]["possible_duplicate"]
    texts = telegram.texts(CHAT_A)
    by_trade = [
        next(row["trade_id"] for row in chats if f"(trade {row['trade_id']})" in t) for t in texts
    ]
    trade_keys = {row["trade_id"]: row["idempotency_key"] for row in chats}
    arrivals_are_once_or_flagged_twice([trade_keys[t] for t in by_trade], chats)
    assert first_arrivals(by_trade) == [row["trade_id"] for row in chats]


@pytest.fixture
def own_postgres(tmp_path: Path) -> Iterator[EmbeddedPostgres]:
    """A PostgreSQL server of this test's own, which it may stop and start."""
    server = start_postgres(tmp_path / "pg")
    try:
        yield server
    finally:
        server.delete()


async def test_postgres_restart_during_delivery_loses_nothing(
    own_postgres: EmbeddedPostgres, client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="services.alerts.delivery")
    dsn = own_postgres.dsn()
    conn = await asyncpg.connect(dsn)
    try:
        await migrate(conn)
    finally:
        await conn.close()
    pool = await asyncpg.create_pool(dsn, min_size=1, max_size=6)
    try:
        rows = Outbox(pool)
        async with WebhookSink(SECRET) as first, WebhookSink(SECRET) as second:
            first.delay_next(0.2, count=100)
            second.delay_next(0.2, count=100)
            channels = [
                await rows.channel(ChannelKind.WEBHOOK, first.url, SECRET),
                await rows.channel(ChannelKind.WEBHOOK, second.url, SECRET),
            ]
            rule_id = await rows.rule()
            ids = [await rows.fire(rule_id, channels) for _ in range(12)]
            async with delivering(pool, fast_senders(client)):

                async def under_way() -> bool | None:
                    return len(first.requests) >= 3 or None

                await eventually(under_way, 30)
                # The restart comes while work is left.
                assert len(first.requests) < 12
                await asyncio.to_thread(own_postgres.stop)
                await asyncio.sleep(1.0)
                restarted = await asyncio.to_thread(
                    start_postgres, own_postgres.pgdata, own_postgres.port
                )
                own_postgres.pid = restarted.pid
                settled = await rows.settled([i for pair in ids for i in pair], timeout_s=60)
    finally:
        pool.terminate()

    # Sends were out while PostgreSQL was down: their answers waited to be recorded.
    assert "cannot record the answer yet" in caplog.text
    assert all(row["status"] == "DELIVERED" for row in settled)
    for sink, column in ((first, 0), (second, 1)):
        expected = [row["idempotency_key"] for row in settled[column::2]]
        received = [r.payload["idempotencyKey"] for r in sink.requests]
        arrivals_are_once_or_flagged_twice(received, settled[column::2])
        assert first_arrivals(received) == expected
        assert all(r.signature_ok for r in sink.requests)
