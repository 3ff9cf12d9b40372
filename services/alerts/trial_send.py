"""sendTestNotification: one message through a channel now, with the channel's own retry
rules (Telegram's and Discord's 429 waits, 5xx backoff), until it is delivered, fails for
good, or the time given runs out."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass

from services.alerts.channels.message import Notice
from services.alerts.channels.outcome import Channel, ChannelKind, Delivered, Failed, Retry
from services.alerts.channels.senders import Sender

# Without a deadline from the caller, a test send gives up after this long.
DEFAULT_BUDGET_S = 20.0


@dataclass(frozen=True)
class TrialResult:
    delivered: bool
    reason: str
    attempts: int


def trial_notice(channel_name: str, now_ms: int) -> Notice:
    return Notice(
        idempotency_key=f"test:{uuid.uuid4()}",
        rule_id="test",
        symbol="TEST",
        condition=f"test notification to {channel_name!r} from QuantFlow",
        price="0",
        time_ms=now_ms,
    )


async def send_trial(
    senders: Mapping[ChannelKind, Sender], channel: Channel, notice: Notice, budget_s: float
) -> TrialResult:
    sender = senders[channel.kind]
    deadline = time.monotonic() + budget_s
    attempt, reason = 0, ""
    while True:
        wait = sender.wait_s(channel)
        if wait > 0:
            if time.monotonic() + wait > deadline:
                return TrialResult(False, reason or f"rate limited for {wait:.1f}s", attempt)
            await asyncio.sleep(wait)
        attempt += 1
        outcome = await sender.send(channel, notice, attempt)
        if isinstance(outcome, Delivered):
            return TrialResult(True, "", attempt)
        if isinstance(outcome, Failed):
            return TrialResult(False, outcome.reason, attempt)
        assert isinstance(outcome, Retry)
        reason = outcome.reason
        if time.monotonic() + outcome.after_s > deadline:
            return TrialResult(False, f"{reason} (gave up: no time left to retry)", attempt)
        await asyncio.sleep(outcome.after_s)
