"""When to try a failed send again: exponential backoff with jitter and a cap.

Attempt ``n`` (1 = the first send) failed → wait ``min(cap, base × factor^(n-1))``, less
up to ``jitter`` of it at random, so many notifications failing together do not retry in
lockstep. After ``max_attempts`` sends the policy gives up (``None``). Rate-limit answers
(429 with a ``retry_after``) are not failures and are not counted here: the service said
when to come back.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from services.alerts.channels.outcome import Failed, Retry


@dataclass(frozen=True)
class RetryPolicy:
    base_s: float = 1.0
    factor: float = 2.0
    cap_s: float = 300.0
    # Fraction of each delay that is random: 0 → exact, 1 → anywhere in (0, delay].
    jitter: float = 0.5
    max_attempts: int = 10

    def __post_init__(self) -> None:
        if self.base_s <= 0 or self.factor < 1 or self.cap_s < self.base_s:
            raise ValueError(
                f"RetryPolicy needs base_s > 0, factor ≥ 1, cap_s ≥ base_s; got "
                f"base_s={self.base_s}, factor={self.factor}, cap_s={self.cap_s}"
            )
        if not 0 <= self.jitter <= 1:
            raise ValueError(f"RetryPolicy.jitter must be in [0, 1]; got {self.jitter}")
        if self.max_attempts < 1:
            raise ValueError(f"RetryPolicy.max_attempts must be ≥ 1; got {self.max_attempts}")

    def ceiling_s(self, attempt: int) -> float:
        """The delay after failed attempt ``attempt`` before jitter."""
        if attempt < 1:
            raise ValueError(f"attempt counts from 1; got {attempt}")
        # Exponent bounded so huge attempt numbers cannot overflow a float.
        return min(self.cap_s, self.base_s * self.factor ** min(attempt - 1, 64))

    def delay_s(self, attempt: int, rng: random.Random | None = None) -> float | None:
        """Seconds to wait after failed attempt ``attempt``, or ``None``: give up."""
        if attempt >= self.max_attempts:
            return None
        ceiling = self.ceiling_s(attempt)
        draw = (rng or random).random()
        return ceiling * (1 - self.jitter * draw)


def retry_after_seconds(header: str | None) -> float | None:
    """An HTTP ``Retry-After`` in seconds (the delta-seconds form; dates are not used by
    the services we call), or ``None`` when absent or unreadable."""
    if header is None:
        return None
    try:
        seconds = float(header.strip())
    except ValueError:
        return None
    return seconds if seconds >= 0 else None


def backoff(
    policy: RetryPolicy,
    attempt: int,
    reason: str,
    *,
    maybe_delivered: bool = False,
    rng: random.Random | None = None,
) -> Retry | Failed:
    """The outcome of failed attempt ``attempt``: retry after the policy's delay, or —
    once attempts run out — a non-permanent failure that says how many were made."""
    delay = policy.delay_s(attempt, rng)
    if delay is None:
        return Failed(f"gave up after {attempt} attempts: {reason}", permanent=False)
    return Retry(delay, reason, maybe_delivered=maybe_delivered)
