"""Discord: execute a webhook (the channel's target is the webhook URL, token included).

Discord's rules: every answer carries ``X-RateLimit-Remaining`` and
``X-RateLimit-Reset-After`` for the webhook's bucket — at 0 remaining nothing more goes to it
until the reset; a 429 carries ``{"message", "retry_after" (seconds), "global"}`` and, when
``global``, holds every webhook. 401, 403 and 404 (``Unknown Webhook``) are never retried:
Discord bans clients that keep sending invalid requests. Other 4xx are permanent too; 5xx
and network faults are retried with backoff. ``?wait=true`` makes Discord answer 200 with
the message only once it is posted.
"""

from __future__ import annotations

import random

import httpx

from services.alerts.channels import message
from services.alerts.channels.http import json_object, network_fault, short
from services.alerts.channels.outcome import Channel, Delivered, Failed, Outcome, Retry
from services.alerts.channels.rate_limit import RateLimiter
from services.alerts.channels.retry_policy import RetryPolicy, backoff, retry_after_seconds
from services.common.clock import Clock, SystemClock

# Bad token, missing permissions, unknown webhook: every later message would be refused.
_CHANNEL_REFUSED = frozenset({401, 403, 404})


class DiscordSender:
    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        policy: RetryPolicy | None = None,
        limiter: RateLimiter | None = None,
        clock: Clock | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self._client = client
        self._policy = policy or RetryPolicy()
        self._limiter = limiter or RateLimiter()
        self._clock = clock or SystemClock()
        self._rng = rng

    def wait_s(self, channel: Channel) -> float:
        """Seconds before this webhook's bucket has room again."""
        return self._limiter.wait_s(channel.target, self._clock.time())

    async def send(self, channel: Channel, notice: message.Notice, attempt: int) -> Outcome:
        wait = self.wait_s(channel)
        if wait > 0:
            return Retry(wait, "rate limit: waiting for the webhook's bucket to reset")
        body = {
            "content": message.text(notice, message.DISCORD_MAX_CHARS),
            # A condition never pings anyone.
            "allowed_mentions": {"parse": []},
        }
        self._limiter.record(channel.target, self._clock.time())
        try:
            response = await self._client.post(channel.target, params={"wait": "true"}, json=body)
        except (httpx.HTTPError, httpx.InvalidURL) as error:
            return network_fault(error, self._policy, attempt, self._rng)
        self._follow_bucket(channel, response)
        return self._outcome(channel, response, attempt)

    def _follow_bucket(self, channel: Channel, response: httpx.Response) -> None:
        if response.headers.get("X-RateLimit-Remaining") != "0":
            return
        reset_after = retry_after_seconds(response.headers.get("X-RateLimit-Reset-After"))
        if reset_after is not None:
            self._limiter.pause(channel.target, self._clock.time() + reset_after)

    def _outcome(self, channel: Channel, response: httpx.Response, attempt: int) -> Outcome:
        status = response.status_code
        if 200 <= status < 300:
            return Delivered()
        answer = json_object(response)
        described = f"Discord {status}: {answer.get('message') or short(response.text)}"
        if "code" in answer:
            described += f" (code {answer['code']})"
        if status == 429:
            retry_after = answer.get("retry_after")
            if not isinstance(retry_after, int | float):
                retry_after = retry_after_seconds(response.headers.get("Retry-After"))
            wait = float(retry_after) if retry_after is not None else self._policy.base_s
            scope = None if answer.get("global") is True else channel.target
            self._limiter.pause(scope, self._clock.time() + wait)
            return Retry(wait, described)
        if status >= 500:
            return backoff(self._policy, attempt, described, rng=self._rng)
        return Failed(described, refuses_channel=status in _CHANNEL_REFUSED)
