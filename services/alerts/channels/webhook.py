"""Webhooks: POST the firing as JSON to the channel's URL, signed with its secret.

Headers: ``Content-Type: application/json``, ``X-QuantFlow-Signature: sha256=<hex>``
(:mod:`~services.alerts.channels.signature`) and ``Idempotency-Key``, which is also the
body's ``idempotencyKey``: the same on every retry of one notification, so a receiver can
drop a repeat. Any 2xx delivers; 5xx, 408, 429 (after its ``Retry-After``) and network
faults are retried with backoff; other statuses (4xx, and 3xx: a signed POST is not
re-sent elsewhere) are permanent.
"""

from __future__ import annotations

import random

import httpx

from services.alerts.channels import message
from services.alerts.channels.http import network_fault, short
from services.alerts.channels.outcome import Channel, Delivered, Failed, Outcome, Retry
from services.alerts.channels.retry_policy import RetryPolicy, backoff, retry_after_seconds
from services.alerts.channels.signature import IDEMPOTENCY_HEADER, SIGNATURE_HEADER, sign

_RETRIED_4XX = frozenset({408, 429})


class WebhookSender:
    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        policy: RetryPolicy | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self._client = client
        self._policy = policy or RetryPolicy()
        self._rng = rng

    def wait_s(self, channel: Channel) -> float:
        """Webhooks have no rate limit of their own."""
        return 0.0

    async def send(self, channel: Channel, notice: message.Notice, attempt: int) -> Outcome:
        body = message.webhook_body(notice)
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: sign(body, channel.secret),
            IDEMPOTENCY_HEADER: notice.idempotency_key,
        }
        try:
            response = await self._client.post(channel.target, content=body, headers=headers)
        except (httpx.HTTPError, httpx.InvalidURL) as error:
            return network_fault(error, self._policy, attempt, self._rng)
        status = response.status_code
        if 200 <= status < 300:
            return Delivered()
        answer = short(response.text)
        described = (
            f"webhook answered {status}: {answer}" if answer else f"webhook answered {status}"
        )
        if status == 429:
            retry_after = retry_after_seconds(response.headers.get("Retry-After"))
            if retry_after is not None:
                return Retry(retry_after, described)
        if status >= 500 or status in _RETRIED_4XX:
            return backoff(self._policy, attempt, described, rng=self._rng)
        return Failed(described)
