"""What the HTTP senders share: one timeout, and network faults as outcomes.

A fault before the request left (no connection, no free connection in the pool) cannot have
delivered anything; any later one (a read timeout, a dropped connection) may have — the
service may have acted on a request whose answer we never read — so its retry is flagged
``maybe_delivered``.
"""

from __future__ import annotations

import random
from typing import Any

import httpx

from services.alerts.channels.outcome import Failed, Retry
from services.alerts.channels.retry_policy import RetryPolicy, backoff

# Seconds: connect fast or not at all; give the service a while to answer.
DEFAULT_TIMEOUT = httpx.Timeout(10.0, connect=5.0)

_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


def network_fault(
    error: httpx.HTTPError | httpx.InvalidURL,
    policy: RetryPolicy,
    attempt: int,
    rng: random.Random | None = None,
) -> Retry | Failed:
    """The outcome of an httpx error. Its text never carries the URL (a Telegram or
    Discord URL holds a token)."""
    if isinstance(error, httpx.UnsupportedProtocol | httpx.InvalidURL):
        return Failed(f"bad URL: {type(error).__name__}")
    sent = not isinstance(error, _NOT_SENT)
    what = "no answer" if isinstance(error, httpx.TimeoutException) else "connection lost"
    if not sent:
        what = "could not connect"
    reason = f"{what} ({type(error).__name__})"
    return backoff(policy, attempt, reason, maybe_delivered=sent, rng=rng)


def short(body: str, limit: int = 200) -> str:
    """A response body fit for a failure reason."""
    one_line = " ".join(body.split())
    return one_line if len(one_line) <= limit else one_line[: limit - 1] + "…"


def json_object(response: httpx.Response) -> dict[str, Any]:
    """The response's JSON object, or ``{}`` when it is not one (a proxy's HTML 502)."""
    try:
        answer = response.json()
    except ValueError:
        return {}
    return answer if isinstance(answer, dict) else {}
