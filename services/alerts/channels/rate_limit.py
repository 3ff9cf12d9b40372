"""How fast a channel may send, as pure bookkeeping over times given by the caller.

Three rules, each optional: a minimum spacing between sends to one target (Telegram: about
one message per second per chat), a global rate over a sliding window (Telegram: 30
messages per second per bot), and pauses a service asked for (a 429's ``retry_after``;
Discord's ``X-RateLimit-Remaining: 0`` with ``X-RateLimit-Reset-After``), per target or
for everything.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field


@dataclass
class RateLimiter:
    per_target_interval_s: float = 0.0
    global_limit: int | None = None
    global_window_s: float = 1.0
    _last_send: dict[str, float] = field(default_factory=dict)
    _recent: deque[float] = field(default_factory=deque)
    _paused_until: dict[str, float] = field(default_factory=dict)
    _all_paused_until: float = 0.0

    def wait_s(self, target: str, now: float) -> float:
        """Seconds before a send to ``target`` may go (0: now)."""
        ready = max(self._all_paused_until, self._paused_until.get(target, 0.0))
        last = self._last_send.get(target)
        if last is not None:
            ready = max(ready, last + self.per_target_interval_s)
        if self.global_limit is not None:
            self._forget(now)
            if len(self._recent) >= self.global_limit:
                # The window frees a slot when its oldest send leaves it.
                oldest = self._recent[-self.global_limit]
                ready = max(ready, oldest + self.global_window_s)
        return max(0.0, ready - now)

    def record(self, target: str, now: float) -> None:
        """A send to ``target`` went out at ``now``."""
        self._last_send[target] = now
        if self.global_limit is not None:
            self._recent.append(now)
            self._forget(now)

    def answered(self, target: str, now: float) -> None:
        """The service answered a send to ``target`` at ``now``. It may have taken the
        message in at any moment until then, so the spacing counts from here."""
        self._last_send[target] = max(self._last_send.get(target, now), now)

    def pause(self, target: str | None, until: float) -> None:
        """No send to ``target`` (``None``: to anyone) before ``until``."""
        if target is None:
            self._all_paused_until = max(self._all_paused_until, until)
        else:
            self._paused_until[target] = max(self._paused_until.get(target, 0.0), until)

    def _forget(self, now: float) -> None:
        while self._recent and self._recent[0] <= now - self.global_window_s:
            self._recent.popleft()


def telegram_limiter() -> RateLimiter:
    """Telegram's published bot limits: ~1 message/s per chat, 30 messages/s overall."""
    return RateLimiter(per_target_interval_s=1.0, global_limit=30, global_window_s=1.0)
