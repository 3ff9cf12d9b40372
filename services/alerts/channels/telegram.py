"""Telegram: the Bot API's ``sendMessage`` (bot token as the channel's secret, chat id as
its target).

Telegram answers ``{"ok": true, "result": {...}}`` or ``{"ok": false, "error_code": N,
"description": "..."}``. Its rules: 429 carries ``parameters.retry_after`` (seconds) and
nothing may be sent to that chat before it has passed; 400 (bad chat, or a group that
became a supergroup: ``parameters.migrate_to_chat_id``), 401 (bad token), 403 (bot blocked
or kicked) and 404 (no such bot) are permanent; 5xx and network faults are retried with
backoff. Bots may send about one message per second to a chat and 30 per second overall:
the sender keeps to that itself (:func:`~services.alerts.channels.rate_limit.telegram_limiter`).
"""

from __future__ import annotations

import random

import httpx

from services.alerts.channels import message
from services.alerts.channels.http import json_object, network_fault, short
from services.alerts.channels.outcome import Channel, Delivered, Failed, Outcome, Retry
from services.alerts.channels.rate_limit import RateLimiter, telegram_limiter
from services.alerts.channels.retry_policy import RetryPolicy, backoff
from services.common.clock import Clock, SystemClock

TELEGRAM_API_URL = "https://api.telegram.org"
# No such bot (401 bad token, 404 malformed token), bot blocked or kicked (403).
_CHANNEL_REFUSED = frozenset({401, 403, 404})


class TelegramSender:
    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        api_url: str = TELEGRAM_API_URL,
        policy: RetryPolicy | None = None,
        limiter: RateLimiter | None = None,
        clock: Clock | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self._client = client
        self._api_url = api_url.rstrip("/")
        self._policy = policy or RetryPolicy()
        self._limiter = limiter or telegram_limiter()
        self._clock = clock or SystemClock()
        self._rng = rng

    def wait_s(self, channel: Channel) -> float:
        """Seconds before this chat may be sent to (Telegram's limits and any 429)."""
        return self._limiter.wait_s(channel.target, self._clock.time())

    async def send(self, channel: Channel, notice: message.Notice, attempt: int) -> Outcome:
        wait = self.wait_s(channel)
        if wait > 0:
            return Retry(wait, "rate limit: waiting for this chat's turn")
        url = f"{self._api_url}/bot{channel.secret}/sendMessage"
        body = {
            "chat_id": channel.target,
            "text": message.text(notice, message.TELEGRAM_MAX_CHARS),
            "disable_web_page_preview": True,
        }
        self._limiter.record(channel.target, self._clock.time())
        try:
            response = await self._client.post(url, json=body)
        except (httpx.HTTPError, httpx.InvalidURL) as error:
            return network_fault(error, self._policy, attempt, self._rng)
        finally:
            self._limiter.answered(channel.target, self._clock.time())
        return self._outcome(channel, response, attempt)

    def _outcome(self, channel: Channel, response: httpx.Response, attempt: int) -> Outcome:
        answer = json_object(response)
        status = response.status_code
        if status == 200 and answer.get("ok") is True:
            return Delivered()
        described = f"Telegram {status}: {answer.get('description') or short(response.text)}"
        parameters = answer.get("parameters") or {}
        if status == 429:
            given = parameters.get("retry_after")
            retry_after = float(given) if isinstance(given, int | float) else self._policy.base_s
            self._limiter.pause(channel.target, self._clock.time() + retry_after)
            return Retry(retry_after, described)
        if status >= 500:
            return backoff(self._policy, attempt, described, rng=self._rng)
        refuses_channel = status in _CHANNEL_REFUSED
        if "migrate_to_chat_id" in parameters:
            described += f" (the chat is now {parameters['migrate_to_chat_id']})"
            refuses_channel = True
        return Failed(described, refuses_channel=refuses_channel)
