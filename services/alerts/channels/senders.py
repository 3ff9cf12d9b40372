"""One sender per channel kind, behind one interface the delivery worker calls."""

from __future__ import annotations

from typing import Protocol

import httpx

from services.alerts.channels.discord import DiscordSender
from services.alerts.channels.email import EmailSender, SmtpServer
from services.alerts.channels.message import Notice
from services.alerts.channels.outcome import Channel, ChannelKind, Outcome
from services.alerts.channels.retry_policy import RetryPolicy
from services.alerts.channels.telegram import TELEGRAM_API_URL, TelegramSender
from services.alerts.channels.webhook import WebhookSender


class Sender(Protocol):
    def wait_s(self, channel: Channel) -> float:
        """Seconds before ``channel`` may be sent to; ``send`` answers Retry until then."""
        ...

    async def send(self, channel: Channel, notice: Notice, attempt: int) -> Outcome:
        """Send ``notice`` once (``attempt`` counts from 1); never raises for a refusal
        or a network fault."""
        ...


def senders(
    client: httpx.AsyncClient,
    smtp: SmtpServer,
    *,
    telegram_api_url: str = TELEGRAM_API_URL,
    policy: RetryPolicy | None = None,
) -> dict[ChannelKind, Sender]:
    """The sender of each kind, sharing one HTTP client and one retry policy."""
    return {
        ChannelKind.TELEGRAM: TelegramSender(client, api_url=telegram_api_url, policy=policy),
        ChannelKind.DISCORD: DiscordSender(client, policy=policy),
        ChannelKind.EMAIL: EmailSender(smtp, policy=policy),
        ChannelKind.WEBHOOK: WebhookSender(client, policy=policy),
    }
