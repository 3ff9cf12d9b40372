"""A delivery worker in a process of its own, for tests that SIGKILL it mid-send.

``python -m tests.integration.delivery_worker_process '<json>'`` with ``dsn``,
``telegram_url``, ``smtp_port`` and ``retry_base_s``; runs until SIGTERM (or SIGKILL)."""

from __future__ import annotations

import asyncio
import json
import logging
import signal
import sys

import asyncpg
import httpx

from services.alerts.channels.discord import DiscordSender
from services.alerts.channels.email import EmailSender, SmtpServer
from services.alerts.channels.outcome import ChannelKind
from services.alerts.channels.retry_policy import RetryPolicy
from services.alerts.channels.senders import Sender
from services.alerts.channels.telegram import TelegramSender
from services.alerts.channels.webhook import WebhookSender
from services.alerts.delivery import DeliverySettings, DeliveryWorker


async def main(config: dict[str, object]) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    policy = RetryPolicy(base_s=float(str(config["retry_base_s"])), jitter=0.0, cap_s=5.0)
    pool = await asyncpg.create_pool(str(config["dsn"]), min_size=1, max_size=4)
    async with httpx.AsyncClient(timeout=httpx.Timeout(10.0, connect=2.0)) as client:
        senders: dict[ChannelKind, Sender] = {
            ChannelKind.TELEGRAM: TelegramSender(
                client, api_url=str(config["telegram_url"]), policy=policy
            ),
            ChannelKind.DISCORD: DiscordSender(client, policy=policy),
            ChannelKind.EMAIL: EmailSender(
                SmtpServer("127.0.0.1", int(str(config["smtp_port"]))), policy=policy
            ),
            ChannelKind.WEBHOOK: WebhookSender(client, policy=policy),
        }
        worker = DeliveryWorker(pool, senders, DeliverySettings(poll_s=0.2))
        print("ready", flush=True)
        await worker.run(stop)
    await pool.close()


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, stream=sys.stderr)
    asyncio.run(main(json.loads(sys.argv[1])))
