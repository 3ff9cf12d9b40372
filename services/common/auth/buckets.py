"""Per-client token buckets: each request spends its query cost; a bucket refills at a
steady rate up to its burst size. Pure: the caller passes the time."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass


@dataclass
class TokenBucket:
    capacity: float
    refill_per_s: float
    tokens: float
    updated: float

    def take(self, cost: float, now: float) -> float:
        """Spend ``cost`` and answer 0, or spend nothing and answer the seconds until
        ``cost`` is available. A cost above the capacity is charged as the capacity, so
        the largest allowed query can always run on a full bucket."""
        elapsed = max(0.0, now - self.updated)
        self.tokens = min(self.capacity, self.tokens + elapsed * self.refill_per_s)
        self.updated = now
        cost = min(cost, self.capacity)
        if cost <= self.tokens:
            self.tokens -= cost
            return 0.0
        return (cost - self.tokens) / self.refill_per_s


class RateLimiter:
    """A bucket per client (user or API key), the least recently seen forgotten beyond
    ``max_clients`` (a forgotten client starts again with a full bucket)."""

    def __init__(self, capacity: float, refill_per_s: float, max_clients: int = 10_000) -> None:
        if capacity <= 0 or refill_per_s <= 0:
            raise ValueError("a rate limit needs a positive burst and refill rate")
        self.capacity = capacity
        self.refill_per_s = refill_per_s
        self._max_clients = max_clients
        self._buckets: OrderedDict[str, TokenBucket] = OrderedDict()

    def take(self, client: str, cost: float, now: float) -> float:
        """0 when ``client`` may spend ``cost`` now, else the seconds to wait."""
        bucket = self._buckets.get(client)
        if bucket is None:
            bucket = TokenBucket(self.capacity, self.refill_per_s, self.capacity, now)
            self._buckets[client] = bucket
            while len(self._buckets) > self._max_clients:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(client)
        return bucket.take(cost, now)
