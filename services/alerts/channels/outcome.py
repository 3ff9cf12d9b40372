"""What one send came to: delivered, to retry later, or failed for good.

A sender never raises for a refusal or a network fault: it answers one of these, and the
delivery worker records it as the attempt's status.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class ChannelKind(StrEnum):
    """The kinds of notification channel (GraphQL ``NotificationChannelInput.kind``)."""

    TELEGRAM = "TELEGRAM"
    DISCORD = "DISCORD"
    EMAIL = "EMAIL"
    WEBHOOK = "WEBHOOK"


@dataclass(frozen=True)
class Channel:
    """Where a notification goes: ``target`` is the chat id (Telegram), webhook URL
    (Discord, webhook) or address (email); ``secret`` the bot token (Telegram) or the
    webhook signing key. The secret (and a Discord URL, which holds a token) is masked in
    ``repr`` so it never reaches a log."""

    kind: ChannelKind
    target: str
    secret: str = ""

    def __repr__(self) -> str:
        target = "***" if self.kind is ChannelKind.DISCORD else self.target
        secret = "***" if self.secret else ""
        return f"Channel(kind={self.kind.value}, target={target!r}, secret={secret!r})"


@dataclass(frozen=True)
class Delivered:
    """The service accepted the message."""


@dataclass(frozen=True)
class Retry:
    """Send again, not before ``after_s`` seconds. ``maybe_delivered``: the request went
    out and its answer was lost (a timeout after sending), so the message may have arrived;
    a repeat carries the same idempotency key and is marked a possible duplicate."""

    after_s: float
    reason: str
    maybe_delivered: bool = False


@dataclass(frozen=True)
class Failed:
    """Do not send again. ``permanent``: the service refused the message itself (bad
    token, unknown chat, 5xx from SMTP, 4xx from a webhook); otherwise retries ran out.
    ``refuses_channel``: the refusal is of the channel, not of this message (a bad token, a
    deleted webhook, a bot blocked): later messages to it would be refused too, and Discord
    bans clients that keep sending such requests."""

    reason: str
    permanent: bool = True
    refuses_channel: bool = False


Outcome = Delivered | Retry | Failed
